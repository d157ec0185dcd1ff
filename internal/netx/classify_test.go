package netx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"iotwatch/internal/model"
)

func TestClassOf(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
	}
	tests := []struct {
		name   string
		err    error
		class  Class
		status model.Status
	}{
		{"nil", nil, ClassNone, model.StatusSuccess},
		{"protocol", fmt.Errorf("ftp reply %q: %w", "SSH-2.0", ErrProtocol), ClassProtocol, model.StatusProtocolError},
		{"protocol wrapping eof", fmt.Errorf("%w: %w", ErrProtocol, io.EOF), ClassProtocol, model.StatusProtocolError},
		{"context deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), ClassTimeout, model.StatusTimeout},
		{"conn deadline", opErr(os.ErrDeadlineExceeded), ClassTimeout, model.StatusTimeout},
		{"refused", opErr(syscall.ECONNREFUSED), ClassRefused, model.StatusRefused},
		{"reset", opErr(syscall.ECONNRESET), ClassReset, model.StatusIOError},
		{"broken pipe", opErr(syscall.EPIPE), ClassReset, model.StatusIOError},
		{"eof", fmt.Errorf("telnet read: %w", io.EOF), ClassEOF, model.StatusIOError},
		{"unexpected eof", io.ErrUnexpectedEOF, ClassEOF, model.StatusIOError},
		{"closed", opErr(net.ErrClosed), ClassClosed, model.StatusIOError},
		{"text that says EOF is not EOF", errors.New("server said EOF"), ClassOther, model.StatusUnknownError},
		{"other", errors.New("tls: bad certificate"), ClassOther, model.StatusUnknownError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassOf(tt.err); got != tt.class {
				t.Errorf("ClassOf(%v) = %v, want %v", tt.err, got, tt.class)
			}
			if got := Status(tt.err); got != tt.status {
				t.Errorf("Status(%v) = %v, want %v", tt.err, got, tt.status)
			}
		})
	}
}

// TestClassOfRealConn classifies the errors of real loopback sockets.
func TestClassOfRealConn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	if got := ClassOf(err); got != ClassEOF {
		t.Errorf("read after the peer closed: %v is %v, want eof", err, got)
	}
	c.Close()
	_, err = c.Read(make([]byte, 1))
	if got := ClassOf(err); got != ClassClosed {
		t.Errorf("read after our close: %v is %v, want closed", err, got)
	}
	l.Close()
	_, err = net.Dial("tcp", addr)
	if got := ClassOf(err); got != ClassRefused {
		t.Errorf("dial a closed port: %v is %v, want refused", err, got)
	}
}
