// Package mqtt audits MQTT broker logins: CONNECT with a user name and
// password (or none, for anonymous access) and the CONNACK return code
// (0 = accepted) as the verdict. MQTT 3.1.1 first; brokers that refuse the
// protocol level are retried with MQTT 3.1 ("MQIsdp").
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
	wiremqtt "iotwatch/internal/wire/mqtt"
)

// Module is the MQTT login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoMQTT, model.ProtoMQTTS} }

// Open implements login.Module. Every attempt is a fresh connection: a
// broker closes the connection after a refused CONNECT.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	s := &session{t: t, level: wiremqtt.Level311}
	return s, nil
}

type session struct {
	t     login.Target
	level byte
}

func (s *session) Close() error { return nil }

// Anonymous is the credential that sends no user name and no password.
var Anonymous = login.Credential{}

// Try implements login.Session. The zero Credential connects anonymously.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	r := s.try(ctx, c)
	if r.Status == model.StatusProtocolError && s.level == wiremqtt.Level311 && errors.Is(r.Err, errVersion) {
		s.level = wiremqtt.Level31
		r = s.try(ctx, c)
	}
	return r
}

var errVersion = errors.New("unacceptable protocol version")

func (s *session) try(ctx context.Context, c login.Credential) login.Result {
	ctx, ac, err := s.t.Attempt(ctx, "tcp", 0)
	if err != nil {
		return login.Fail(fmt.Errorf("mqtt dial %s: %w", s.t.Addr, err))
	}
	defer ac.Close()
	var conn net.Conn = ac
	if s.t.TLS || s.t.Protocol == model.ProtoMQTTS {
		tc := tls.Client(ac, &tls.Config{InsecureSkipVerify: true, ServerName: s.t.Addr.Addr().String()}) //nolint:gosec // auditing, not trusting
		if err := tc.HandshakeContext(ctx); err != nil {
			return login.Fail(fmt.Errorf("mqtt tls %s: %w", s.t.Addr, err))
		}
		conn = tc
	}
	anonymous := c == Anonymous
	if _, err := conn.Write(wiremqtt.Connect(s.level, "iw-audit", c.Username, c.Password, !anonymous)); err != nil {
		return login.Fail(fmt.Errorf("mqtt write %s: %w", s.t.Addr, err))
	}
	code, err := wiremqtt.ReadConnack(conn)
	switch netx.ClassOf(err) {
	case netx.ClassNone:
	case netx.ClassEOF:
		// Brokers hang up on refused credentials without CONNACK (some v3.1).
		return login.Denied("connection closed without CONNACK")
	case netx.ClassProtocol:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("mqtt %s: %w", s.t.Addr, err)}
	default:
		return login.Fail(fmt.Errorf("mqtt read %s: %w", s.t.Addr, err))
	}
	_, _ = conn.Write(wiremqtt.Disconnect)
	switch code {
	case 0:
		r := login.Accepted("CONNACK 0 (accepted)")
		if anonymous {
			r.Kind = model.KindAnonymousAccess
			r.Evidence = "CONNACK 0 without credentials"
		}
		return r
	case 1:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("mqtt %s: %w", s.t.Addr, errVersion)}
	case 4, 5, 0x86, 0x87: // v3 bad user name or password, not authorised; v5 reason codes
		return login.Denied(fmt.Sprintf("CONNACK %d", code))
	case 3:
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: "CONNACK 3 (server unavailable)"}
	default:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("mqtt %s: %w: CONNACK %d", s.t.Addr, login.ErrProtocol, code)}
	}
}
