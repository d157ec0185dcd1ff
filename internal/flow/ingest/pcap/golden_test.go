package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/assembly")

// checkingHints has add check the reader's hints (it panics on one that is
// not its packet's key's hash) until the test ends.
func checkingHints(tb testing.TB) {
	checkHints = true
	tb.Cleanup(func() { checkHints = false })
}

// frame is one generated packet: its time and its Ethernet frame.
type frame struct {
	ts   time.Time
	data []byte
}

// conversation is a pair of endpoints packets go between, either way.
type conversation struct {
	a, b   netip.Addr
	ap, bp uint16
	proto  uint8
}

// genFrames draws n packets among a pool of conversations (IPv4 and IPv6,
// TCP, UDP and ICMP; lateral and outside peers): TCP flags of every kind
// (handshakes, data, FINs, RSTs), SSH banners, KRPC messages, DNS answers,
// Mirai-like SYNs, later IPv4 fragments, VLAN tags, truncated headers and
// non-IP frames; times mostly going forward by a second or two, with gaps
// longer than the idle timeout and steps back (a capture whose clock went
// back), from start.
func genFrames(rng *rand.Rand, n int, start time.Time) []frame {
	addr := func(v6 bool, outside bool, i int) netip.Addr {
		switch {
		case v6 && outside:
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
		case v6:
			return netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(i)})
		case outside:
			return netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		}
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
	var convs []conversation
	for range 60 {
		v6 := rng.IntN(5) == 0
		c := conversation{a: addr(v6, false, 1+rng.IntN(12)), b: addr(v6, rng.IntN(4) != 0, 1+rng.IntN(12)),
			ap: uint16(1024 + rng.IntN(40000)), bp: []uint16{22, 53, 80, 443, 6881, 8883, 40000}[rng.IntN(7)]}
		switch r := rng.IntN(20); {
		case r < 14:
			c.proto = flow.ProtoTCP
		case r < 19:
			c.proto = flow.ProtoUDP
		default:
			c.proto, c.ap, c.bp = 1, 0, 0 // ICMP: no ports
		}
		if rng.IntN(30) == 0 {
			c.b, c.bp = c.a, c.ap // a host talking to itself
		}
		convs = append(convs, c)
	}
	for i := range 3 {
		convs[i].proto = flow.ProtoUDP
	}
	flags := []uint8{0x02, 0x12, 0x10, 0x10, 0x10, 0x18, 0x18, 0x18, 0x11, 0x11, 0x04, 0x14, 0x00}
	t := start
	var out []frame
	for range n {
		switch r := rng.IntN(200); {
		case r < 2:
			t = t.Add(time.Duration(60+rng.IntN(300)) * time.Second) // idle gap
		case r < 4:
			t = t.Add(-time.Duration(rng.IntN(120e3)) * time.Millisecond) // clock back
		case r < 6:
			t = t.Add(-time.Duration(rng.IntN(1500)) * time.Millisecond)
		default:
			t = t.Add(time.Duration(rng.ExpFloat64() * 1.5e9))
		}
		c := convs[rng.IntN(len(convs))]
		if rng.IntN(10) < 3 {
			c = convs[rng.IntN(3)] // busy: ended by the active timeout
		}
		src, dst, sp, dp := c.a, c.b, c.ap, c.bp
		if rng.IntN(3) == 0 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		var l4 []byte
		switch c.proto {
		case flow.ProtoTCP:
			l4 = make([]byte, 20)
			binary.BigEndian.PutUint16(l4, sp)
			binary.BigEndian.PutUint16(l4[2:], dp)
			binary.BigEndian.PutUint32(l4[4:], rng.Uint32())
			l4[12], l4[13] = 5<<4, flags[rng.IntN(len(flags))]
			if rng.IntN(6) == 0 && dst.Is4() {
				l4[13] = 0x02
				copy(l4[4:8], dst.AsSlice()) // Mirai's sequence number
			}
			if rng.IntN(8) == 0 {
				l4 = append(l4, "SSH-2.0-OpenSSH_9.2"...)
			} else if rng.IntN(4) == 0 {
				l4 = append(l4, make([]byte, rng.IntN(1200))...)
			}
		case flow.ProtoUDP:
			var p []byte
			switch rng.IntN(4) {
			case 0:
				p = []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
			case 1:
				if rng.IntN(2) == 0 {
					sp = 53
				}
				d := &layers.DNS{ID: 1, QR: rng.IntN(5) != 0,
					Questions: []layers.DNSQuestion{{Name: []byte("Cam.Example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
					Answers: []layers.DNSResourceRecord{
						{Name: []byte("Cam.Example.com."), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: addr(false, true, rng.IntN(250)).AsSlice()},
						{Name: []byte("cam.example.com"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN, TTL: 60, IP: addr(true, true, rng.IntN(250)).AsSlice()},
					}}
				buf := gopacket.NewSerializeBuffer()
				if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
					panic(err)
				}
				p = bytes.Clone(buf.Bytes())
			default:
				p = make([]byte, rng.IntN(300))
			}
			l4 = make([]byte, 8, 8+len(p))
			binary.BigEndian.PutUint16(l4, sp)
			binary.BigEndian.PutUint16(l4[2:], dp)
			binary.BigEndian.PutUint16(l4[4:], uint16(8+len(p)))
			l4 = append(l4, p...)
		default:
			l4 = []byte{8, 0, 0, 0, 0, 1, 0, 1}
		}
		if rng.IntN(40) == 0 {
			l4 = l4[:rng.IntN(len(l4))] // cut short
		}
		var ip []byte
		if src.Is4() {
			ip = make([]byte, 20, 20+len(l4))
			ip[0], ip[8], ip[9] = 0x45, 64, c.proto
			binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
			if rng.IntN(40) == 0 {
				binary.BigEndian.PutUint16(ip[6:], uint16(1+rng.IntN(100))) // a later fragment
			}
			copy(ip[12:], src.AsSlice())
			copy(ip[16:], dst.AsSlice())
		} else {
			ip = make([]byte, 40, 40+len(l4))
			ip[0], ip[6], ip[7] = 0x60, c.proto, 64
			binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
			copy(ip[8:], src.AsSlice())
			copy(ip[24:], dst.AsSlice())
		}
		ip = append(ip, l4...)
		eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
		switch r := rng.IntN(60); {
		case r == 0:
			eth = append(eth, 0x08, 0x06) // ARP: not IP
		case r < 4:
			eth = append(eth, 0x81, 0x00, 0, 7) // VLAN 7
			fallthrough
		default:
			if src.Is4() {
				eth = append(eth, 0x08, 0x00)
			} else {
				eth = append(eth, 0x86, 0xdd)
			}
		}
		out = append(out, frame{t, append(eth, ip...)})
	}
	return out
}

// writeFrames writes frames as a classic pcap (microseconds).
func writeFrames(w io.Writer, fs []frame) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, f := range fs {
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: f.ts, CaptureLength: len(f.data), Length: len(f.data)}, f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeFramesNg writes frames as a pcapng of microsecond resolution, its
// times as they are (pcapgo's writer takes them as Unix nanoseconds, which
// do not hold times after 2262).
func writeFramesNg(w io.Writer, fs []frame) error {
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		b := le.AppendUint32(le.AppendUint32(nil, typ), uint32(12+len(body)))
		return le.AppendUint32(append(b, body...), uint32(12+len(body)))
	}
	shb := le.AppendUint64(le.AppendUint16(le.AppendUint16(le.AppendUint32(nil, 0x1A2B3C4D), 1), 0), math.MaxUint64)
	idb := le.AppendUint32(le.AppendUint16(le.AppendUint16(nil, uint16(layers.LinkTypeEthernet)), 0), 65535)
	idb = append(le.AppendUint16(le.AppendUint16(idb, 9), 1), 6, 0, 0, 0) // if_tsresol 6: microseconds
	out := append(block(0x0A0D0D0A, shb), block(1, idb)...)
	for _, f := range fs {
		us := uint64(f.ts.Unix())*1e6 + uint64(f.ts.Nanosecond()/1e3)
		epb := le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(nil, 0), uint32(us>>32)), uint32(us)), uint32(len(f.data))), uint32(len(f.data)))
		out = append(out, block(6, append(epb, f.data...))...)
	}
	_, err := w.Write(out)
	return err
}

// byValue is a synth.Collect (records given by value).
type byValue struct{ synth.Collect }

func (c *byValue) collected() *synth.Collect { return &c.Collect }

// recordCollect is a synth.Collect that takes records in place
// (flow.RecordSink), as flow.Pipeline does.
type recordCollect struct{ synth.Collect }

func (c *recordCollect) collected() *synth.Collect { return &c.Collect }

func (c *recordCollect) Record() *flow.Record {
	c.Records = append(c.Records, flow.Record{})
	return &c.Records[len(c.Records)-1]
}

// TestAssemblyGolden assembles generated captures (genFrames) and compares
// every record, DNS answer and count with testdata/assembly: any change to
// how packets become flows (their ends by FIN, RST, idle and active
// timeouts, the order flows are emitted in, the side that opened them,
// their counters) shows here. The pcapng's times are after 2262, beyond
// Unix nanoseconds. Records given in place (flow.RecordSink) and by value
// are the same.
func TestAssemblyGolden(t *testing.T) {
	checkingHints(t)
	for _, tc := range []struct {
		name  string
		seed  uint64
		start time.Time
		write func(io.Writer, []frame) error
		opt   Options
	}{
		{"pcap", 1, synth.Base, writeFrames, Options{}},
		{"pcap-active-5m", 2, synth.Base, writeFrames, Options{IdleTimeout: 40 * time.Second, ActiveTimeout: 5 * time.Minute}},
		{"pcapng-2300", 3, time.Date(2300, 1, 2, 3, 4, 5, 0, time.UTC), writeFramesNg, Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var capture bytes.Buffer
			if err := tc.write(&capture, genFrames(rand.New(rand.NewPCG(tc.seed, 99)), 1200, tc.start)); err != nil {
				t.Fatal(err)
			}
			var outs [2][]byte
			for v, sink := range []interface {
				flow.Sink
				collected() *synth.Collect
			}{&byValue{}, &recordCollect{}} {
				st, err := Read(context.Background(), bytes.NewReader(capture.Bytes()), sink, tc.opt)
				if err != nil {
					t.Fatal(err)
				}
				c := sink.collected()
				if len(c.Records) < 200 || len(c.Answers) == 0 || st.Malformed == 0 || st.NonIP == 0 {
					t.Fatalf("capture too plain: %d records, %d answers, stats %+v", len(c.Records), len(c.Answers), st)
				}
				var out bytes.Buffer
				fmt.Fprintf(&out, "%+v\n", st)
				for _, r := range c.Records {
					fmt.Fprintf(&out, "%s %s %s %s:%d>%s:%d p%d f%#02x %d/%d %d/%d %q a%d s%d m%t\n",
						r.Start.Format(time.RFC3339Nano), r.End.Format(time.RFC3339Nano), r.End.Location(), r.Src, r.SrcPort, r.Dst, r.DstPort,
						r.Proto, r.TCPFlags, r.Packets, r.Bytes, r.RevPackets, r.RevBytes, r.App, r.Attempts, r.SamplingRate, r.MiraiSeq)
				}
				for _, a := range c.Answers {
					fmt.Fprintf(&out, "dns %s %s %s\n", a.Time.Format(time.RFC3339Nano), a.Name, a.Addr)
				}
				outs[v] = out.Bytes()
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatal("records given in place differ from records given by value")
			}
			var got bytes.Buffer
			got.Write(outs[1])
			path := filepath.Join("testdata", "assembly", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := bytes.Split(got.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := range min(len(gl), len(wl)) {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d lines, want %d", len(gl), len(wl))
			}
		})
	}
}
