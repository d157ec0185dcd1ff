package flow

import (
	"math/rand/v2"
	"testing"
)

// TestDropUpTo checks the in-place removal of the slots evict spills: every
// remaining relation is found with its counters, every removed one is not,
// and the count is right, for tables with long clusters, clusters that wrap
// around the end, and a full table (the rebuild path).
func TestDropUpTo(t *testing.T) {
	tests := []struct {
		name       string
		size, n    int
		cut        int64 // of lasts 0..99
		full, seed uint64
	}{
		{"half", 1 << 10, 700, 49, 0, 1},
		{"none dropped", 1 << 10, 700, -1, 0, 2},
		{"all dropped", 1 << 10, 700, 99, 0, 3},
		{"small, wrapping", 16, 12, 30, 0, 4},
		{"clustered", 64, 48, 40, 0, 7},
		{"small, wrapping, most dropped", 16, 12, 80, 0, 5},
		{"full", 8, 8, 50, 1, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for round := range uint64(300) {
				rng := rand.New(rand.NewPCG(tc.seed, round))
				tb := newRelTable(tc.size)
				want := map[relKey4]relSlot{}
				for len(want) < tc.n {
					k := relKey4{dev: 0x0a000000 + rng.Uint32N(50), peer: rng.Uint32(), port: 443, proto: 6}
					if _, ok := want[k]; ok {
						continue
					}
					s := relSlot{key: k, flags: slotUsed, flows: rng.Uint64N(1000), last: rng.Int64N(100), id: uint32(len(want) + 1)}
					want[k] = s
					if tc.full == 1 { // linear probing by hand, past the load bound
						i := k.hash() & tb.mask
						for tb.slots[i].flags&slotUsed != 0 {
							i = (i + 1) & tb.mask
						}
						tb.slots[i] = s
						tb.n++
						continue
					}
					p, _ := tb.find(k, true)
					*p = s
				}
				tb.dropUpTo(tc.cut)
				kept := 0
				for k, s := range want {
					got, ok := tb.find(k, false)
					if s.last <= tc.cut {
						if ok {
							t.Fatalf("round %d: relation %+v last seen %d still there after dropping up to %d", round, k, s.last, tc.cut)
						}
						continue
					}
					kept++
					if !ok || *got != s {
						t.Fatalf("round %d: relation %+v: found %v, %+v; want %+v", round, k, ok, got, s)
					}
				}
				if tb.n != kept {
					t.Fatalf("round %d: n = %d, want %d", round, tb.n, kept)
				}
			}
		})
	}
}
