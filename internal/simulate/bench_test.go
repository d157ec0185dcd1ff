package simulate

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkStart measures starting and stopping a fleet: ns/op is the
// start-up (plan + bind + listen) plus Close; sockets/op and RSS-MB are
// reported beside it.
func BenchmarkStart(b *testing.B) {
	for _, bc := range []struct {
		mode string
		n    int
	}{{"steering", 1000}, {"steering", 10000}, {"per-device", 1000}, {"per-device", 5000}} {
		n := bc.n
		b.Run(fmt.Sprintf("mode=%s/devices=%d", bc.mode, n), func(b *testing.B) {
			b.ReportAllocs()
			prefix := netip.MustParsePrefix("127.21.0.0/16")
			var socks int
			var rss float64
			for b.Loop() {
				f, err := Start(context.Background(), Options{Prefix: prefix, Devices: n, Seed: 1, Weak: 0.3, Empty: 0.05, Anonymous: 0.05, HighPorts: true, perDevice: bc.mode == "per-device"})
				if err == nil && bc.mode == "steering" && f.steer == nil {
					f.Close()
					b.Skip("sk_lookup steering not available")
				}
				if err != nil {
					b.Skipf("start %d devices: %v", n, err)
				}
				socks = f.Sockets()
				b.StopTimer()
				runtime.GC()
				rss = rssMB()
				b.StartTimer()
				f.Close()
			}
			b.ReportMetric(float64(socks), "sockets")
			b.ReportMetric(rss, "RSS-MB")
		})
	}
}

// rssMB is the process's resident set size in MiB (Linux).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}
