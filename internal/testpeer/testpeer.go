// Package testpeer starts real Debian daemons on 127.0.0.1 for integration
// tests: each with a temporary configuration, a free port, and a t.Cleanup
// that stops it. Every starter skips the test when the daemon's binary (or a
// test account it needs) is missing, unless the environment sets
// IOTWATCH_REQUIRE_PEERS=1 (CI does), in which case the test fails instead.
//
// Accounts: the login daemons (sshd, telnetd, vsftpd) authenticate system users
// through PAM. .ci/peers.sh creates them (run it once as root):
//
//	StrongUser / StrongPassword   iwtest / iwtest-Weak1  (must never be reported)
//	WeakUser   / WeakPassword     iwadmin / admin        (a default credential)
//
// Usage:
//
//	p := testpeer.SSHD(t, testpeer.SSHDOptions{Legacy: true})
//	conn, err := net.Dial("tcp", p.Addr)
//
// The daemons log into p.Dir; the log is printed when the test fails.
// Starting a daemon takes tens of milliseconds; tests may run in parallel
// since every peer has its own port and directory. Most daemons need root
// (sshd, telnetd via inetd, vsftpd); they are skipped without it.
package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Test accounts created by .ci/peers.sh.
const (
	StrongUser     = "iwtest"
	StrongPassword = "iwtest-Weak1"
	WeakUser       = "iwadmin"
	WeakPassword   = "admin"
)

// Peer is one running daemon.
type Peer struct {
	Host string // always "127.0.0.1"
	Port int
	Addr string // Host:Port
	Dir  string // temporary directory with its configuration and log
	cmd  *exec.Cmd
}

// Required reports whether missing peers must fail tests (IOTWATCH_REQUIRE_PEERS=1).
func Required() bool { return os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" }

// unavailable skips the test, or fails it when peers are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("testpeer: %s (IOTWATCH_REQUIRE_PEERS=1)", msg)
	}
	t.Skipf("testpeer: %s", msg)
}

// needBinary returns the path of a daemon's binary or skips the test.
func needBinary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	unavailable(t, "%s not installed", names[0])
	return ""
}

// NeedUsers skips the test unless the accounts from .ci/peers.sh exist.
func NeedUsers(t testing.TB) {
	t.Helper()
	for _, u := range []string{StrongUser, WeakUser} {
		if _, err := user.Lookup(u); err != nil {
			unavailable(t, "user %s missing: run .ci/peers.sh as root", u)
		}
	}
}

// needRoot skips the test unless it runs as root.
func needRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "%s needs root", what)
	}
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago for network
// "tcp" or "udp". It is drawn at random from below the kernel's ephemeral
// range: a port the kernel handed out for bind(":0") and that was closed
// again is soon handed out again, to the next test's listener or to a
// scanner's outgoing connection, before the daemon it was meant for binds it.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	lo, hi := portRange()
	for range 500 {
		port := lo + rand.IntN(hi-lo+1)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if network == "udp" {
			if c, err := net.ListenPacket("udp", addr); err == nil {
				c.Close()
				return port
			}
			continue
		}
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("testpeer: no free %s port in %d-%d", network, lo, hi)
	return 0
}

// portRange is the range FreePort draws from: the 12,000 ports below the
// ephemeral range (Linux: ip_local_port_range), never below 10,000.
func portRange() (lo, hi int) {
	first := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				first = n
			}
		}
	}
	return max(10000, first-12000), first - 1
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
}

// start runs the daemon in dir, logging to dir/daemon.log, and registers its
// stop (and the log dump on failure) with t.Cleanup.
func start(t testing.TB, dir string, port int, env []string, name string, args ...string) *Peer {
	t.Helper()
	logPath := filepath.Join(dir, "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testpeer: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p := &Peer{Host: "127.0.0.1", Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Process.Signal(os.Kill)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				t.Logf("testpeer: %s log:\n%s", filepath.Base(name), tail(b, 4000))
			}
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitTCP waits until the peer accepts TCP connections (at most 10 s).
func (p *Peer) waitTCP(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.cmd.ProcessState != nil {
			break
		}
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(p.Dir, "daemon.log"))
	t.Fatalf("testpeer: %s did not listen on %s:\n%s", filepath.Base(p.cmd.Path), p.Addr, tail(b, 2000))
}

// run runs a helper command (key generation, password files) and fails the
// test on error.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testpeer: %s %v: %v\n%s", name, args, err, out.String())
	}
}
