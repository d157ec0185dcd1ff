// Package dvrip audits Dahua DVRIP logins (port 37777): a challenge
// request, then the log-in with the realm/random MD5 digests of the
// password, judged by the result code of the device's answer (00 08
// accepted; 01 00 wrong password and 01 01 unknown user refused; 01 04
// locked, throttled). Nothing else is sent: no configuration query, no
// command. Every attempt is a fresh connection. The codec, and the public
// source it follows, are in internal/wire/dvrip (login.go).
package dvrip

import (
	"context"
	"fmt"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/dvrip"
)

// Module is the DVRIP login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoDVRIP} }

// Open implements login.Module.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return login.Func(func(ctx context.Context, c login.Credential) login.Result { return try(ctx, t, c) }), nil
}

func try(ctx context.Context, t login.Target, c login.Credential) login.Result {
	_, conn, err := t.Attempt(ctx, "tcp", 2*dvrip.MaxData)
	if err != nil {
		return login.Fail(fmt.Errorf("dvrip dial %s: %w", t.Addr, err))
	}
	defer conn.Close()
	if _, err := conn.Write(dvrip.ChallengeRequest()); err != nil {
		return login.Fail(fmt.Errorf("dvrip write %s: %w", t.Addr, err))
	}
	_, data, err := dvrip.ReadMessage(conn, dvrip.CmdReply)
	if err != nil {
		return login.Fail(fmt.Errorf("dvrip challenge %s: %w", t.Addr, err))
	}
	ch, err := dvrip.ParseChallenge(data)
	if err != nil {
		return login.Fail(fmt.Errorf("dvrip challenge %s: %w", t.Addr, err))
	}
	if _, err := conn.Write(dvrip.LoginRequest(c.Username, c.Password, ch)); err != nil {
		return login.Fail(fmt.Errorf("dvrip write %s: %w", t.Addr, err))
	}
	h, _, err := dvrip.ReadMessage(conn, dvrip.CmdReply)
	if err != nil {
		return login.Fail(fmt.Errorf("dvrip login %s: %w", t.Addr, err))
	}
	rep, err := dvrip.ParseLoginReply(h)
	if err != nil {
		return login.Fail(fmt.Errorf("dvrip login %s: %w", t.Addr, err))
	}
	evidence := fmt.Sprintf("DVRIP login %s (%s)", dvrip.ResultText(rep.Code), login.Truncate(ch.Realm, 80))
	switch rep.Code {
	case dvrip.ResultOK:
		return login.Accepted(fmt.Sprintf("%s, session %#x", evidence, rep.Session))
	case dvrip.ResultBadPassword, dvrip.ResultNoSuchUser:
		return login.Denied(evidence)
	case dvrip.ResultLocked:
		res := login.Denied(evidence)
		res.Throttled = true
		return res
	}
	return login.Result{Status: model.StatusProtocolError, Evidence: evidence,
		Err: fmt.Errorf("dvrip %s: %s: %w", t.Addr, dvrip.ResultText(rep.Code), login.ErrProtocol)}
}
