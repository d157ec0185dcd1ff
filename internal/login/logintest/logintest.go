// Package logintest holds test helpers shared by the login/<proto> packages:
// a scripted loopback server and the cancellation stress every module must
// survive (Ctrl-C during an audit cancels sessions in the middle of a read).
package logintest

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/login"
)

// Serve starts a TCP listener on 127.0.0.1 that runs handle on every
// connection (closing it afterwards) and returns a target for it.
func Serve(t testing.TB, handle func(c net.Conn)) login.Target {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return login.Target{Addr: netip.MustParseAddrPort(l.Addr().String()), Timeout: 2 * time.Second}
}

// Jitter sleeps a random time below max: servers and cancellations in the
// stress test end at varying points of each other's work.
func Jitter(max time.Duration) { time.Sleep(rand.N(max)) }

// CancelDuringRead opens sessions of mod on t and cancels each attempt's
// context at a random moment while the session reads, then closes the
// session, rounds times. The server should end its reply at a random moment
// too (Jitter), so that cancellation, the end of the read and Close race. A
// module that touches its connection from the cancellation callback after
// Close crashes or trips the race detector here. It also fails when an
// attempt outlives its cancelled context by more than the attempt timeout.
func CancelDuringRead(t *testing.T, mod login.Module, tg login.Target, c login.Credential, rounds int) {
	t.Helper()
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		sess, err := mod.Open(ctx, tg)
		if err != nil {
			cancel()
			continue // the cancellation may hit Open too; the session then never existed
		}
		done := make(chan login.Result, 1)
		go func() { done <- sess.Try(ctx, c) }()
		Jitter(3 * time.Millisecond)
		cancel()
		select {
		case <-done:
		case <-time.After(tg.AttemptTimeout() + 2*time.Second):
			t.Fatalf("round %d: Try still running %v after its context was cancelled", i, tg.AttemptTimeout()+2*time.Second)
		}
		_ = sess.Close()
	}
}
