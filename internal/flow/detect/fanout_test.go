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
