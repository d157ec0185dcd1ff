package flow

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// geoPeers are peers of every kind: random IPv4 (public and not), IPv4
// from a few /24s (repeated peers), IPv4-mapped IPv6 and IPv6.
func geoPeers(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(7, 8))
	ps := make([]netip.Addr, n)
	for i := range ps {
		var b [4]byte
		v := r.Uint32()
		b = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		switch i % 10 {
		case 1:
			b[0], b[1] = 10, 1 // private
		case 2:
			b[0], b[1], b[2] = []byte{8, 93, 1}[i%3], 8, 8 // repeated peers
		case 3:
			ps[i] = netip.AddrFrom16(netip.AddrFrom4(b).As16()) // IPv4-mapped
			continue
		case 4:
			var s [16]byte
			s[0], s[1], s[2], s[15] = 0x20, 0x01, byte(i), byte(v)
			ps[i] = netip.AddrFrom16(s)
			continue
		}
		ps[i] = netip.AddrFrom4(b)
	}
	return ps
}

// TestAttrIndexGeo: an index that numbers IPv4 peers with the attributor's
// table (geo) gives every peer the number, and keeps the attribution list,
// of one that looks each peer up (before the table is built too).
func TestAttrIndexGeo(t *testing.T) {
	at, err := geo.New("")
	if err != nil {
		t.Fatal(err)
	}
	ps := geoPeers(50_000)
	want := newAttrIndex(at.Lookup)
	got := newAttrIndex(at.Lookup)
	got.geo = at
	for i, p := range ps {
		if i == len(ps)/4 {
			if err := geo.BuildTable4(); err != nil {
				t.Fatal(err)
			}
		}
		if i+readAhead < len(ps) {
			if p4, ok := v4(ps[i+readAhead]); ok {
				got.prefetch(p4)
			}
		}
		if g, w := got.attr(p), want.attr(p); g != w {
			t.Fatalf("peer %d %s: number %d, want %d", i, p, g, w)
		}
	}
	if len(got.attrs) != len(want.attrs) || len(got.attrs) < 50 {
		t.Fatalf("%d attributions, want %d (and some 200 countries)", len(got.attrs), len(want.attrs))
	}
	for i := range got.attrs {
		if got.attrs[i] != want.attrs[i] {
			t.Fatalf("attribution %d: %+v, want %+v", i, got.attrs[i], want.attrs[i])
		}
	}
	if len(got.geoNum) == 0 {
		t.Error("the table numbered no peer")
	}
}

// TestPipelineAttributor: a pipeline given the attributor (which numbers
// IPv4 peers with its table, in the producer or, when it drops, in the
// aggregation) attributes every relation and hourly roll-up as one given
// its Lookup.
func TestPipelineAttributor(t *testing.T) {
	at, err := geo.New("")
	if err != nil {
		t.Fatal(err)
	}
	if err := geo.BuildTable4(); err != nil {
		t.Fatal(err)
	}
	ps := geoPeers(20_000)
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	run := func(pol Policy, cfg PipelineConfig) (map[RelationKey]geo.Attribution, map[string]uint64) {
		cfg.Policy, cfg.BatchSize, cfg.Queue = pol, 256, 200 // room for every batch: none dropped
		p := NewPipeline(cfg)
		for i, peer := range ps {
			dev := netip.AddrFrom4([4]byte{192, 168, 0, byte(1 + i%7)})
			if !peer.Is4() {
				dev = netip.MustParseAddr("fd00::1")
			}
			p.Flow(Record{Start: t0.Add(time.Duration(i) * time.Second), Src: dev, Dst: peer, DstPort: 443, Proto: ProtoTCP, Packets: 1, Bytes: 60})
		}
		res := checkpoint(t, p, true)
		defer res.Rollups.Close()
		if p.dropped.Load() != 0 {
			t.Fatalf("%d records dropped", p.dropped.Load())
		}
		all, err := res.Rollups.all()
		if err != nil {
			t.Fatal(err)
		}
		rels := map[RelationKey]geo.Attribution{}
		for _, r := range all {
			rels[r.RelationKey] = res.Rollups.Attributions[r.Attr]
		}
		hours := map[string]uint64{}
		for _, h := range res.Rollups.Hourly {
			a := res.Rollups.Attributions[h.Attr]
			hours[fmt.Sprint(h.Device, h.Hour, a)] += h.Bytes
		}
		return rels, hours
	}
	for _, pol := range []Policy{Block, Drop} {
		wantRels, wantHours := run(pol, PipelineConfig{Attribute: at.Lookup})
		gotRels, gotHours := run(pol, PipelineConfig{Attributor: at})
		countries := map[string]bool{}
		for k, w := range wantRels {
			if g, ok := gotRels[k]; !ok || g != w {
				t.Fatalf("policy %d: relation %+v attributed %+v, want %+v", pol, k, g, w)
			}
			countries[w.Country] = true
		}
		if len(gotRels) != len(wantRels) || len(countries) < 50 {
			t.Fatalf("policy %d: %d relations, want %d (in %d countries, want some 200)", pol, len(gotRels), len(wantRels), len(countries))
		}
		if !maps.Equal(gotHours, wantHours) || len(gotHours) < 50 {
			t.Fatalf("policy %d: %d hourly roll-ups, want the same %d", pol, len(gotHours), len(wantHours))
		}
	}
}

// BenchmarkAttrIndex numbers the attributions of a producer's batches of
// random public IPv4 peers (every one new), as Pipeline.lookUp does: with
// the attributor's table's numbers (geo), or its Lookup's attributions.
func BenchmarkAttrIndex(b *testing.B) {
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	if err := geo.BuildTable4(); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	peers := make([]netip.Addr, 1<<20)
	p4s := make([]uint32, len(peers))
	for i := range peers {
		p4s[i] = r.Uint32()
		peers[i] = netip.AddrFrom4([4]byte{byte(p4s[i] >> 24), byte(p4s[i] >> 16), byte(p4s[i] >> 8), byte(p4s[i])})
	}
	for _, mode := range []string{"lookup", "geo"} {
		b.Run(mode, func(b *testing.B) {
			x := newAttrIndex(at.Lookup)
			if mode == "geo" {
				x.geo = at
			}
			i := 0
			for b.Loop() {
				if j := (i + readAhead) & (len(peers) - 1); j%1024 >= readAhead {
					x.prefetch(p4s[j])
				}
				x.attr(peers[i&(len(peers)-1)])
				i++
			}
		})
	}
	// As Pipeline.send and lookUp do: a batch's table entries asked for
	// as it is oriented, its ranges a few peers ahead of their lookup.
	b.Run("geo-batch", func(b *testing.B) {
		x := newAttrIndex(at.Lookup)
		x.geo = at
		const batch = 1024
		i := 0
		for b.Loop() {
			ps, p4 := peers[i:i+batch], p4s[i:i+batch]
			for _, p := range p4 {
				x.prefetchEntry(p)
			}
			for k, p := range ps {
				if j := k + readAhead; j < batch {
					x.prefetchRanges(p4[j])
				}
				x.attr(p)
			}
			i = (i + batch) & (len(peers) - 1)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/peer")
	})
}
