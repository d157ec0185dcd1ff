//go:build linux

package scan

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// runSYN runs a SYN-mode scan and returns its stats and services; it skips
// the test where raw sockets are not permitted.
func runSYN(t *testing.T, cfg Config) (Stats, []model.Service) {
	t.Helper()
	cfg.SYN, cfg.Engine = true, testEngine(t)
	var mu sync.Mutex
	var got []model.Service
	st, err := Run(context.Background(), cfg, func(s model.Service) error {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		return nil
	})
	if errors.Is(err, ErrNoRaw) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st, got
}

// TestSYNDiscovery scans closed ports and one open port (lighttpd) in SYN
// mode and checks the open one is then probed and identified.
func TestSYNDiscovery(t *testing.T) {
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{})
	st, got := runSYN(t, Config{Targets: []string{"127.0.0.1", "127.1.9.0/28"}, TCPPorts: []uint16{1, 2, uint16(web.Port)}})
	if st.Items != 17*3 || st.ByStatus[model.StatusRefused] != 17*3-1 {
		t.Errorf("stats %+v, want %d items, %d refused", st, 17*3, 17*3-1)
	}
	if len(got) != 1 || got[0].Port != uint16(web.Port) || got[0].Fingerprint == nil || got[0].Fingerprint.Product != "lighttpd" {
		t.Errorf("got %+v, want lighttpd identified", got)
	}
}

func TestTCPChecksum(t *testing.T) {
	// A SYN from 10.0.0.1:40000 to 10.0.0.2:80, seq 1, checksum computed by hand.
	seg := []byte{0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0}
	c := tcpChecksum([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, seg)
	seg[16], seg[17] = byte(c>>8), byte(c)
	// Summing again including the checksum must give 0xffff (i.e. ^sum == 0).
	if tcpChecksum([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, seg) != 0 {
		t.Errorf("checksum %#04x does not verify", c)
	}
}

func FuzzParseSYNReply(f *testing.F) {
	p := &synProber{sport: 40001, seed: maphash.MakeSeed()}
	f.Add([]byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0, 80, 0x9c, 0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0x50, 0x14, 0, 0, 0, 0, 0, 0})
	// Random bytes essentially never carry a valid cookie; what is accepted
	// must name the sender and port the bytes say, and the IPv6 parser (TCP
	// segment without a header) gets the same input.
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, ok := p.parseSYNReply(b); ok {
			ihl := int(b[0]&0x0f) * 4
			if r.addr != netip.AddrFrom4([4]byte(b[12:16])) || r.port != binary.BigEndian.Uint16(b[ihl:]) {
				t.Fatalf("accepted %+v from %x", r, b)
			}
		}
		from := netip.IPv6Loopback()
		if r, ok := p.parseSYNReply6(b, from); ok && (r.addr != from || r.port != binary.BigEndian.Uint16(b)) {
			t.Fatalf("accepted %+v from %x", r, b)
		}
	})
}

// TestSYNCheckpointLags interrupts a SYN scan and checks that its checkpoint
// stays behind the SYNs whose replies were not awaited.
func TestSYNCheckpointLags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var sent bool
	st, err := Run(ctx, Config{Targets: []string{"127.1.10.0/24"}, TCPPorts: []uint16{1, 2}, SYN: true, SYNWait: time.Hour, Seed: 9,
		DiscoveryOnly: true, Rate: 2000, Progress: func(p Progress) {
			if !sent && p.Elapsed > 300*time.Millisecond {
				sent = true
				cancel()
			}
		}}, func(model.Service) error { return nil })
	if errors.Is(err, ErrNoRaw) {
		t.Skip(err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	// With replies awaited for an hour, nothing sent counts as finished.
	if st.Position != 0 {
		t.Errorf("checkpoint position %d, want 0 (SYNs still awaiting replies)", st.Position)
	}
}

// TestSYNIPv6 scans ::1 in SYN mode: two closed ports answer RST, the open
// one SYN-ACK, and the open one is then probed and identified.
func TestSYNIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	closed1, closed2 := uint16(testpeer.FreePort(t, "tcp")), uint16(testpeer.FreePort(t, "tcp"))
	st, got := runSYN(t, Config{Targets: []string{"::1", "127.0.0.1"}, TCPPorts: []uint16{closed1, closed2, port}})
	// 127.0.0.1: all three closed (the listener is IPv6 only), ::1: one open.
	if st.Items != 6 || st.ByStatus[model.StatusRefused] != 5 || st.SYNSent != 6 || st.SYNReplies != 6 {
		t.Errorf("stats %+v, want 6 items, 5 refused, 6 SYNs sent from raw sockets and 6 replies", st)
	}
	if len(got) != 1 || got[0].IP.String() != "::1" || got[0].Port != port || got[0].Fingerprint == nil || got[0].Fingerprint.Product != "OpenSSH" {
		t.Errorf("got %+v, want OpenSSH identified on [::1]:%d", got, port)
	}
}

func TestParseSYNReply6(t *testing.T) {
	p := &synProber{sport: 40001, seed: maphash.MakeSeed()}
	from := netip.MustParseAddr("2001:db8::7")
	seg := func(sport, dport uint16, ack uint32, flags byte) []byte {
		b := make([]byte, 20)
		binary.BigEndian.PutUint16(b[0:], sport)
		binary.BigEndian.PutUint16(b[2:], dport)
		binary.BigEndian.PutUint32(b[8:], ack)
		b[12], b[13] = 5<<4, flags
		return b
	}
	ok := p.cookie(from, 443) + 1
	tests := []struct {
		name string
		b    []byte
		from netip.Addr
		want synReply
		ok   bool
	}{
		{"syn-ack", seg(443, 40001, ok, 0x12), from, synReply{from, 443, true}, true},
		{"rst", seg(443, 40001, ok, 0x14), from, synReply{from, 443, false}, true},
		{"wrong cookie", seg(443, 40001, ok+1, 0x12), from, synReply{}, false},
		{"other port's cookie", seg(444, 40001, ok, 0x12), from, synReply{}, false},
		{"not our port", seg(443, 40002, ok, 0x12), from, synReply{}, false},
		{"other sender", seg(443, 40001, ok, 0x12), netip.MustParseAddr("2001:db8::8"), synReply{}, false},
		{"short", seg(443, 40001, ok, 0x12)[:19], from, synReply{}, false},
		{"ipv4 sender", seg(443, 40001, ok, 0x12), netip.MustParseAddr("192.0.2.1"), synReply{}, false},
	}
	for _, tc := range tests {
		r, got := p.parseSYNReply6(tc.b, tc.from)
		if got != tc.ok || r != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, r, got, tc.want, tc.ok)
		}
	}
}

// TestSYNTemplate checks that SYNs built from the template with the
// incremental checksum carry a checksum that verifies, the destination,
// port and cookie, whatever the addresses (carries in the sum included).
func TestSYNTemplate(t *testing.T) {
	for _, src := range []string{"127.0.0.1", "10.0.0.1", "255.255.255.254"} {
		p := &synProber{src: netip.MustParseAddr(src), sport: 40001, seed: maphash.MakeSeed(), Batch: synBatch, sendFD: -1}
		p.template()
		for i, dst := range []string{"127.1.0.1", "192.0.2.255", "255.255.255.255", "0.0.0.1"} {
			d := netip.MustParseAddr(dst)
			port := uint16(1 + i*21845)
			if err := p.send(d, port); err != nil {
				t.Fatal(err)
			}
			b := p.pkts[p.n-1]
			if ipChecksum(b[:20]) != 0 {
				t.Errorf("%s → %s:%d: IPv4 header checksum %#04x does not verify", src, dst, port, binary.BigEndian.Uint16(b[10:]))
			}
			if tcpChecksum(p.src.As4(), d.As4(), b[20:40]) != 0 {
				t.Errorf("%s → %s:%d: checksum %#04x does not verify", src, dst, port, binary.BigEndian.Uint16(b[36:]))
			}
			if netip.AddrFrom4([4]byte(b[16:20])) != d || binary.BigEndian.Uint16(b[22:]) != port || binary.BigEndian.Uint32(b[24:]) != p.cookie(d, port) {
				t.Errorf("%s → %s:%d: packet % x", src, dst, port, b)
			}
		}
		p.n = 0
	}
}

// ipChecksum sums an IPv4 header including its checksum: 0 if it verifies.
func ipChecksum(h []byte) uint16 {
	sum := uint32(0)
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestReadRoutes reads a routing table and an ARP table in the kernel's
// /proc formats and finds each address's route and the gateway's address.
func TestReadRoutes(t *testing.T) {
	rs, err := readRoutes("testdata/proc-net-route")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr, dev, gw string
	}{
		{"198.18.7.9", "s0", "10.213.0.2"},
		{"198.18.0.5", "s0", "10.213.0.2"}, // down0's longer route is not up
		{"10.213.0.2", "s0", ""},
		{"192.0.2.77", "eth0", ""},
		{"203.0.113.5", "eth0", "192.0.2.1"},
	}
	for _, tc := range tests {
		i := lookupRoute(rs, netip.MustParseAddr(tc.addr))
		if i < 0 {
			t.Errorf("%s: no route", tc.addr)
			continue
		}
		gw := ""
		if rs[i].gw.IsValid() {
			gw = rs[i].gw.String()
		}
		if rs[i].dev != tc.dev || gw != tc.gw {
			t.Errorf("%s: route %+v, want dev %s gateway %q", tc.addr, rs[i], tc.dev, tc.gw)
		}
	}
	if mac, ok := arpEntry("testdata/proc-net-arp", netip.MustParseAddr("10.213.0.2"), "s0"); !ok || net.HardwareAddr(mac[:]).String() != "ce:41:a2:22:40:94" {
		t.Errorf("ARP entry of 10.213.0.2 on s0: %x, %v", mac, ok)
	}
	for _, miss := range []struct{ ip, dev string }{{"10.213.0.2", "eth0"}, {"192.0.2.9", "eth0"}, {"192.0.2.1", "eth0"}} {
		if mac, ok := arpEntry("testdata/proc-net-arp", netip.MustParseAddr(miss.ip), miss.dev); ok {
			t.Errorf("ARP entry of %s on %s: %x, want none (absent or incomplete)", miss.ip, miss.dev, mac)
		}
	}
}

// BenchmarkSYNBuild measures building one SYN (template, cookie,
// incremental checksum) without sending it.
func BenchmarkSYNBuild(b *testing.B) {
	p := &synProber{src: netip.MustParseAddr("127.0.0.1"), sport: 40001, seed: maphash.MakeSeed(), Batch: synBatch, sendFD: -1}
	p.template()
	d := netip.MustParseAddr("127.1.0.1")
	b.ReportAllocs()
	for b.Loop() {
		_ = p.send(d, 80)
		p.n = 0
	}
}

// BenchmarkSYNLoopback sends SYNs to closed ports of 127.1.0.0/16 on
// loopback and validates the RSTs the kernel answers with (needs raw
// sockets).
func BenchmarkSYNLoopback(b *testing.B) {
	p, err := newSYNProber(netip.MustParseAddr("127.1.0.1"), netip.Addr{})
	if err != nil {
		b.Skip(err)
	}
	defer p.Close()
	benchSYN(b, p, 127, 1)
}

// benchSYN sends SYNs to port 1 of a.b.0.0/16 as fast as p can; probes/s
// is the send rate, validated/s the rate of sent and validated probes.
func benchSYN(b *testing.B, p *synProber, a0, a1 byte) {
	var stop atomic.Bool
	var replies atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.receive(&stop, func(synReply) { replies.Add(1) })
	}()
	start := time.Now()
	var sent int64
	for b.Loop() {
		if err := p.send(netip.AddrFrom4([4]byte{a0, a1, byte(sent >> 8), byte(sent)}), 1); err != nil {
			b.Error(err)
			break
		}
		sent++
	}
	if err := p.flush(); err != nil {
		b.Error(err)
	}
	sendTime := time.Since(start)
	for deadline := time.Now().Add(2 * time.Second); replies.Load() < sent && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	stop.Store(true)
	<-done
	b.ReportMetric(float64(sent)/sendTime.Seconds(), "probes/s")
	b.ReportMetric(float64(replies.Load())/el.Seconds(), "validated/s")
	b.ReportMetric(float64(replies.Load())/float64(sent), "replied/sent")
}
