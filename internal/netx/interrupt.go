// Package netx holds the connection helpers that every side speaking a
// protocol over the network shares (probes, login modules, the simulator):
// interrupting blocked I/O when a context ends, and the one classification
// of I/O errors into outcome classes.
package netx

import (
	"context"
	"net"
	"time"
)

// past is a deadline already gone: setting it wakes every blocked Read and Write.
var past = time.Unix(1, 0)

// Interrupt arranges for conn's blocked reads and writes to end as soon as
// ctx ends, by moving its deadline into the past. The returned stop undoes
// the arrangement and, unlike context.AfterFunc's, waits for a callback that
// already started: once stop returns, nothing touches conn on ctx's behalf,
// so the caller may close or drop it. conn is captured here; callers must not
// hand in a field they later reset (issue 14: a session's conn set to nil by
// Close, then dereferenced by the callback of a cancelled read).
func Interrupt(ctx context.Context, conn net.Conn) (stop func()) {
	done := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		defer close(done)
		_ = conn.SetDeadline(past)
	})
	return func() {
		if !cancel() {
			<-done // the callback started (or ran): wait for it to finish
		}
	}
}
