package netflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"iotwatch/internal/flow"
)

// Collector receives datagrams on one UDP socket and decodes them into a
// pipeline. Run stops when ctx is cancelled: it stops reading, decodes every
// datagram already read, flushes, and returns. The pipeline's Drop policy
// decides what happens under overload; records accepted by it are kept.
type Collector struct {
	conn *net.UDPConn
	dec  *Decoder
	log  *slog.Logger
}

// Listen opens a collector on addr ("127.0.0.1:2055", ":2055", "[::1]:0").
func Listen(addr string, log *slog.Logger) (*Collector, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("collector address %q: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	_ = c.SetReadBuffer(8 << 20)
	dec, err := NewDecoder()
	if err != nil {
		c.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{conn: c, dec: dec, log: log}, nil
}

// Addr returns the bound address.
func (c *Collector) Addr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Stats returns the decoder's counters; call after Run returns.
func (c *Collector) Stats() Stats { return c.dec.Stats }

// DrainQuiet is how long Run keeps reading after cancellation while
// datagrams are still queued in the socket: everything the kernel accepted
// before the signal is decoded.
const DrainQuiet = 100 * time.Millisecond

// Run reads until ctx is done, then drains datagrams already queued on the
// socket, flushes sink and closes the socket.
func (c *Collector) Run(ctx context.Context, sink interface {
	flow.Sink
	Flush()
}) error {
	stop := context.AfterFunc(ctx, func() {
		_ = c.conn.SetReadDeadline(time.Now()) // wake the blocked read
	})
	defer stop()
	defer c.conn.Close()
	defer sink.Flush()
	buf := make([]byte, 65535)
	lastFlush := time.Now()
	draining := false
	for {
		switch {
		case draining:
			_ = c.conn.SetReadDeadline(time.Now().Add(DrainQuiet))
		case ctx.Err() != nil:
			draining = true
			_ = c.conn.SetReadDeadline(time.Now().Add(DrainQuiet))
		default:
			// A periodic deadline lets a quiet collector flush its partial batch.
			_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
		}
		readStart := time.Now()
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if n > 0 {
			if _, derr := c.dec.Decode(buf[:n], from, time.Now(), sink); derr != nil {
				c.log.Debug("flow datagram skipped", "from", from, "err", derr)
			}
		}
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("read udp: %w", err)
			}
			if draining && time.Since(readStart) >= DrainQuiet/2 {
				return nil // quiet: nothing more queued
			}
			if ctx.Err() != nil {
				draining = true
			}
		}
		if time.Since(lastFlush) > time.Second {
			sink.Flush()
			lastFlush = time.Now()
		}
	}
}
