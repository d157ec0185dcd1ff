// Package telnet audits telnet logins: it answers option negotiation (IAC),
// recognises the login, password and shell prompts of BusyBox, GNU login and
// common vendor CLIs, and judges success positively by a shell prompt
// followed by the echo of a command's output — never by the mere absence of
// an error message.
package telnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
	wiretelnet "iotwatch/internal/wire/telnet"
)

// Module is the telnet login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoTelnet} }

// Open implements login.Module. The session keeps its connection across
// failed attempts while the server offers a new login prompt, as a user would.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return &session{t: t}, nil
}

// maxOutput caps what one read phase collects.
const maxOutput = 64 << 10

type session struct {
	t      login.Target
	conn   net.Conn
	r      *wiretelnet.Reader
	prompt wiretelnet.Prompt // the prompt the server is currently showing
	n      int               // marker counter
}

func (s *session) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// connect dials and reads up to the first prompt.
func (s *session) connect(ctx context.Context) (string, error) {
	conn, err := s.t.DialContext(ctx, "tcp")
	if err != nil {
		return "", fmt.Errorf("telnet dial %s: %w", s.t.Addr, err)
	}
	s.conn, s.r = conn, wiretelnet.NewReader(conn, func(c wiretelnet.Command) error {
		if reply := wiretelnet.Answer(c); reply != nil {
			_, err := conn.Write(reply)
			return err
		}
		return nil
	})
	out, p, err := s.readPrompt(ctx)
	s.prompt = p
	return out, err
}

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	r := s.try(ctx, c)
	if r.Status != model.StatusAuthFailed || r.Throttled {
		s.Close() // keep the connection only at a fresh login prompt
	}
	return r
}

func (s *session) try(ctx context.Context, c login.Credential) login.Result {
	if s.conn == nil || (s.prompt != wiretelnet.PromptLogin && s.prompt != wiretelnet.PromptPassword) {
		s.Close()
		out, err := s.connect(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) && strings.TrimSpace(out) != "" {
				return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: %w: closed after %q", s.t.Addr, login.ErrProtocol, login.Truncate(out, 60))}
			}
			if errors.Is(err, io.EOF) {
				// Closed before saying anything: a ban or a connection limit.
				return login.Result{Status: model.StatusIOError, Throttled: true, Err: fmt.Errorf("telnet %s closed before a prompt: %w", s.t.Addr, err)}
			}
			return login.Fail(err)
		}
		switch s.prompt {
		case wiretelnet.PromptShell:
			if ev, ok := s.confirm(ctx); ok {
				return login.Result{Status: model.StatusSuccess, Kind: model.KindAnonymousAccess, Evidence: "shell without login: " + ev}
			}
			return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: prompt-like output without a working shell: %q", s.t.Addr, login.Truncate(out, 80))}
		case wiretelnet.PromptThrottle:
			return throttled(out)
		case wiretelnet.PromptNone, wiretelnet.PromptFailure:
			return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: no login prompt in %q", s.t.Addr, login.Truncate(out, 80))}
		}
	}
	if s.prompt == wiretelnet.PromptLogin {
		out, p, r, ok := s.answer(ctx, c.Username)
		if !ok {
			return r
		}
		switch p {
		case wiretelnet.PromptPassword:
		case wiretelnet.PromptShell: // no password asked at all
			if ev, ok := s.confirm(ctx); ok {
				r := login.Accepted("shell after user name only: " + ev)
				r.Kind = model.KindEmptyPassword // the account has no password at all
				return r
			}
			return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: unconfirmed shell", s.t.Addr)}
		case wiretelnet.PromptThrottle:
			return throttled(out)
		default:
			return login.Denied(login.Truncate(out, 120))
		}
	}
	out, p, r, ok := s.answer(ctx, c.Password)
	if !ok {
		return r
	}
	switch p {
	case wiretelnet.PromptShell:
		if ev, ok := s.confirm(ctx); ok {
			return login.Accepted(ev)
		}
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: shell prompt but no command echo", s.t.Addr)}
	case wiretelnet.PromptThrottle:
		return throttled(out)
	case wiretelnet.PromptLogin, wiretelnet.PromptPassword, wiretelnet.PromptFailure:
		return login.Denied(login.Truncate(out, 120))
	}
	return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("telnet %s: unrecognised reply %q", s.t.Addr, login.Truncate(out, 80))}
}

// answer sends line (a user name or a password) and reads up to the next
// prompt, which the session remembers. ok is false when sending or reading
// failed; r is then the attempt's result.
func (s *session) answer(ctx context.Context, line string) (out string, p wiretelnet.Prompt, r login.Result, ok bool) {
	if err := s.send(line); err != nil {
		return "", p, login.Fail(err), false
	}
	out, p, err := s.readPrompt(ctx)
	s.prompt = p
	if err != nil {
		return out, p, s.ended(err, out), false
	}
	return out, p, r, true
}

// throttled is the refusal of a device that says it bans or rate-limits.
func throttled(out string) login.Result {
	return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: login.Truncate(out, 120)}
}

// ended classifies a read error after credentials were sent.
func (s *session) ended(err error, out string) login.Result {
	s.prompt = wiretelnet.PromptNone
	if errors.Is(err, io.EOF) {
		// Many devices hang up after a wrong password: a refusal, not a success.
		return login.Denied("connection closed: " + login.Truncate(out, 80))
	}
	return login.Fail(err)
}

// confirm runs a harmless echo whose output differs from its input and
// reports whether the output came back: proof of a working shell. Device CLIs
// without a POSIX shell often answer "echo" anyway, so a literal echo is the
// fallback evidence.
func (s *session) confirm(ctx context.Context) (string, bool) {
	s.n++
	a, b := 17+s.n, 25
	cmd := fmt.Sprintf("echo IW$((%d+%d))W", a, b)
	want := "IW" + strconv.Itoa(a+b) + "W"
	if err := s.send(cmd); err != nil {
		return "", false
	}
	out, _, _ := s.readUntil(ctx, func(buf []byte) bool {
		return bytes.Contains(buf, []byte(want)) || wiretelnet.Classify(afterLine(buf, cmd)) == wiretelnet.PromptShell
	})
	if strings.Contains(out, want) {
		return "command echo " + want, true
	}
	// A restricted CLI: the prompt came back; accept a literal echo line.
	if lit := fmt.Sprintf("IW$((%d+%d))W", a, b); strings.Count(out, lit) >= 2 {
		return "literal echo in CLI", true
	}
	return "", false
}

// afterLine returns buf after the echoed command line, so the prompt that
// preceded the command does not count.
func afterLine(buf []byte, cmd string) []byte {
	if i := bytes.Index(buf, []byte(cmd)); i >= 0 {
		return buf[i+len(cmd):]
	}
	return nil
}

func (s *session) send(line string) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.t.AttemptTimeout()))
	_, err := s.conn.Write([]byte(wiretelnet.Escape(line) + "\r\n"))
	if err != nil {
		return fmt.Errorf("telnet write %s: %w", s.t.Addr, err)
	}
	return nil
}

// readPrompt reads until the output ends in a recognised prompt.
func (s *session) readPrompt(ctx context.Context) (string, wiretelnet.Prompt, error) {
	var p wiretelnet.Prompt
	out, _, err := s.readUntil(ctx, func(buf []byte) bool {
		p = wiretelnet.Classify(buf)
		return p != wiretelnet.PromptNone
	})
	if err != nil && p == wiretelnet.PromptNone {
		return out, p, err
	}
	return out, p, nil
}

// readUntil reads data bytes (answering negotiation) until done(buf) holds,
// the attempt timeout passes, or the connection ends.
func (s *session) readUntil(ctx context.Context, done func([]byte) bool) (string, bool, error) {
	deadline := time.Now().Add(s.t.AttemptTimeout())
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = s.conn.SetReadDeadline(deadline)
	defer netx.Interrupt(ctx, s.conn)()
	var buf []byte
	start := s.r.Raw()
	for len(buf) < maxOutput && s.r.Raw()-start < 4*maxOutput { // the raw count also bounds endless negotiation
		b, err := s.r.ReadByte()
		if err != nil {
			return string(buf), false, fmt.Errorf("telnet read %s: %w", s.t.Addr, err)
		}
		if b == 0 {
			continue
		}
		buf = append(buf, b)
		if s.r.Buffered() == 0 && done(buf) {
			return string(buf), true, nil
		}
	}
	return string(buf), false, fmt.Errorf("telnet %s: %w: output over %d bytes without a prompt", s.t.Addr, login.ErrProtocol, maxOutput)
}
