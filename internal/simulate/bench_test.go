package simulate

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
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
			cpu0 := cpuTime()
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
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(socks), "sockets")
			b.ReportMetric(rss, "RSS-MB")
		})
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkHandshake measures one full exchange per op against a running
// fleet: TCP connect plus banner (telnet), HTTP GET with Basic auth, and an
// SNMP GET (UDP).
func BenchmarkHandshake(b *testing.B) {
	f := startFleet(b, Options{Devices: 200, Seed: 3, Weak: 1, HighPorts: true})
	pick := func(proto string, pred func(*deviceService) bool) *deviceService {
		for _, d := range f.devices {
			for _, s := range d.services {
				if s.sp.Protocol == proto && (pred == nil || pred(s)) {
					return s
				}
			}
		}
		b.Fatalf("no %s", proto)
		return nil
	}
	b.Run("proto=telnet-banner", func(b *testing.B) {
		s := pick("telnet", nil)
		b.ReportAllocs()
		buf := make([]byte, 512)
		for b.Loop() {
			c, err := net.Dial("tcp", addrOf(s))
			if err != nil {
				b.Fatal(err)
			}
			got := ""
			for !strings.Contains(got, "login: ") {
				n, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += string(buf[:n])
			}
			c.Close()
		}
	})
	b.Run("proto=http-basic", func(b *testing.B) {
		s := pick("http", func(s *deviceService) bool { return s.sp.Auth == "basic" })
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("GET", "http://"+addrOf(s)+"/", nil)
			req.SetBasicAuth(s.cred.Username, s.cred.Password)
			r, err := client.Do(req)
			if err != nil || r.StatusCode != 200 {
				b.Fatal(err, r)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	})
	b.Run("proto=snmp-get", func(b *testing.B) {
		s := pick("snmp", nil)
		g := &gosnmp.GoSNMP{Target: s.dev.addr.String(), Port: s.port, Community: s.cred.Password, Version: gosnmp.Version2c, Timeout: 2 * time.Second}
		if err := g.Connect(); err != nil {
			b.Fatal(err)
		}
		defer g.Conn.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.Get([]string{".1.3.6.1.2.1.1.1.0"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
