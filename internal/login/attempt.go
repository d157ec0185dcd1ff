package login

import (
	"context"
	"net"
	"sync"

	"iotwatch/internal/netx"
)

// Conn is the connection of one attempt, opened by Target.Attempt. Its reads
// and writes end at the attempt's deadline or as soon as the attempt's
// context ends, and its reads fail with netx.ErrTooLong past the read cap.
type Conn struct {
	net.Conn // reads capped (netx.LimitConn) when Attempt was given a cap
	stop     func()
	cancel   context.CancelFunc
}

// Attempt opens a fresh connection to the target on network ("tcp", "udp")
// for one attempt, for modules that dial afresh for each attempt. The
// attempt is bounded by the target's AttemptTimeout and by ctx: the returned
// context is ctx with that timeout (use it for whatever else the attempt
// does, such as a TLS handshake), the connection's deadline is set to it,
// and blocked reads and writes end as soon as it ends. When maxRead is
// positive, reads past maxRead bytes in total fail with netx.ErrTooLong, so
// a peer streaming an endless reply cannot exhaust memory. The dial goes
// through DialContext (Target.Dial, when set, opens the connection).
//
// Close releases everything: it stops the interruption, closes the
// connection and cancels the attempt's context. On a dial error the context
// is already cancelled and the error is DialContext's, unwrapped.
func (t Target) Attempt(ctx context.Context, network string, maxRead int) (context.Context, *Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.AttemptTimeout())
	conn, err := t.DialContext(ctx, network)
	if err != nil {
		cancel()
		return ctx, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// After SetDeadline, which would undo an interruption that already happened.
	stop := sync.OnceFunc(netx.Interrupt(ctx, conn)) // Interrupt's stop blocks when called twice
	c := &Conn{Conn: conn, stop: stop, cancel: cancel}
	if maxRead > 0 {
		c.Conn = &netx.LimitConn{Conn: conn, N: maxRead}
	}
	return ctx, c, nil
}

// Close stops the interruption, closes the connection and cancels the
// attempt's context, in that order (nothing touches the connection on the
// context's behalf once it is closed). It may be called more than once and
// from several goroutines (a TLS client closes its connection when its
// handshake is cancelled); later calls return the connection's own error
// (net.ErrClosed).
func (c *Conn) Close() error {
	c.stop()
	err := c.Conn.Close()
	c.cancel()
	return err
}
