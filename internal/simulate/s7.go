package simulate

import (
	"net"
	"strconv"
	"strings"

	"iotwatch/internal/wire/s7"
)

// serveS7 answers S7comm as a Siemens CPU does to a client that only
// identifies it: COTP connection confirm, setup acknowledgement, and the
// SZL 0x0011 and 0x001c lists (order number from the banner, firmware from
// the profile's "V4.5.2", module type from the model, serial number);
// anything else ends the connection. The codec is the prober's.
func serveS7(c net.Conn, s *deviceService) {
	for {
		p, err := s7.ReadFrame(c)
		if err != nil {
			return
		}
		r, err := s7.ParseRequest(p)
		if err != nil {
			return
		}
		var out []byte
		switch {
		case r.Connect:
			out = s7.ConnectConfirm()
		case r.Setup:
			out = s7.SetupAck(r.Ref)
		case r.SZL == s7.SZLModuleID:
			var v [3]byte
			for i, part := range strings.SplitN(strings.TrimPrefix(s.dev.prof.Firmware, "V"), ".", 3) {
				n, _ := strconv.Atoi(part)
				v[i] = byte(n)
			}
			order := s.banner()
			out = s7.SZLAnswer(r.Ref, r.SZL, 28, [][]byte{
				s7.ModuleRecord(1, order, [6]byte{0, 0, 0, 0, 0, 1}),
				s7.ModuleRecord(6, order, [6]byte{0, 0, 0, 0, 0, 1}),
				s7.ModuleRecord(7, "", [6]byte{0, 0, 'V', v[0], v[1], v[2]}),
			})
		case r.SZL == s7.SZLComponentID:
			out = s7.SZLAnswer(r.Ref, r.SZL, 34, [][]byte{
				s7.ComponentRecord(1, "S71500/ET200MP station_1"),
				s7.ComponentRecord(2, "PLC_1"),
				s7.ComponentRecord(3, ""),
				s7.ComponentRecord(4, "Original Siemens Equipment"),
				s7.ComponentRecord(5, s.dev.serial),
				s7.ComponentRecord(7, s.dev.prof.Model),
			})
		default:
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
