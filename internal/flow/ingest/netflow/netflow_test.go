package netflow

import (
	"bufio"
	"encoding/json"
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
