package login_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/login/logintest"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
)

// TestAttempt reads a 32-byte reply through Target.Attempt from loopback
// peers that answer, overflow the cap, hang up early or stay silent, and
// under a context cancelled while the peer holds the connection or before
// the dial.
func TestAttempt(t *testing.T) {
	reply := bytes.Repeat([]byte("0123456789abcdef"), 4) // 64 bytes
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	tests := []struct {
		name    string
		serve   func(c net.Conn)
		timeout time.Duration
		maxRead int
		cancel  string // "before" the dial, "accepted" once the peer has the connection
		want    string // bytes read
		wantErr error  // errors.Is the read's (or the dial's) error
		status  model.Status
		ctxErr  error // the attempt context's error after the read
	}{
		{name: "reply within cap", serve: func(c net.Conn) { c.Write(reply[:32]) }, maxRead: 32,
			want: string(reply[:32]), status: model.StatusSuccess},
		{name: "no cap", serve: func(c net.Conn) { c.Write(reply) },
			want: string(reply[:32]), status: model.StatusSuccess},
		{name: "oversize reply", serve: func(c net.Conn) { c.Write(reply) }, maxRead: 16,
			want: string(reply[:16]), wantErr: netx.ErrTooLong, status: model.StatusProtocolError},
		{name: "peer closes early", serve: func(c net.Conn) { c.Write([]byte("abc")) }, maxRead: 1 << 10,
			want: "abc", wantErr: io.ErrUnexpectedEOF, status: model.StatusIOError},
		{name: "timeout", serve: silent, timeout: 50 * time.Millisecond, maxRead: 1 << 10,
			wantErr: os.ErrDeadlineExceeded, status: model.StatusTimeout, ctxErr: context.DeadlineExceeded},
		{name: "cancelled during read", serve: silent, cancel: "accepted", maxRead: 1 << 10,
			wantErr: os.ErrDeadlineExceeded, status: model.StatusTimeout, ctxErr: context.Canceled},
		{name: "cancelled before dial", serve: silent, cancel: "before",
			wantErr: context.Canceled, status: model.StatusUnknownError, ctxErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted := make(chan struct{}, 1)
			tg := logintest.Serve(t, func(c net.Conn) { accepted <- struct{}{}; tt.serve(c) })
			tg.Timeout = time.Minute // a read that is not interrupted fails on the peer's 5 s deadline, not here
			if tt.timeout > 0 {
				tg.Timeout = tt.timeout
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel == "before" {
				cancel()
			}
			actx, conn, err := tg.Attempt(ctx, "tcp", tt.maxRead)
			var got []byte
			if err == nil {
				defer conn.Close()
				if tt.cancel == "accepted" {
					<-accepted
					cancel()
				}
				buf := make([]byte, 32)
				var n int
				n, err = io.ReadFull(conn, buf)
				got = buf[:n]
			} else if conn != nil {
				t.Errorf("dial error %v with a connection", err)
			}
			if string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if s := login.Classify(err); s != tt.status {
				t.Errorf("classified %s, want %s", s, tt.status)
			}
			if tt.ctxErr != nil {
				<-actx.Done() // the connection's deadline and the context's timer are separate clocks
			}
			if !errors.Is(actx.Err(), tt.ctxErr) || tt.ctxErr == nil && actx.Err() != nil {
				t.Errorf("attempt context %v, want %v", actx.Err(), tt.ctxErr)
			}
		})
	}
}

// TestAttemptDialAndClose: the dial goes through Target.Dial when set, the
// connection is capped and deadlined, and Close closes it and ends the
// attempt's context.
func TestAttemptDialAndClose(t *testing.T) {
	tg := logintest.Serve(t, func(c net.Conn) { c.Write([]byte("hello")) })
	var dialled []string
	tg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, network+" "+addr)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	ctx, conn, err := tg.Attempt(context.Background(), "tcp", 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tcp " + tg.Addr.String()}; strings.Join(dialled, ",") != strings.Join(want, ",") {
		t.Errorf("Target.Dial called with %q, want %q", dialled, want)
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Error("attempt context has no deadline")
	}
	b, err := io.ReadAll(conn)
	if string(b) != "hello" || err != nil {
		t.Errorf("read %q, %v; want hello", b, err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if ctx.Err() == nil {
		t.Error("attempt context not ended by Close")
	}
	// Libraries close what they are handed, again and from their own goroutines.
	if err := conn.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	if _, err := conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
}

// TestAttemptRefused: a dial error comes back as DialContext's, classified
// as refused, with no connection.
func TestAttemptRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	_, conn, err := login.Target{Addr: addr, Timeout: 5 * time.Second}.Attempt(context.Background(), "tcp", 0)
	if conn != nil || login.Classify(err) != model.StatusRefused {
		t.Errorf("Attempt on a closed port: %v, %v; want refused without a connection", conn, err)
	}
}
