package flow

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// TestPipelineAttribution: the producer (Block) looks the peers up, the
// aggregation numbers their attributions: each result's relations and
// hourly roll-ups name their peers' attributions (a few countries, numbered
// afresh after a checkpoint while the producer keeps its own numbers), the
// peers of a drop policy's producer too, and the attribution of each peer
// is looked up at most once per producer (Block) while it stays in its
// cache.
func TestPipelineAttribution(t *testing.T) {
	countries := []string{"DE", "US", "", "FR", "JP", "NL", "BR"}
	country := func(a netip.Addr) string { return countries[a.As4()[3]%7] }
	for _, pol := range []Policy{Block, Drop} {
		t.Run([]string{"block", "drop"}[pol], func(t *testing.T) {
			var lookups atomic.Int64
			p := NewPipeline(PipelineConfig{Policy: pol, BatchSize: 5, Queue: 1000,
				Attribute: func(a netip.Addr) geo.Attribution {
					lookups.Add(1)
					return geo.Attribution{Country: country(a), CountryDB: "test"}
				}})
			var results []*Result
			for seg, n := range []int{3, 40, 200} { // the first segment sees some countries only
				for i := 1; i <= n; i++ {
					r := Record{Start: time.Unix(int64(i+1000*seg), 0), Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%5)}),
						Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 50)}), DstPort: 443, Proto: ProtoTCP, Packets: 1}
					p.Flow(r)
				}
				res := checkpoint(t, p, seg == 2)
				results = append(results, res)
			}
			for seg, res := range results {
				all, err := res.Rollups.all()
				if err != nil {
					t.Fatal(err)
				}
				if len(all) == 0 || len(res.Rollups.Hourly) == 0 {
					t.Fatalf("segment %d: %d relations, %d hourly roll-ups", seg, len(all), len(res.Rollups.Hourly))
				}
				seen := map[string]bool{}
				for _, r := range all {
					at := res.Rollups.Attributions[r.Attr]
					if at.Country != country(r.Peer) || at.CountryDB != "test" {
						t.Fatalf("segment %d: relation with %s attributed %+v, want %q", seg, r.Peer, at, country(r.Peer))
					}
					seen[at.Country] = true
				}
				if len(res.Rollups.Attributions) != len(seen) {
					t.Fatalf("segment %d: attributions %v, want those of its relations %v", seg, res.Rollups.Attributions, seen)
				}
				for _, h := range res.Rollups.Hourly {
					if int(h.Attr) >= len(res.Rollups.Attributions) {
						t.Fatalf("segment %d: hourly roll-up's attribution %d of %d", seg, h.Attr, len(res.Rollups.Attributions))
					}
				}
				res.Rollups.Close()
			}
			if pol == Block && lookups.Load() != 50 {
				t.Fatalf("%d look-ups of 50 peers", lookups.Load())
			}
		})
	}
}
