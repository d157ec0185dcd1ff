package flow

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// mixedRecords returns n records of IPv4 and IPv6 devices, known and not,
// with peers seen again (relations summed) and new ones, over three hours
// in no particular order.
func mixedRecords(n int) addWorkload {
	rng := rand.New(rand.NewPCG(21, 22))
	t0 := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	w := addWorkload{recs: make([]Record, n), os: make([]Orientation, n)}
	for i := range w.recs {
		d := rng.IntN(60)
		var dev, peer netip.Addr
		if d < 50 {
			dev = addr4(0x0a000000 + uint32(d))
			if rng.IntN(2) == 0 {
				peer = addr4(0x0b000000 + rng.Uint32N(3000)*977)
			} else {
				peer = addr4(0x0b000000 + rng.Uint32N(0xc0000000))
			}
		} else {
			dev = netip.AddrFrom16([16]byte{0xfd, 15: byte(d)})
			peer = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(rng.IntN(256)), 15: byte(rng.IntN(50))})
		}
		r := &w.recs[i]
		r.Src, r.Dst, r.Proto, r.DstPort = dev, peer, []uint8{ProtoTCP, ProtoUDP}[rng.IntN(2)], []uint16{53, 443}[rng.IntN(2)]
		r.Start = t0.Add(time.Duration(rng.IntN(3*3600)) * time.Second)
		if rng.IntN(3) > 0 {
			r.End = r.Start.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
		}
		r.Packets, r.Bytes, r.RevPackets, r.RevBytes = uint64(1+rng.IntN(9)), uint64(60+rng.IntN(2000)), uint64(rng.IntN(3)), uint64(rng.IntN(500))
		w.os[i] = Orientation{Device: dev, Peer: peer, Port: r.DstPort, Outbound: rng.IntN(4) > 0, Known: d%3 == 0}
	}
	return w
}

// countryOf attributes a peer to one of a few countries by its last byte.
func countryOf(a netip.Addr) geo.Attribution {
	b := a.As16()
	return geo.Attribution{Country: []string{"DE", "US", "", "FR", "JP"}[b[15]%5], CountryDB: "test"}
}

// addAll adds a batch as the pipeline's two stages do (in one aggregator).
func (a *Aggregator) addAll(recs []Record, ors []Orientation) {
	a.testAIs = a.addRelations(recs, ors, nil, nil, a.testAIs[:0])
	a.addHours(recs, ors, a.testAIs)
}

// addAllNumbered is addAll for a batch whose peers a pipeline's producer
// numbered in its own index, px (see attrIndex).
func (a *Aggregator) addAllNumbered(recs []Record, ors []Orientation, px *attrIndex) {
	pis := make([]uint32, len(recs))
	for i := range ors {
		pis[i] = px.attr(ors[i].Peer)
	}
	a.testAIs = a.addRelations(recs, ors, pis, px.attrs, a.testAIs[:0])
	a.addHours(recs, ors, a.testAIs)
}

// TestAddAll checks that a batch (addRelations, then addHours) gives what
// its records added one by one give: the same relation IDs for every record and the same roll-ups,
// relations, attributions (in the same order) and counts, also while
// relations spill and when the relation bound leaves some untracked, and
// also when a producer numbered the peers' attributions in its own order.
func TestAddAll(t *testing.T) {
	w := mixedRecords(30000)
	tests := []struct {
		name        string
		max, active int
	}{
		{"in memory", 0, -1},
		{"spilling", 0, 500},
		{"bounded", 2000, -1},
		{"spilling and bounded", 2000, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			one := NewAggregator(countryOf, tc.max)
			one.SpillTo(t.TempDir(), tc.active)
			want := make([]uint32, len(w.recs))
			for i := range w.recs {
				want[i] = one.Add(&w.recs[i], w.os[i])
			}
			wantRu := canonical(t, one.Rollups())
			for _, batch := range []int{1, 7, 1024, -1, -1024} {
				a := NewAggregator(countryOf, tc.max)
				a.SpillTo(t.TempDir(), tc.active)
				ors := slices.Clone(w.os)
				// batch < 0: the producer numbers the attributions, an
				// unused one and the others in reverse order first
				var px *attrIndex
				if batch < 0 {
					x := newAttrIndex(countryOf)
					px = &x
					for _, c := range []string{"ZZ", "JP", "FR", "", "US", "DE"} {
						px.number(geo.Attribution{Country: c, CountryDB: "test"})
					}
				}
				for i := 0; i < len(w.recs); i += abs(batch) {
					j := min(i+abs(batch), len(w.recs))
					if px != nil {
						a.addAllNumbered(w.recs[i:j], ors[i:j], px)
					} else {
						a.addAll(w.recs[i:j], ors[i:j])
					}
				}
				for i := range ors {
					if ors[i].Rel != want[i] {
						t.Fatalf("batch %d: record %d has relation %d, want %d", batch, i, ors[i].Rel, want[i])
					}
				}
				ru := canonical(t, a.Rollups())
				if !reflect.DeepEqual(ru, wantRu) {
					t.Fatalf("batch %d: roll-ups differ: %d hourly, %d relations, %d untracked, %d spilled; want %d, %d, %d, %d", batch,
						len(ru.Hourly), len(ru.Relations), ru.Untracked, ru.Spilled, len(wantRu.Hourly), len(wantRu.Relations), wantRu.Untracked, wantRu.Spilled)
				}
			}
			if tc.max > 0 && wantRu.Untracked == 0 || tc.active > 0 && wantRu.Spilled == 0 || len(wantRu.Relations) == 0 {
				t.Fatalf("workload does not exercise the case: %d untracked, %d spilled", wantRu.Untracked, wantRu.Spilled)
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }

// canonical sorts a roll-up's content (which comes in no particular order).
func canonical(t *testing.T, r Rollups) Rollups {
	t.Helper()
	r.Hourly = slices.Clone(r.Hourly)
	slices.SortFunc(r.Hourly, compareHourly)
	slices.SortFunc(r.Relations, func(a, b Relation) int { return compareRelKey(a.RelationKey, b.RelationKey) })
	return r
}
