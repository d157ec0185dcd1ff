package pcap

import (
	"math/rand/v2"
	"testing"
)

// TestFlowTable runs random sets, deletions and lookups against a map, at
// loads up to the growth threshold (long probe runs, deletions in the middle
// of them and across the table's end).
func TestFlowTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var tb flowTable
	ref := map[key4]int32{}
	keys := make([]key4, 6000)
	for i := range keys {
		keys[i] = flowKey4(rng.Uint32N(64), rng.Uint32N(64), uint16(rng.IntN(4)), 443, 6)
	}
	for op := range 200000 {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(3) {
		case 0:
			tb.set(k, int32(op+1))
			ref[k] = int32(op + 1)
		case 1:
			tb.del(k)
			delete(ref, k)
		}
		if got := tb.get(k); got != ref[k] {
			t.Fatalf("op %d: get(%v) = %d, want %d", op, k, got, ref[k])
		}
		if tb.n != len(ref) {
			t.Fatalf("op %d: %d entries, want %d", op, tb.n, len(ref))
		}
	}
	for k, v := range ref {
		if got := tb.get(k); got != v {
			t.Fatalf("get(%v) = %d, want %d", k, got, v)
		}
	}
}
