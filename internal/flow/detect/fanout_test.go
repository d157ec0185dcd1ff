package detect

import (
	"net/netip"
	"slices"
	"testing"
)

// TestAddrSet checks the set across its inline and map forms: duplicates
// counted once, every address returned in order, a cleared set empty and
// usable again.
func TestAddrSet(t *testing.T) {
	for _, n := range []int{1, smallSet - 1, smallSet, smallSet + 1, 3 * smallSet} {
		var s addrSet
		var want []netip.Addr
		for round := range 2 {
			want = want[:0]
			for i := range n {
				a := netip.AddrFrom4([4]byte{203, 0, byte(round), byte(n - i)}) // added in descending order
				s.add(a)
				s.add(a)
				want = append(want, a)
			}
			v6 := netip.MustParseAddr("2001:db8::1")
			s.add(v6)
			want = append(want, v6)
			slices.SortFunc(want, netip.Addr.Compare)
			if s.len() != n+1 {
				t.Errorf("n=%d round %d: len %d, want %d", n, round, s.len(), n+1)
			}
			if got := s.sorted(); !slices.Equal(got, want) {
				t.Errorf("n=%d round %d: sorted %v, want %v", n, round, got, want)
			}
			s.clear()
			if s.len() != 0 || len(s.sorted()) != 0 {
				t.Errorf("n=%d round %d: cleared set holds %v", n, round, s.sorted())
			}
		}
	}
}

// TestWinTable checks the windows' table through growth, pruning and
// shrinking: every key kept is found with its value, none pruned is.
func TestWinTable(t *testing.T) {
	var tb winTable[int64]
	if p, ok := tb.get(7, false); p != nil || ok {
		t.Fatal("empty table found a key")
	}
	const n = 5000
	key := func(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 } // 0 among them
	for i := range n {
		p, ok := tb.get(key(i), true)
		if ok {
			t.Fatalf("key %d found before insertion", i)
		}
		*p = int64(i)
	}
	for _, keepEvery := range []int{2, 64} { // the second prune shrinks the table
		tb.prune(func(v *int64) bool { return *v%int64(keepEvery) == 0 })
		want := 0
		for i := range n {
			p, ok := tb.get(key(i), false)
			if kept := i%keepEvery == 0; ok != kept || (ok && *p != int64(i)) {
				t.Fatalf("after keeping 1 in %d: key %d found %v (value %v)", keepEvery, i, ok, p)
			}
			if i%keepEvery == 0 {
				want++
			}
		}
		seen := 0
		tb.each(func(uint64, *int64) { seen++ })
		if tb.len() != want || seen != want {
			t.Fatalf("after keeping 1 in %d: len %d, each %d, want %d", keepEvery, tb.len(), seen, want)
		}
	}
	if len(tb.slots) >= 1<<13 {
		t.Errorf("%d slots for %d windows: not shrunk", len(tb.slots), tb.len())
	}
}
