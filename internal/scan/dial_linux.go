//go:build linux

package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// raiseFDLimit lifts the soft open-files limit to the hard limit so that
// thousands of concurrent probes do not fail with EMFILE.
func raiseFDLimit() {
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &r)
	}
}

// connectTCP opens a TCP connection with a raw non-blocking connect: a
// refused port (the common case in discovery) costs three system calls and
// never touches the Go poller; a connection in progress is handed to the Go
// runtime and awaited there with the deadline.
func connectTCP(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		sa = sa6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	err = unix.Connect(fd, sa)
	switch {
	case err == nil, errors.Is(err, unix.EINPROGRESS):
	default:
		unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	if err != nil {
		// In progress. On loopback and LANs the answer is usually already
		// there: check without blocking before paying for the Go poller.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, perr := unix.Poll(pfd, 0); perr == nil && n == 1 && pfd[0].Revents != 0 {
			soErr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if gerr == nil && soErr != 0 {
				unix.Close(fd)
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.Errno(soErr))}
			}
			if gerr == nil {
				err = nil // connected
			}
		}
	}
	f := os.NewFile(uintptr(fd), "tcp")
	c, ferr := net.FileConn(f) // dups the descriptor into the Go poller
	f.Close()
	if ferr != nil {
		return nil, ferr
	}
	if err == nil {
		return c, nil
	}
	raw, rerr := c.(syscall.Conn).SyscallConn()
	if rerr != nil {
		c.Close()
		return nil, rerr
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetWriteDeadline(deadline)
	var soErr int
	werr := raw.Write(func(fd uintptr) bool {
		soErr, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || soErr != 0 {
			return true
		}
		_, perr := unix.Getpeername(int(fd))
		return perr == nil // connected; otherwise wait for writability
	})
	if werr == nil && err == nil && soErr != 0 {
		werr = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.Errno(soErr))}
	}
	if werr == nil && err != nil {
		werr = err
	}
	if werr != nil {
		c.Close()
		return nil, werr
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}
