// Package probe defines the small interface every protocol handshake
// implements (one package per protocol under probe/, as zgrab2 keeps
// modules/<proto>/) and the I/O helpers they share: capped reads with
// deadlines, outcome classification and a connection that replays bytes
// already peeked.
package probe

import (
	"bytes"
	"context"
	"net"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/netx"
)

// DefaultMaxRead caps what a probe reads from one service (a 100 MB banner is
// cut here).
const DefaultMaxRead = 64 * 1024

// Env is what a probe gets besides its connection.
type Env struct {
	// Timeout bounds the whole probe; the connection deadline is set from it.
	Timeout time.Duration
	// MaxRead caps the bytes read from the service (0: DefaultMaxRead).
	MaxRead int
	// Dial opens another connection to the same endpoint (HTTP favicon,
	// UPnP description). Nil means the probe must make do with one.
	Dial func(ctx context.Context) (net.Conn, error)
	// Host is the name the user gave for the address, if any.
	Host string
}

// Limit returns the read cap.
func (e *Env) Limit() int {
	if e == nil || e.MaxRead <= 0 {
		return DefaultMaxRead
	}
	return e.MaxRead
}

// Record is a protocol's structured handshake data. Fields flattens it into
// named strings (e.g. "ssh.software", "http.title") that fingerprint rules match.
type Record interface {
	Fields() map[string]string
}

// Result is the outcome of one probe.
type Result struct {
	Protocol string
	Status   model.Status
	Banner   string
	Data     Record
	Err      error
}

// Prober speaks one protocol on an open connection.
type Prober interface {
	// Name is the protocol name (model.ProtoSSH, ...).
	Name() string
	// Probe runs the handshake on conn, which the caller closes.
	Probe(ctx context.Context, conn net.Conn, env *Env) Result
}

// Fail builds a failed Result classified from err.
func Fail(proto string, err error) Result {
	return Result{Protocol: proto, Status: Classify(err), Err: err}
}

// ErrProtocol marks replies that are not the protocol expected (netx.ErrProtocol).
var ErrProtocol = netx.ErrProtocol

// Classify maps an error to an outcome class (netx.Status).
func Classify(err error) model.Status { return netx.Status(err) }

// Deadline sets conn's deadline from ctx and env and returns the deadline.
func Deadline(ctx context.Context, conn net.Conn, env *Env) time.Time {
	t := time.Now().Add(5 * time.Second)
	if env != nil && env.Timeout > 0 {
		t = time.Now().Add(env.Timeout)
	}
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		t = d
	}
	_ = conn.SetDeadline(t)
	return t
}

// PrefixConn is a net.Conn that first replays Prefix, then reads Conn.
type PrefixConn struct {
	net.Conn
	Prefix []byte
}

func (c *PrefixConn) Read(p []byte) (int, error) {
	if len(c.Prefix) > 0 {
		n := copy(p, c.Prefix)
		c.Prefix = c.Prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Printable returns s with control bytes other than tab, CR and LF replaced
// by '.', and cut to at most n bytes, for banners in output.
func Printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			c = '.'
		}
		out[i] = c
	}
	return string(bytes.ToValidUTF8(out, []byte("?")))
}

// LimitConn caps the total bytes read from a conn (netx.LimitConn).
type LimitConn = netx.LimitConn

// ErrTooLong reports that a reply exceeded the read cap (netx.ErrTooLong).
var ErrTooLong = netx.ErrTooLong

// IndexFold returns the index of the first ASCII-case-insensitive match of
// sub in s, or -1. Unlike strings.ToLower it never changes byte offsets.
func IndexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
