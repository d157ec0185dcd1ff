package flow

import (
	"math/rand/v2"
	"testing"
)

// TestTakeOut fills relation tables to various loads (a small table's keys
// share homes, and its clusters wrap past its end), takes out the relations
// last seen at a cut or before, and checks that exactly those came out, once
// each, and that every other one is still found with its counters.
func TestTakeOut(t *testing.T) {
	for _, tc := range []struct {
		size, n int
		cut     int64 // of lasts 0..n-1
		seeds   int
	}{
		{16, 12, 5, 200},
		{16, 12, -1, 1},  // none
		{16, 12, 100, 1}, // all
		{64, 48, 10, 50},
		{64, 48, 40, 50},
		{1024, 768, 383, 5},
		{1024, 700, 650, 5},
		{1 << 14, 12000, 6000, 1},
	} {
		for seed := range tc.seeds {
			rng := rand.New(rand.NewPCG(uint64(tc.size), uint64(seed)))
			slots := randSlots(rng, tc.n)
			tab := newRelTable(tc.size)
			for i := range slots {
				slots[i].last = int64(rng.IntN(tc.n))
				s, found := tab.find(slots[i].key, true)
				if found {
					t.Fatalf("size %d: key %d found before it was put", tc.size, i)
				}
				*s = slots[i]
			}
			if len(tab.slots) != tc.size {
				t.Fatalf("table grew to %d slots; the case wants %d", len(tab.slots), tc.size)
			}
			out := tab.takeOut(tc.cut, nil)
			taken := map[relKey4]bool{}
			for _, s := range out {
				if s.last > tc.cut || taken[s.key] {
					t.Fatalf("size %d cut %d: took out %+v (last %d; twice: %v)", tc.size, tc.cut, s.key, s.last, taken[s.key])
				}
				taken[s.key] = true
			}
			kept := 0
			for i := range slots {
				want := &slots[i]
				s, found := tab.find(want.key, false)
				if want.last <= tc.cut {
					if !taken[want.key] || found {
						t.Fatalf("size %d cut %d: key %d (last %d) taken out %v, still found %v", tc.size, tc.cut, i, want.last, taken[want.key], found)
					}
					continue
				}
				kept++
				if !found || *s != *want {
					t.Fatalf("size %d cut %d: key %d (last %d) found %v as %+v, want %+v", tc.size, tc.cut, i, want.last, found, s, want)
				}
			}
			if len(out)+kept != tc.n || tab.n != kept {
				t.Fatalf("size %d cut %d: %d taken out, %d kept (table counts %d) of %d", tc.size, tc.cut, len(out), kept, tab.n, tc.n)
			}
			used := 0
			for i := range tab.slots {
				if tab.slots[i].flags&slotUsed != 0 {
					used++
				}
			}
			if used != kept {
				t.Fatalf("size %d cut %d: %d slots used, %d kept", tc.size, tc.cut, used, kept)
			}
		}
	}
}
