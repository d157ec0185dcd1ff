// Package ftp audits FTP logins (RFC 959 USER/PASS): 230 is success, 530 a
// refusal, 421 a server closing on us (connection limit or ban). The session
// keeps the control connection across refusals, as servers allow a few tries
// per connection.
package ftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
	wireftp "iotwatch/internal/wire/ftp"
)

// Module is the FTP login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoFTP} }

// Open implements login.Module.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return &session{t: t}, nil
}

type session struct {
	t    login.Target
	conn net.Conn
	tp   *textproto.Conn
}

func (s *session) Close() error {
	if s.conn == nil {
		return nil
	}
	_ = s.tp.PrintfLine("QUIT")
	err := s.conn.Close()
	s.conn, s.tp = nil, nil
	return err
}

func (s *session) connect(ctx context.Context) login.Result {
	conn, err := s.t.DialContext(ctx, "tcp")
	if err != nil {
		return login.Fail(fmt.Errorf("ftp dial %s: %w", s.t.Addr, err))
	}
	s.conn, s.tp = conn, textproto.NewConn(&netx.LimitConn{Conn: conn, N: maxRead})
	s.deadline(ctx)
	stop := netx.Interrupt(ctx, conn)
	code, msg, err := readReply(&s.tp.Reader)
	stop()
	if err != nil {
		s.Close()
		if errors.Is(err, io.EOF) {
			return login.Result{Status: model.StatusIOError, Throttled: true, Err: fmt.Errorf("ftp %s closed before greeting: %w", s.t.Addr, err)}
		}
		return login.Fail(fmt.Errorf("ftp greeting %s: %w", s.t.Addr, err))
	}
	switch {
	case code == 220:
		return login.Result{}
	case code == 421:
		s.Close()
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: fmt.Sprintf("%d %s", code, msg)}
	default:
		s.Close()
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("ftp greeting %s: %w: %d %s", s.t.Addr, login.ErrProtocol, code, msg)}
	}
}

func (s *session) deadline(ctx context.Context) {
	dl := time.Now().Add(s.t.AttemptTimeout())
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = s.conn.SetDeadline(dl)
}

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	reused := s.conn != nil
	r := s.tryOnce(ctx, c)
	if reused && errors.Is(r.Err, errStale) {
		// The server closed the idle connection between attempts (vsftpd
		// does after max_login_fails): the credential was never judged.
		r = s.tryOnce(ctx, c)
	}
	return r
}

// errStale marks a kept connection that died before answering USER.
var errStale = errors.New("connection closed before USER was answered")

func (s *session) tryOnce(ctx context.Context, c login.Credential) login.Result {
	if s.conn == nil {
		if r := s.connect(ctx); r.Status != "" {
			return r
		}
	}
	s.deadline(ctx)
	defer netx.Interrupt(ctx, s.conn)() // after the deadline, which would undo it
	r := s.try(c)
	if r.Status != model.StatusAuthFailed || r.Throttled {
		s.Close()
	}
	return r
}

func (s *session) try(c login.Credential) login.Result {
	anonymous := strings.EqualFold(c.Username, "anonymous") || strings.EqualFold(c.Username, "ftp")
	code, msg, err := s.cmd("USER %s", c.Username)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			return login.Result{Status: model.StatusIOError, Err: fmt.Errorf("ftp %s: %w: %w", s.t.Addr, errStale, err)}
		}
		return s.ioFail(err)
	}
	switch code {
	case 230:
		return success(code, msg, anonymous)
	case 331, 332:
	case 421:
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: fmt.Sprintf("%d %s", code, msg)}
	case 530, 430, 500, 501:
		return login.Denied(fmt.Sprintf("USER: %d %s", code, msg))
	default:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("ftp USER %s: %w: %d %s", s.t.Addr, login.ErrProtocol, code, msg)}
	}
	code, msg, err = s.cmd("PASS %s", c.Password)
	if err != nil {
		return s.ioFail(err)
	}
	switch {
	case code == 230 || code == 202:
		return success(code, msg, anonymous)
	case code == 421:
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: fmt.Sprintf("%d %s", code, msg)}
	case code == 530 || code == 430 || code == 332 || code == 503:
		return login.Denied(fmt.Sprintf("%d %s", code, msg))
	default:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("ftp PASS %s: %w: %d %s", s.t.Addr, login.ErrProtocol, code, msg)}
	}
}

func success(code int, msg string, anonymous bool) login.Result {
	r := login.Accepted(fmt.Sprintf("%d %s", code, login.Truncate(msg, 100)))
	if anonymous {
		r.Kind = model.KindAnonymousAccess
	}
	return r
}

// ioFail classifies a failure after the greeting. A server that hangs up
// right after a refused login is refusing, not granting.
func (s *session) ioFail(err error) login.Result {
	if errors.Is(err, io.EOF) {
		return login.Denied("connection closed after credentials")
	}
	return login.Fail(fmt.Errorf("ftp %s: %w", s.t.Addr, err))
}

func (s *session) cmd(format string, args ...any) (int, string, error) {
	if err := s.tp.PrintfLine(format, args...); err != nil {
		return 0, "", err
	}
	return readReply(&s.tp.Reader)
}

// maxRead caps what one control connection may send us (a server streaming
// an endless line is cut off here).
const maxRead = 1 << 20

// readReply reads one reply with the shared codec: its code and its lines
// joined on one line for evidence.
func readReply(tp *textproto.Reader) (int, string, error) {
	rep, err := wireftp.ReadReply(tp)
	return rep.Code, strings.Join(rep.Lines, " "), err
}
