//go:build !linux

package scan

import (
	"context"
	"net"
	"net/netip"
	"time"
)

func raiseFDLimit() {}

func connectTCP(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", ap.String())
}
