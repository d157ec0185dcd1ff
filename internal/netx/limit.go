package netx

import (
	"fmt"
	"net"
)

// ErrTooLong reports that a peer sent more than the read cap allows: a
// protocol error (no device needs to send that much).
var ErrTooLong = fmt.Errorf("reply exceeds read cap: %w", ErrProtocol)

// LimitConn caps the total bytes read from a conn: reads past the cap
// return ErrTooLong, so a peer streaming an endless reply cannot exhaust
// memory.
type LimitConn struct {
	net.Conn
	N int // bytes left
}

func (c *LimitConn) Read(p []byte) (int, error) {
	if c.N <= 0 {
		return 0, ErrTooLong
	}
	if len(p) > c.N {
		p = p[:c.N]
	}
	n, err := c.Conn.Read(p)
	c.N -= n
	return n, err
}
