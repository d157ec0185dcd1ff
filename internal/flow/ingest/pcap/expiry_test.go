package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

// tcpFrame is an Ethernet frame of a TCP packet without payload (IP
// packet: 40 bytes over IPv4, 60 over IPv6).
func tcpFrame(src, dst netip.Addr, sp, dp uint16, flags uint8) []byte {
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	if src.Is4() {
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, flow.ProtoTCP
		binary.BigEndian.PutUint16(ip[2:], 40)
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		f = append(f, ip...)
	} else {
		f[12], f[13] = 0x86, 0xdd
		ip := make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, flow.ProtoTCP, 64
		binary.BigEndian.PutUint16(ip[4:], 20)
		copy(ip[8:], src.AsSlice())
		copy(ip[24:], dst.AsSlice())
		f = append(f, ip...)
	}
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp, sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	tcp[12], tcp[13] = 5<<4, flags
	return append(f, tcp...)
}

// to6 maps an IPv4 address into fd00::/96.
func to6(a netip.Addr) netip.Addr {
	b := [16]byte{0xfd}
	copy(b[12:], a.AsSlice())
	return netip.AddrFrom16(b)
}

// TestExpiryFamilies assembles the same packets over IPv4 and over IPv6,
// many flows at once: IPv4 flows are in flowTable, their addresses in their
// key, IPv6 ones in a map, their addresses in a wideState. Both must give the same flows in the same order (the order of the list
// of open flows), with idle and active timeouts, FIN and RST ends, flows
// that go on across sweeps and, in some cases, a clock that goes back.
func TestExpiryFamilies(t *testing.T) {
	checkingHints(t)
	for _, tc := range []struct {
		name         string
		conns, pkts  int
		gap          time.Duration // mean time between packets
		back         int           // one packet in back goes back in time (0: none)
		idle, active time.Duration
	}{
		{"idle, many flows a sweep", 3000, 40000, 30 * time.Millisecond, 0, time.Minute, 30 * time.Minute},
		{"idle, few flows a sweep", 300, 8000, 500 * time.Millisecond, 0, time.Minute, 30 * time.Minute},
		{"active timeout", 200, 30000, 20 * time.Millisecond, 0, 20 * time.Second, 45 * time.Second},
		{"clock goes back", 2000, 40000, 40 * time.Millisecond, 300, time.Minute, 30 * time.Minute},
		{"clock goes back, short timeouts", 500, 20000, 30 * time.Millisecond, 100, 5 * time.Second, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.pkts), 3))
			type conn struct {
				a, b   netip.Addr
				ap, bp uint16
			}
			conns := make([]conn, tc.conns)
			for i := range conns {
				conns[i] = conn{netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(4)), byte(rng.IntN(256))}),
					uint16(1024 + rng.IntN(60000)), []uint16{443, 80, 22}[rng.IntN(3)]}
			}
			flags := []uint8{0x02, 0x12, 0x10, 0x10, 0x18, 0x18, 0x18, 0x11, 0x04}
			var v4, v6 []frame
			ts := synth.Base
			for range tc.pkts {
				ts = ts.Add(time.Duration(rng.ExpFloat64() * float64(tc.gap)))
				if tc.back > 0 && rng.IntN(tc.back) == 0 {
					ts = ts.Add(-time.Duration(rng.Int64N(int64(2 * tc.idle))))
				}
				c := conns[rng.IntN(len(conns))]
				if rng.IntN(4) == 0 {
					c = conns[rng.IntN(min(len(conns), 50))] // busy ones
				}
				src, dst, sp, dp := c.a, c.b, c.ap, c.bp
				if rng.IntN(3) == 0 {
					src, dst, sp, dp = dst, src, dp, sp
				}
				fl := flags[rng.IntN(len(flags))]
				v4 = append(v4, frame{ts, tcpFrame(src, dst, sp, dp, fl)})
				v6 = append(v6, frame{ts, tcpFrame(to6(src), to6(dst), sp, dp, fl)})
			}
			read := func(fs []frame) *synth.Collect {
				var buf bytes.Buffer
				if err := writeFrames(&buf, fs); err != nil {
					t.Fatal(err)
				}
				c := &synth.Collect{}
				if _, err := Read(context.Background(), &buf, c, Options{IdleTimeout: tc.idle, ActiveTimeout: tc.active}); err != nil {
					t.Fatal(err)
				}
				return c
			}
			r4, r6 := read(v4).Records, read(v6).Records
			if len(r4) != len(r6) || len(r4) < tc.pkts/10 {
				t.Fatalf("%d flows over IPv4, %d over IPv6 (of %d packets)", len(r4), len(r6), tc.pkts)
			}
			var multi int
			for i := range r4 {
				a, b := r4[i], r6[i]
				if b.Bytes != 60*b.Packets || b.RevBytes != 60*b.RevPackets || a.Bytes != 40*a.Packets || a.RevBytes != 40*a.RevPackets {
					t.Fatalf("flow %d: bytes %d/%d over IPv4, %d/%d over IPv6", i, a.Bytes, a.RevBytes, b.Bytes, b.RevBytes)
				}
				a.Src, a.Dst, a.Bytes, a.RevBytes = to6(a.Src), to6(a.Dst), 0, 0
				b.Bytes, b.RevBytes = 0, 0
				if a != b {
					t.Fatalf("flow %d:\nIPv4 %+v\nIPv6 %+v", i, a, b)
				}
				if a.Packets+a.RevPackets > 1 {
					multi++
				}
			}
			if multi < len(r4)/20 {
				t.Fatalf("%d flows of more than a packet in %d", multi, len(r4))
			}
		})
	}
}
