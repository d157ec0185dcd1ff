package netx

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestInterruptWakesBlockedRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stop := Interrupt(ctx, a)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after cancel: %v, want a deadline error", err)
	}
}

// gatedConn's SetDeadline reports that it started, then blocks until the
// gate opens, then records that it finished.
type gatedConn struct {
	net.Conn
	entered  chan struct{}
	gate     chan struct{}
	finished atomic.Bool
}

func (c *gatedConn) SetDeadline(time.Time) error {
	close(c.entered)
	<-c.gate
	c.finished.Store(true)
	return nil
}

// TestInterruptStopWaitsForCallback: stop called while the callback runs
// returns only after the callback is done with the conn.
func TestInterruptStopWaitsForCallback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &gatedConn{entered: make(chan struct{}), gate: make(chan struct{})}
	stop := Interrupt(ctx, c)
	cancel()
	<-c.entered
	go close(c.gate)
	stop()
	if !c.finished.Load() {
		t.Fatal("stop returned while the callback was still using the conn")
	}
}
