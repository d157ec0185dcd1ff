package simulate

import (
	"context"
	"net"
	"sync"
)

// deviceConn is an accepted connection that knows its device service.
type deviceConn struct {
	net.Conn
	raw  net.Conn // the accepted connection under TLS; nil without TLS
	svc  *deviceService
	f    *Fleet
	once sync.Once
}

func (c *deviceConn) Close() error {
	if c.f != nil {
		c.once.Do(func() {
			if c.raw != nil {
				c.f.untrack(c.raw)
				return
			}
			c.f.untrack(c.Conn)
		})
	}
	return c.Conn.Close()
}

// connListener is a net.Listener fed with connections accepted elsewhere.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

// push hands c to Accept; it reports false when the listener is closed.
func (l *connListener) push(ctx context.Context, c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// RemoteAddr never returns nil: a peer that reset before the accept
// completed has no address, and libraries call String on it.
func (c *deviceConn) RemoteAddr() net.Addr {
	if a := c.Conn.RemoteAddr(); a != nil {
		return a
	}
	return &net.TCPAddr{}
}
