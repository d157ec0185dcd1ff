package simulate

import (
	"encoding/json"
	"net"

	"iotwatch/internal/wire/xmeye"
)

// serveXMeye answers XMeye/NetSurveillance (port 34567) as a Xiongmai DVR:
// LOGIN_REQ with the Sofia hash of the accepted password succeeds (Ret 100,
// a session id, the channel count and device type), a wrong password gets
// 203 and an unknown user 205; in a session, SYSINFO_REQ for SystemInfo
// returns the serial number, board and firmware. Anything else ends the
// connection. The codec is the prober's.
func serveXMeye(c net.Conn, s *deviceService) {
	var session uint32
	for {
		m, err := xmeye.Read(c)
		if err != nil {
			return
		}
		var body any
		id := m.ID + 1
		switch m.ID {
		case xmeye.LoginReq:
			l, err := xmeye.ParseLogin(m.Payload)
			if err != nil {
				return
			}
			switch {
			case l.UserName != s.cred.Username:
				body = map[string]any{"Ret": xmeye.RetNoSuchUser, "SessionID": xmeye.FormatSession(0)}
			case l.PassWord != xmeye.SofiaHash(s.cred.Password):
				body = map[string]any{"Ret": xmeye.RetBadPassword, "SessionID": xmeye.FormatSession(0)}
			default:
				session = 0x0b + uint32(s.dev.addr.As4()[3])
				body = map[string]any{"AliveInterval": 21, "ChannelNum": 8, "DeviceType ": "DVR", "ExtraChannel": 0,
					"Ret": xmeye.RetOK, "SessionID": xmeye.FormatSession(session)}
			}
		case xmeye.SysInfoReq:
			if session == 0 || m.Session != session {
				body = map[string]any{"Name": "SystemInfo", "Ret": xmeye.RetNotLoggedIn, "SessionID": xmeye.FormatSession(m.Session)}
				break
			}
			p := s.dev.prof
			body = map[string]any{"Name": "SystemInfo", "Ret": xmeye.RetOK, "SessionID": xmeye.FormatSession(session),
				"SystemInfo": map[string]any{"BuildTime": "2019-04-13 10:31:05", "HardWare": p.Model,
					"SerialNo": s.dev.serial, "SoftWareVersion": p.Firmware, "VideoInChannel": 8}}
		default:
			return
		}
		payload, _ := json.Marshal(body)
		if _, err := c.Write(xmeye.Message{Session: session, Seq: m.Seq, ID: id, Payload: payload}.Encode()); err != nil {
			return
		}
	}
}
