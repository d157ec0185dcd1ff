package netx

import (
	"errors"
	"io"
	"net"
	"testing"
)

func TestLimitConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		b.Write([]byte("0123456789"))
		b.Close()
	}()
	c := &LimitConn{Conn: a, N: 4}
	got, err := io.ReadAll(c)
	if string(got) != "0123" || !errors.Is(err, ErrTooLong) || ClassOf(err) != ClassProtocol {
		t.Errorf("read %q, %v; want 4 bytes, then a protocol error", got, err)
	}
}
