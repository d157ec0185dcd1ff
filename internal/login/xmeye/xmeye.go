// Package xmeye audits XMeye/NetSurveillance logins (port 34567): LOGIN_REQ
// with the Sofia hash of the password, judged by the reply's return code
// (100 accepted; 203 wrong password, 205 no such user refused). After an
// accepted login it reads SystemInfo (serial number, hardware, firmware), a
// read-only request, for the evidence. Every attempt is a fresh connection.
package xmeye

import (
	"context"
	"fmt"
	"io"
	"strings"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/xmeye"
)

// Module is the XMeye login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoXMeye} }

// Open implements login.Module.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return login.Func(func(ctx context.Context, c login.Credential) login.Result { return try(ctx, t, c) }), nil
}

func try(ctx context.Context, t login.Target, c login.Credential) login.Result {
	_, conn, err := t.Attempt(ctx, "tcp", 2*xmeye.MaxPayload)
	if err != nil {
		return login.Fail(fmt.Errorf("xmeye dial %s: %w", t.Addr, err))
	}
	defer conn.Close()
	if _, err := conn.Write(xmeye.LoginRequest(0, c.Username, c.Password)); err != nil {
		return login.Fail(fmt.Errorf("xmeye write %s: %w", t.Addr, err))
	}
	m, err := xmeye.Read(conn)
	if err != nil {
		return login.Fail(fmt.Errorf("xmeye read %s: %w", t.Addr, err))
	}
	reply, err := xmeye.ParseReply(m.Payload)
	if err != nil || m.ID != xmeye.LoginRsp {
		return login.Fail(fmt.Errorf("xmeye %s: message %d: %w", t.Addr, m.ID, login.ErrProtocol))
	}
	evidence := fmt.Sprintf("LOGIN_RSP Ret %d (%s)", reply.Ret, xmeye.RetText(reply.Ret))
	switch reply.Ret {
	case xmeye.RetOK, xmeye.RetAlreadyLogin:
		return login.Accepted(evidence + sysInfo(conn, reply.SessionID()))
	case xmeye.RetBadPassword, xmeye.RetNoSuchUser:
		return login.Denied(evidence)
	case xmeye.RetLocked, xmeye.RetBlacklisted:
		res := login.Denied(evidence)
		res.Throttled = true
		return res
	}
	return login.Result{Status: model.StatusProtocolError, Evidence: evidence,
		Err: fmt.Errorf("xmeye %s: return code %d: %w", t.Addr, reply.Ret, login.ErrProtocol)}
}

// sysInfo reads SystemInfo in the session for the evidence ("" when the
// device does not say).
func sysInfo(conn io.ReadWriter, session uint32) string {
	if _, err := conn.Write(xmeye.SysInfoRequest(session, 1)); err != nil {
		return ""
	}
	m, err := xmeye.Read(conn)
	if err != nil || m.ID != xmeye.SysInfoRsp {
		return ""
	}
	reply, err := xmeye.ParseReply(m.Payload)
	if err != nil || reply.Ret != xmeye.RetOK {
		return ""
	}
	si := reply.Object("SystemInfo")
	var parts []string
	for _, k := range []string{"HardWare", "SoftWareVersion", "BuildTime", "SerialNo"} {
		if v := si.String(k); v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; SystemInfo " + login.Truncate(strings.Join(parts, " "), 300)
}
