//go:build linux

package scan

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"iotwatch/internal/testpeer"
)

// netnsPair creates two network namespaces joined by a veth pair: the
// scanner's (10.213.0.1/30, s0) and the target's (10.213.0.2/30, t0),
// where every address of targets is local (routed to its loopback) and
// the scanner reaches them through 10.213.0.2. It returns their names; no
// route leads out of either. Skips without root or ip(8), unless
// IOTWATCH_REQUIRE_PEERS=1.
func netnsPair(tb testing.TB, targets netip.Prefix) (scanner, target string) {
	tb.Helper()
	need := func(format string, args ...any) {
		tb.Helper()
		if testpeer.Required() {
			tb.Fatalf(format+" (IOTWATCH_REQUIRE_PEERS=1)", args...)
		}
		tb.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		need("network namespaces need root")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		need("ip(8) not found: %v", err)
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	scanner, target = "iotw-ts-"+id, "iotw-tt-"+id
	run := func(args ...string) {
		tb.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", scanner)
	tb.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", scanner).Run() })
	run("netns", "add", target)
	tb.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", target).Run() })
	run("-n", scanner, "link", "add", "s0", "type", "veth", "peer", "name", "t0", "netns", target)
	run("-n", scanner, "addr", "add", "10.213.0.1/30", "dev", "s0")
	run("-n", target, "addr", "add", "10.213.0.2/30", "dev", "t0")
	for _, ns := range []string{scanner, target} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", scanner, "link", "set", "s0", "up")
	run("-n", target, "link", "set", "t0", "up")
	run("-n", target, "route", "add", "local", targets.String(), "dev", "lo")
	run("-n", scanner, "route", "add", targets.String(), "via", "10.213.0.2")
	return scanner, target
}

// listenAll listens on port of every address of the target namespace.
func listenAll(tb testing.TB, ns string, port int) {
	tb.Helper()
	testpeer.InNetns(tb, ns, func() {
		ln, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		if err != nil {
			tb.Error(err)
			return
		}
		tb.Cleanup(func() { ln.Close() })
	})
}

// synNetnsScan sends one SYN to every address of targets × ports from the
// scanner namespace, batch SYNs at a time with a pause between batches,
// and returns the sender used, how many were sent and the validated
// replies (each endpoint once) after all arrived or 10 s passed.
func synNetnsScan(t *testing.T, scanner string, targets netip.Prefix, ports []uint16, batch int) (sender string, sent int, replies []synReply) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen = map[synReply]bool{}
		n    atomic.Int64
	)
	testpeer.InNetns(t, scanner, func() {
		p, err := newSYNProber(targets.Addr(), netip.Addr{})
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close()
		p.Batch = batch
		sender = p.sender()
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.receive(&stop, func(r synReply) {
				mu.Lock()
				if !seen[r] {
					seen[r] = true
					n.Add(1)
				}
				mu.Unlock()
			})
		}()
		for a := targets.Addr(); targets.Contains(a); a = a.Next() {
			for _, port := range ports {
				if err := p.send(a, port); err != nil {
					t.Error(err)
				}
				if sent++; sent%batch == 0 {
					time.Sleep(time.Millisecond) // a modest rate: under batch × 1000/s
				}
			}
		}
		if err := p.flush(); err != nil {
			t.Error(err)
		}
		for deadline := time.Now().Add(10 * time.Second); n.Load() < int64(sent) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		stop.Store(true)
		<-done
	})
	for r := range seen {
		replies = append(replies, r)
	}
	sort.Slice(replies, func(i, j int) bool {
		if c := replies[i].addr.Compare(replies[j].addr); c != 0 {
			return c < 0
		}
		return replies[i].port < replies[j].port
	})
	return sender, sent, replies
}

// TestSYNNetns scans a /23 of another network namespace on four ports,
// two of them open on every address, with the AF_PACKET TX ring and with
// the raw socket: every endpoint answers exactly once with its state, so
// each open port is found and no reply is lost, and both senders find
// the same.
func TestSYNNetns(t *testing.T) {
	targets := netip.MustParsePrefix("198.18.4.0/23")
	scanner, target := netnsPair(t, targets)
	open := map[uint16]bool{8080: true, 2323: true}
	for port := range open {
		listenAll(t, target, int(port))
	}
	ports := []uint16{22, 2323, 8080, 65000}
	addrs := 1 << (32 - targets.Bits())
	var first []synReply
	for _, mode := range []string{"ring", "raw"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(synSenderEnv, mode)
			sender, sent, replies := synNetnsScan(t, scanner, targets, ports, 64)
			if ring := strings.HasPrefix(sender, "AF_PACKET"); ring != (mode == "ring") {
				t.Fatalf("sender %q, want the %s path", sender, mode)
			}
			if sent != addrs*len(ports) || len(replies) != sent {
				t.Errorf("%d SYNs sent, %d validated replies; want %d and %d", sent, len(replies), addrs*len(ports), addrs*len(ports))
			}
			nopen := 0
			for _, r := range replies {
				if !targets.Contains(r.addr) || r.open != open[r.port] {
					t.Fatalf("reply %+v: open %v, want %v", r, r.open, open[r.port])
				}
				if r.open {
					nopen++
				}
			}
			if nopen != addrs*len(open) {
				t.Errorf("%d open endpoints found, want %d", nopen, addrs*len(open))
			}
			if first == nil {
				first = replies
			} else if fmt.Sprint(first) != fmt.Sprint(replies) {
				t.Errorf("the two senders found different results")
			}
		})
	}
}

// BenchmarkSYNNetns sends SYNs to closed ports of 198.18.0.0/16 in another
// namespace without pausing; probes/s is the send rate, validated/s the
// rate of sent and validated probes, for each sender.
func BenchmarkSYNNetns(b *testing.B) {
	targets := netip.MustParsePrefix("198.18.0.0/16")
	scanner, _ := netnsPair(b, targets)
	for _, mode := range []string{"ring", "raw"} {
		b.Run(mode, func(b *testing.B) {
			b.Setenv(synSenderEnv, mode)
			testpeer.InNetns(b, scanner, func() {
				p, err := newSYNProber(targets.Addr(), netip.Addr{})
				if err != nil {
					b.Error(err)
					return
				}
				defer p.Close()
				benchSYN(b, p, 198, 18)
			})
		})
	}
}
