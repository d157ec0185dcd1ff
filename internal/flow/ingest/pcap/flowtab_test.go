package pcap

import (
	"math/rand/v2"
	"testing"
)

// TestFlowTable runs random insertions, deletions and lookups against a
// map, at loads up to the growth threshold (long probe runs, deletions in
// the middle of them and across the table's end), with keys in a slab as
// the assembler keeps them.
func TestFlowTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var tb flowTable
	var slab []state
	ref := map[key4]int32{}
	keys := make([]key4, 6000)
	for i := range keys {
		keys[i] = flowKey4(rng.Uint32N(64), rng.Uint32N(64), uint16(rng.IntN(4)), 443, 6)
	}
	for op := range 200000 {
		k := keys[rng.IntN(len(keys))]
		h := k.hash()
		switch rng.IntN(3) {
		case 0:
			if j, i := tb.find(k, h, slab); i == 0 {
				slab = append(slab, state{key: k})
				tb.insert(j, h, int32(len(slab)))
				ref[k] = int32(len(slab))
			}
		case 1:
			if i := ref[k]; i != 0 {
				tb.del(h, i)
				delete(ref, k)
			}
		}
		if _, got := tb.find(k, h, slab); got != ref[k] {
			t.Fatalf("op %d: find(%v) = %d, want %d", op, k, got, ref[k])
		}
		if tb.n != len(ref) {
			t.Fatalf("op %d: %d entries, want %d", op, tb.n, len(ref))
		}
	}
	for k, v := range ref {
		if _, got := tb.find(k, k.hash(), slab); got != v {
			t.Fatalf("find(%v) = %d, want %d", k, got, v)
		}
	}
}
