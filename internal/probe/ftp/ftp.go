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

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	wireftp "iotwatch/internal/wire/ftp"
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
	code, msg, err := readReply(tp)
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
	code, msg, err := readReply(tp)
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
	code, msg, err = readReply(tp)
	if err != nil {
		return false, ""
	}
	return code == 230, probe.Printable([]byte(fmt.Sprintf("%d %s", code, msg)), 256)
}

// readReply reads one reply with the shared codec: its code and its lines
// joined with newlines.
func readReply(tp *textproto.Reader) (int, string, error) {
	rep, err := wireftp.ReadReply(tp)
	return rep.Code, rep.Text(), err
}
