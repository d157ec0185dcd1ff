package flow

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// mergedRef is what a cursor must return of runs (the in-memory one
// first): every record, one per key in key order, the records of a key
// summed into its first's.
func mergedRef(runs [][]relSlot) []relSlot {
	var all []relSlot
	for _, r := range runs {
		all = append(all, r...)
	}
	slices.SortStableFunc(all, func(a, b relSlot) int { return a.key.compare(b.key) })
	var out []relSlot
	for _, r := range all {
		if n := len(out); n > 0 && out[n-1].key == r.key {
			sumSlot(&out[n-1], &r)
			continue
		}
		out = append(out, r)
	}
	return out
}

// spilledRuns writes n runs of random relations, each run's keys sorted
// and many keys in several runs, and an in-memory run; it returns the
// source and all runs, the in-memory one first.
func spilledRuns(t testing.TB, rng *rand.Rand, n, size int) (*relSource, [][]relSlot) {
	sp, err := newRelSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.close() })
	var ord []relOrd
	var runs [][]relSlot
	for i := 0; i <= n; i++ {
		run := randSlots(rng, size)
		for j := range run {
			r := &run[j]
			r.flows, r.packets, r.bytes = 1+rng.Uint64N(3), 1+rng.Uint64N(5), rng.Uint64N(1000)
			r.first = int64(rng.IntN(1e6)) * 1000
			r.last = r.first + int64(rng.IntN(3))*1e9
			r.attr = r.key.peer % 7
			if rng.IntN(5) == 0 {
				r.flags |= slotKnown
			}
		}
		ord = sortSlots(run, ord)
		runs = append(runs, run)
		if i < n {
			if err := sp.write(run); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &relSource{mem: runs[n], spill: sp}, append(runs[n:], runs[:n]...)
}

// TestRelCursor checks the merge of spilled runs against sorting and
// summing all records: through advance and appendDevice, over all devices
// and over ranges of them.
func TestRelCursor(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct{ runs, size int }{{0, 0}, {0, 50}, {1, 300}, {2, 700}, {7, 900}, {40, 300}} {
		src, runs := spilledRuns(t, rng, tc.runs, tc.size)
		want := mergedRef(runs)
		if len(want) == 0 && tc.size > 0 {
			t.Fatal("no relations")
		}
		c := src.cursor()
		var got []relSlot
		for ; c.ok; c.advance() {
			got = append(got, c.cur)
		}
		if c.err != nil {
			t.Fatal(c.err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d runs of %d: advance returned %d relations, want %d", tc.runs, tc.size, len(got), len(want))
		}
		// Devices are 10.0.0.0–10.0.0.63: ranges split them.
		for _, split := range []uint64{0, 0x0a000000, 0x0a000011, 0x0a000020, 0x0a00003f, 0x0a000040, allDevices4} {
			got = got[:0]
			for _, r := range [][2]uint64{{0, split}, {split, allDevices4}} {
				c := src.cursorIn(r[0], r[1])
				for {
					n := len(got)
					var dev uint32
					var ok bool
					got, dev, ok = c.appendDevice(got)
					if !ok {
						break
					}
					if uint64(dev) < r[0] || uint64(dev) >= r[1] || len(got) == n {
						t.Fatalf("device %x in [%x, %x) with %d relations", dev, r[0], r[1], len(got)-n)
					}
					for _, s := range got[n:] {
						if s.key.dev != dev {
							t.Fatalf("relation of %x among device %x's", s.key.dev, dev)
						}
					}
				}
				if c.err != nil {
					t.Fatal(c.err)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d runs of %d, split at %x: appendDevice returned %d relations, want %d", tc.runs, tc.size, split, len(got), len(want))
			}
		}
	}
}

// TestPackSlots checks that a device's relations packed from slots are the
// bytes they pack to as Relations, alone and with relations of
// Rollups.Relations.
func TestPackSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	_, runs := spilledRuns(t, rng, 3, 400)
	all := mergedRef(runs)
	hours := []Hourly{{HourKey: HourKey{Hour: 3600, Attr: 2}, Flows: 3, Packets: 4, Bytes: 5}}
	p := newRowPacker(nil)
	q := newRowPacker(nil)
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].key.dev == all[i].key.dev {
			j++
		}
		slots := all[i:j]
		i = j
		var rels []Relation
		for k := range slots {
			rels = append(rels, slots[k].relation())
		}
		if got, want := p.packWith(hours, nil, slots), q.pack(hours, rels); !bytes.Equal(got, want) {
			t.Fatalf("device %x: packed slots\n%x\nwant\n%x", slots[0].key.dev, got, want)
		}
		// A relation of Rollups.Relations among them (an IPv6 peer).
		other := rels[len(rels)/2]
		other.Peer = netip.MustParseAddr("2001:db8::1")
		both := append(slices.Clone(rels), other)
		slices.SortFunc(both, func(a, b Relation) int { return compareRelKey(a.RelationKey, b.RelationKey) })
		if got, want := p.packWith(hours, []Relation{other}, slots), q.pack(hours, both); !bytes.Equal(got, want) {
			t.Fatalf("device %x with another relation: packed\n%x\nwant\n%x", slots[0].key.dev, got, want)
		}
	}
}
