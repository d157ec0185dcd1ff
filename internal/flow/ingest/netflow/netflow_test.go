package netflow

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
)

const fixtures = "../../../../../shared/data/flows/netflow"

type collect struct {
	recs []flow.Record
	dns  []flow.DNSAnswer
}

func (c *collect) Flow(r flow.Record)   { c.recs = append(c.recs, r) }
func (c *collect) DNS(a flow.DNSAnswer) { c.dns = append(c.dns, a) }
func (c *collect) Flush()               {}

// datagrams returns the UDP payloads of a capture with their source.
type datagram struct {
	from    netip.AddrPort
	ts      time.Time
	payload []byte
}

func datagrams(t testing.TB, path string) []datagram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []datagram
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil {
			continue
		}
		var src netip.Addr
		if n := p.NetworkLayer(); n != nil {
			src, _ = netip.AddrFromSlice(n.NetworkFlow().Src().Raw())
		}
		out = append(out, datagram{netip.AddrPortFrom(src.Unmap(), uint16(udp.SrcPort)), ci.Timestamp, udp.Payload})
	}
	return out
}

type golden struct {
	IPSrc   string `json:"ip_src"`
	IPDst   string `json:"ip_dst"`
	PortSrc int    `json:"port_src"`
	PortDst int    `json:"port_dst"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func key(src, dst string, sp, dp int) string { return fmt.Sprintf("%s:%d>%s:%d", src, sp, dst, dp) }

// TestDecodeAgainstNfacctd replays the UDP payloads of real exporter captures
// into the decoder and compares per-flow packet and byte totals with what
// pmacct's nfacctd decoded from the same captures.
func TestDecodeAgainstNfacctd(t *testing.T) {
	cases := []struct {
		name string
		// minMatch is the share of nfacctd's flow keys we must reproduce
		// exactly (counters included).
		minMatch float64
	}{
		{"ipfix-cisco-asr9k", 1},
		{"nfv9-cisco-asr9k", 1},
		{"nfv9-cisco-sampling", 1},
		{"ipfix-ipv6-cisco-sampling-option", 1},
		{"ipfix-huawei-vrf-name", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := NewDecoder()
			if err != nil {
				t.Fatal(err)
			}
			c := &collect{}
			for _, d := range datagrams(t, filepath.Join(fixtures, tc.name+".pcap")) {
				dec.Decode(d.payload, d.from, d.ts, c)
			}
			got := map[string][2]uint64{}
			for _, r := range c.recs {
				k := key(r.Src.String(), r.Dst.String(), int(r.SrcPort), int(r.DstPort))
				v := got[k]
				got[k] = [2]uint64{v[0] + r.Packets, v[1] + r.Bytes}
			}
			want := map[string][2]uint64{}
			f, err := os.Open(filepath.Join(fixtures, tc.name+".nfacctd-output.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var g golden
				if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
					t.Fatal(err)
				}
				k := key(g.IPSrc, g.IPDst, g.PortSrc, g.PortDst)
				v := want[k]
				want[k] = [2]uint64{v[0] + g.Packets, v[1] + g.Bytes}
			}
			var miss []string
			for k, w := range want {
				if got[k] != w {
					miss = append(miss, fmt.Sprintf("%s: got %v, want %v", k, got[k], w))
				}
			}
			sort.Strings(miss)
			match := 1 - float64(len(miss))/float64(len(want))
			t.Logf("%d records decoded, %d nfacctd keys, %.0f%% match; stats %+v", len(c.recs), len(want), match*100, dec.Stats)
			if match < tc.minMatch {
				t.Errorf("%d of %d flow keys differ from nfacctd:\n%s", len(miss), len(want), strings.Join(miss, "\n"))
			}
		})
	}
}

func TestMalformedAndUnknownTemplates(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:9995")
	c := &collect{}
	for _, in := range [][]byte{nil, {0}, {0, 9}, {0, 9, 0, 1, 0, 0}, {0, 10, 0, 16}, {0xde, 0xad, 0xbe, 0xef, 1, 2, 3}, make([]byte, 1500)} {
		if _, err := dec.Decode(in, from, time.Now(), c); err == nil {
			t.Errorf("Decode(%x) accepted garbage", in)
		}
	}
	// NetFlow v5 whose header counts more records than the datagram holds
	// (the fuzzer's find: 24 bytes claiming 65,520 records gave 65,520
	// empty flows), none, or more than the 30 a datagram may carry.
	v5 := func(count, records int) []byte {
		b := make([]byte, v5Header+records*v5Record)
		binary.BigEndian.PutUint16(b, 5)
		binary.BigEndian.PutUint16(b[2:], uint16(count))
		return b
	}
	for _, in := range [][]byte{v5(0xfff0, 0), v5(2, 1), v5(0, 0), v5(31, 31), []byte("\x00\x05\xff\xf00000\x00\x0000000000000000")} {
		if n, err := dec.Decode(in, from, time.Now(), c); !errors.Is(err, ErrMalformed) || n != 0 {
			t.Errorf("Decode(v5 header %x, %d bytes) = %d records, %v; want ErrMalformed", in[:4], len(in), n, err)
		}
	}
	if n, err := dec.Decode(v5(1, 1), from, time.Now(), c); err != nil || n != 1 {
		t.Errorf("Decode(v5, one record) = %d, %v", n, err)
	}
	c.recs = nil
	if dec.Stats.Malformed < 11 || len(c.recs) != 0 {
		t.Errorf("malformed %d, records %d", dec.Stats.Malformed, len(c.recs))
	}
	// Data before its template: counted, skipped, and decoded once the template arrives.
	dgs := datagrams(t, filepath.Join(fixtures, "ipfix-cisco-asr9k.pcap"))
	dec2, _ := NewDecoder()
	c2 := &collect{}
	var noTmpl int
	for i := len(dgs) - 1; i >= 0; i-- { // reversed: data sets arrive before templates
		if _, err := dec2.Decode(dgs[i].payload, dgs[i].from, dgs[i].ts, c2); errors.Is(err, ErrNoTemplate) {
			noTmpl++
		}
	}
	if noTmpl == 0 || dec2.Stats.NoTemplate == 0 {
		t.Errorf("no datagram reported a missing template (stats %+v)", dec2.Stats)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"nfv9-cisco-asr9k", "ipfix-cisco-asr9k", "ipfix-ipv6-cisco-sampling-option"} {
		for i, d := range datagrams(f, filepath.Join(fixtures, name+".pcap")) {
			if i < 4 {
				f.Add(d.payload)
			}
		}
	}
	f.Add([]byte{0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 5, 0, 0, 0, 1, 127, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, err := NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		c := &collect{}
		from := netip.MustParseAddrPort("127.0.0.1:2055")
		n, _ := dec.Decode(data, from, time.Unix(0, 0), c)
		n2, _ := dec.Decode(data, from, time.Unix(0, 0), c) // a template from the first pass may apply
		if n+n2 != len(c.recs) {
			t.Fatalf("returned %d records, sink got %d", n+n2, len(c.recs))
		}
	})
}

func BenchmarkDecodeNFv9(b *testing.B) {
	dgs := datagrams(b, filepath.Join(fixtures, "nfv9-cisco-asr9k.pcap"))
	dec, err := NewDecoder()
	if err != nil {
		b.Fatal(err)
	}
	c := &collect{}
	for _, d := range dgs { // learn templates
		dec.Decode(d.payload, d.from, d.ts, c)
	}
	b.ReportAllocs()
	recs := 0
	for b.Loop() {
		for _, d := range dgs {
			n, _ := dec.Decode(d.payload, d.from, d.ts, c)
			recs += n
		}
		c.recs = c.recs[:0]
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}
