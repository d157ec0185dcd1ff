//go:build linux

package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
	"testing"
)

// Netns creates a network namespace for the test, with its loopback up, and
// deletes it at cleanup. Nothing routes out of it. prefix names it
// ("iotw-av"); it skips without root or ip(8), unless peers are required.
func Netns(tb testing.TB, prefix string) (name string, ip func(args ...string)) {
	tb.Helper()
	if os.Geteuid() != 0 {
		unavailable(tb, "network namespaces need root")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		unavailable(tb, "ip(8) not found: %v", err)
	}
	name = fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
	ip = func(args ...string) {
		tb.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			tb.Fatalf("testpeer: ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", name)
	tb.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", name).Run() })
	ip("-n", name, "link", "set", "lo", "up")
	return name, ip
}

// InNetns runs f on an OS thread moved into the named network namespace;
// the thread is discarded afterwards (it stays locked), so no other
// goroutine ever runs in that namespace by accident. Sockets f opens
// belong to the namespace wherever they are used later.
func InNetns(tb testing.TB, name string, f func()) {
	tb.Helper()
	fd, err := unix.Open(filepath.Join("/run/netns", name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		defer func() { errc <- nil }()
		f()
	}()
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}
