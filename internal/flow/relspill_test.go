package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestRelationSpill feeds one stream of records to an aggregator that keeps
// every relation in memory and to others that keep a few and spill the rest:
// the device rows they encode (what Save stores), the relation count, the
// untracked records and the ID of a relation seen again after it was spilled
// must all be the same, and IDs dense.
func TestRelationSpill(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		active   int
		max      int
		dir      string // "" : the test's temporary directory
		wantSpil bool
		failAt   int // the spill file's writes fail from this record on (0: never)
	}{
		{"spilled", 64, 0, "", true, 0},
		{"spilled and bounded", 64, 300, "", true, 0},
		{"spill file fails: all kept in memory", 64, 0, "no/such/dir", false, 0},
		{"spill file fails later: the run comes back", 64, 0, "", true, 1500},
		{"spill file fails later, bounded", 64, 300, "", true, 150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			ref := NewAggregator(nil, tc.max)
			ref.SpillTo("", -1)
			sp := NewAggregator(nil, tc.max)
			dir := t.TempDir()
			if tc.dir != "" {
				dir = filepath.Join(dir, tc.dir)
			}
			sp.SpillTo(dir, tc.active)
			ids := map[RelationKey]uint32{}
			for i := range 5000 {
				if i == tc.failAt && i > 0 {
					failWrites(t, sp)
				}
				dev := netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))})
				// A few peers come back all along (beacons), the rest rarely.
				peer := netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(4)), byte(rng.IntN(200))})
				if rng.IntN(4) == 0 {
					peer = netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(3))})
				}
				o := Orientation{Device: dev, Peer: peer, Port: uint16(443 + rng.IntN(2)), Outbound: rng.IntN(5) > 0, Known: dev.As4()[3] < 4}
				r := &Record{Start: t0.Add(time.Duration(i) * time.Second), Proto: ProtoTCP, Packets: uint64(1 + rng.IntN(9)), Bytes: uint64(60 + rng.IntN(900))}
				r.End = r.Start.Add(time.Duration(rng.IntN(5)) * time.Second)
				k := RelationKey{Device: dev, Peer: peer, Proto: ProtoTCP, Port: o.Port, Outbound: o.Outbound}
				e1, e2 := ref.Add(r, o), sp.Add(r, o)
				if e1 != e2 {
					t.Fatalf("record %d (%v): relation ID %d with spilling, want %d", i, k, e2, e1)
				}
				if e1 == 0 {
					continue // untracked
				}
				if id, ok := ids[k]; ok && e1 != id {
					t.Fatalf("record %d (%v): relation ID %d, was %d", i, k, e1, id)
				}
				if _, ok := ids[k]; !ok {
					if want := uint32(len(ids) + 1); e1 != want {
						t.Fatalf("record %d (%v): new relation ID %d, want %d (dense)", i, k, e1, want)
					}
					ids[k] = e1
				}
			}
			spillErr := sp.spillError()
			a, b := ref.take(), sp.take()
			defer b.Close()
			if got := b.Spilled > 0; got != tc.wantSpil {
				t.Fatalf("spilled %d records, want spilling %v", b.Spilled, tc.wantSpil)
			}
			if tc.failAt > 0 && (spillErr == nil || b.rel4.spill == nil || len(b.rel4.spill.runs) == 0) {
				t.Fatalf("spill error %v after some runs, want a failure after some", spillErr)
			}
			if a.NumRelations() != b.NumRelations() || a.Untracked != b.Untracked {
				t.Fatalf("relations %d untracked %d with spilling, want %d %d", b.NumRelations(), b.Untracked, a.NumRelations(), a.Untracked)
			}
			if tc.max > 0 && a.Untracked == 0 {
				t.Fatal("the bound was not reached: the case tests nothing")
			}
			rows := func(r Rollups) []string {
				var out []string
				if err := encodeDevices(r, func(d *deviceRow) error {
					out = append(out, fmt.Sprintf("%s %v %d %d %d %d %d %x", d.device, d.known, d.firstHour, d.lastHour, d.flows, d.packets, d.bytes, d.packed))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			ra, rb := rows(a), rows(b)
			if len(ra) != 8 || !reflect.DeepEqual(ra, rb) {
				t.Fatalf("device rows with spilling differ:\n%v\nwant\n%v", rb, ra)
			}
			if again := rows(b); !reflect.DeepEqual(again, ra) {
				t.Fatal("device rows differ when encoded again (a retried transaction)")
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// failWrites makes the writes to an aggregator's spill file fail from now
// on (the file is replaced by a read-only descriptor of the same file, so
// that the runs already written are read back).
func failWrites(t *testing.T, a *Aggregator) {
	t.Helper()
	a.settle()
	if a.spill == nil {
		t.Fatal("nothing spilled yet")
	}
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", a.spill.f.Fd()))
	if err != nil {
		t.Skipf("reopen the spill file read-only: %v", err)
	}
	rw := a.spill.f
	t.Cleanup(func() { rw.Close() })
	a.spill.f = ro
}

// randSlots returns n used slots with distinct keys drawn from few devices,
// peers and ports, so that keys differ in every field.
func randSlots(rng *rand.Rand, n int) []relSlot {
	seen := map[relKey4]bool{}
	out := make([]relSlot, 0, n)
	for len(out) < n {
		k := relKey4{dev: 0x0a000000 + rng.Uint32N(64), peer: rng.Uint32N(1 << uint(rng.IntN(32))), port: uint16(rng.IntN(4)) * 16000,
			proto: []uint8{6, 17}[rng.IntN(2)], out: rng.IntN(2) == 0}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, relSlot{key: k, flags: slotUsed, flows: uint64(len(out)), id: uint32(len(out))})
	}
	return out
}

// TestSortSlots checks the packed-key sort against relKey4.compare, slot
// contents moved with their keys.
func TestSortSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ord []relOrd
	for _, n := range []int{0, 1, 2, 17, 5000} {
		s := randSlots(rng, n)
		byKey := map[relKey4]relSlot{}
		for _, x := range s {
			byKey[x.key] = x
		}
		ord = sortSlots(s, ord)
		for i := range s {
			if byKey[s[i].key] != s[i] {
				t.Fatalf("n=%d: slot %d holds %+v, its key's slot was %+v", n, i, s[i], byKey[s[i].key])
			}
			if i > 0 && s[i-1].key.compare(s[i].key) >= 0 {
				t.Fatalf("n=%d: slots %d and %d out of order: %+v, %+v", n, i-1, i, s[i-1].key, s[i].key)
			}
		}
		if len(s) != len(byKey) {
			t.Fatalf("n=%d: %d slots after sorting, want %d", n, len(s), len(byKey))
		}
	}
}

// BenchmarkSortSlots sorts a half table as evict spills it.
func BenchmarkSortSlots(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	src := randSlots(rng, 3<<15) // half the table of 196,608 evict sorted before
	s := make([]relSlot, len(src))
	var ord []relOrd
	b.ReportAllocs()
	for b.Loop() {
		copy(s, src)
		ord = sortSlots(s, ord)
	}
}

// TestRelIndex checks the spilled relations' index through its growth, fed
// as evictions feed it (runs of slots): every key put is found with its
// latest ID (the filter has no false negatives), and keys never put are not
// found.
func TestRelIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	s := randSlots(rng, 40000)
	for i := range s {
		s[i].id = uint32(i)
	}
	var x relIndex
	for _, run := range [][2]int{{0, 1}, {1, 3000}, {3000, 3000}, {3000, 20000}, {20000, 30000}} {
		x.putAll(slices.Clone(s[run[0]:run[1]]))
	}
	again := s[7]
	again.id = 77 // a relation spilled again
	x.putAll([]relSlot{again})
	for i := range s {
		id, ok := x.get(s[i].key, s[i].key.hash())
		want := uint32(i)
		if i == 7 {
			want = 77
		}
		if in := i < 30000; ok != in || (ok && id != want) {
			t.Fatalf("key %d: get = %d, %v; want %d, %v", i, id, ok, want, in)
		}
	}
	if x.n != 30000 {
		t.Fatalf("%d keys, want 30000", x.n)
	}
}

// spilledIndex returns an index of a million spilled relations, put in
// runs of 24,576 as evict puts them.
func spilledIndex() *relIndex {
	var x relIndex
	run := make([]relSlot, 0, 24576)
	for i := range uint32(1 << 20) {
		run = append(run, relSlot{key: relKey4{dev: 0x0a000000 | i&0x3fff, peer: i * 2654435761, port: 443, proto: 6, out: true}, id: i})
		if len(run) == cap(run) || i == 1<<20-1 {
			x.putAll(run)
			run = run[:0]
		}
	}
	return &x
}

// BenchmarkRelIndexPut fills an index with a million spilled relations.
func BenchmarkRelIndexPut(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if x := spilledIndex(); x.n != 1<<20 {
			b.Fatal(x.n)
		}
	}
}

// BenchmarkRelIndexMiss looks up relations never spilled in an index of a
// million spilled ones (what a new relation of a large capture costs).
func BenchmarkRelIndexMiss(b *testing.B) {
	x := spilledIndex()
	b.ReportAllocs()
	i := uint32(0)
	for b.Loop() {
		i += 7919
		k := relKey4{dev: 0x0a000000 | i&0x3fff, peer: i*2654435761 + 1, port: 443, proto: 6, out: true}
		if _, ok := x.get(k, k.hash()); ok {
			b.Fatal("found a key never put")
		}
	}
}

// BenchmarkRelCursor merges 40 spilled runs of 24,576 relations and an
// in-memory run, as Save reads a million spilled relations.
func BenchmarkRelCursor(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	sp, err := newRelSpill(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer sp.close()
	var ord []relOrd
	for range 40 {
		run := randSlots(rng, 24576)
		ord = sortSlots(run, ord)
		if err := sp.write(run); err != nil {
			b.Fatal(err)
		}
	}
	mem := randSlots(rng, 24576)
	sortSlots(mem, ord)
	src := &relSource{mem: mem, spill: sp}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		c := src.cursor()
		for ; c.ok; c.advance() {
			n++
		}
		if c.err != nil || n == 0 {
			b.Fatal(n, c.err)
		}
	}
}

// BenchmarkOrderSlots orders an eviction's run as the spill writer does, of
// bench/flows/pcapgen's relations (10,000 devices, random peers) and of
// randSlots' (few devices).
func BenchmarkOrderSlots(b *testing.B) {
	w := newRelations(DefaultActiveRelations/2, 10_000)
	pcap := make([]relSlot, len(w.recs))
	for i := range pcap {
		d, _ := v4(w.os[i].Device)
		p, _ := v4(w.os[i].Peer)
		pcap[i] = relSlot{key: relKey4{d, p, w.os[i].Port, w.recs[i].Proto, true}, flags: slotUsed}
	}
	for _, bc := range []struct {
		name string
		s    []relSlot
	}{
		{"pcapgen", pcap},
		{"few devices", randSlots(rand.New(rand.NewPCG(5, 6)), DefaultActiveRelations/2)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ord []relOrd
			for b.Loop() {
				ord = orderSlots(bc.s, ord)
			}
		})
	}
}
