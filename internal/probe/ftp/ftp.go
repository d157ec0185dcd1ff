// Package ftp probes FTP servers: the greeting (multi-line replies joined)
// and whether anonymous login is allowed (USER anonymous, then QUIT).
package ftp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the FTP handshake data.
type Record struct {
	Banner    string `json:"banner"`    // greeting text without the 220 code
	Code      int    `json:"code"`      // greeting reply code
	Anonymous bool   `json:"anonymous"` // anonymous login accepted
	AnonReply string `json:"anon_reply,omitempty"`
	TLS       bool   `json:"auth_tls,omitempty"` // AUTH TLS accepted (not attempted when anonymous is tested)
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string { return map[string]string{"ftp.banner": r.Banner} }

// Prober is the FTP prober. CheckAnonymous tries an anonymous login.
type Prober struct{ SkipAnonymous bool }

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoFTP }

// Probe implements probe.Prober.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	tp := textproto.NewReader(bufio.NewReader(&probe.LimitConn{Conn: conn, N: env.Limit()}))
	code, msg, err := ReadReply(tp)
	if err != nil {
		return probe.Fail(model.ProtoFTP, fmt.Errorf("ftp greeting: %w", err))
	}
	rec := &Record{Banner: probe.Printable([]byte(msg), 1024), Code: code}
	res := probe.Result{Protocol: model.ProtoFTP, Status: model.StatusSuccess, Banner: fmt.Sprintf("%d %s", code, rec.Banner), Data: rec}
	if code != 220 {
		if code >= 400 && code < 600 {
			return res // e.g. 421 too many connections: still FTP
		}
		res.Status, res.Err = model.StatusProtocolError, fmt.Errorf("ftp greeting code %d: %w", code, probe.ErrProtocol)
		return res
	}
	if p.SkipAnonymous {
		return res
	}
	rec.Anonymous, rec.AnonReply = anonymous(conn, tp)
	_, _ = io.WriteString(conn, "QUIT\r\n")
	return res
}

func anonymous(w io.Writer, tp *textproto.Reader) (bool, string) {
	if _, err := io.WriteString(w, "USER anonymous\r\n"); err != nil {
		return false, ""
	}
	code, msg, err := ReadReply(tp)
	if err != nil {
		return false, ""
	}
	if code == 230 {
		return true, fmt.Sprintf("%d %s", code, msg)
	}
	if code != 331 {
		return false, fmt.Sprintf("%d %s", code, msg)
	}
	if _, err := io.WriteString(w, "PASS iotwatch@example.com\r\n"); err != nil {
		return false, ""
	}
	code, msg, err = ReadReply(tp)
	if err != nil {
		return false, ""
	}
	return code == 230, probe.Printable([]byte(fmt.Sprintf("%d %s", code, msg)), 256)
}

// ReadReply reads one (possibly multi-line) FTP reply.
func ReadReply(tp *textproto.Reader) (int, string, error) {
	line, err := tp.ReadLine()
	if err != nil {
		return 0, "", err
	}
	if len(line) < 3 || !digits(line[:3]) {
		return 0, "", fmt.Errorf("ftp reply %q: %w", probe.Printable([]byte(line), 40), probe.ErrProtocol)
	}
	code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 || line[3] != '-' {
		return code, strings.TrimSpace(line[min(4, len(line)):]), nil
	}
	lines := []string{strings.TrimSpace(line[4:])}
	for i := 0; i < 100; i++ {
		l, err := tp.ReadLine()
		if err != nil {
			return code, strings.Join(lines, "\n"), err
		}
		if len(l) >= 4 && l[:3] == line[:3] && l[3] == ' ' {
			lines = append(lines, strings.TrimSpace(l[4:]))
			return code, strings.Join(lines, "\n"), nil
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	return code, strings.Join(lines, "\n"), fmt.Errorf("ftp reply too long: %w", probe.ErrProtocol)
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
