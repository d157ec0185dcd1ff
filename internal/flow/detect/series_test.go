package detect

import (
	"net/netip"
	"testing"
	"time"
)

// TestSeriesStore checks that timestamps come back in order, to within one
// tick (a decisecond) below, across the inline slots and several overflow blocks, for
// interleaved series.
func TestSeriesStore(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, n := range []int{0, 1, seriesInline, seriesInline + 1, seriesInline + blockTimes, seriesInline + blockTimes + 1, 200} {
		var st seriesStore
		a := st.add(svcKey{actor: netip.MustParseAddr("10.0.0.1")}, true)
		b := st.add(svcKey{actor: netip.MustParseAddr("10.0.0.2")}, false)
		var want []int64
		for i := range n {
			ts := t0 + int64(i)*int64(61*time.Second) + 123_456_789
			for _, si := range []uint32{a, b} {
				v, ok := st.tick(ts)
				if !ok {
					t.Fatalf("tick(%d) out of range", ts)
				}
				st.push(st.get(si), v)
			}
			want = append(want, ts)
		}
		for _, si := range []uint32{a, b} {
			s := st.get(si)
			got := st.times(nil, s)
			if len(got) != n || s.len() != n {
				t.Fatalf("n=%d series %d: %d timestamps (len %d)", n, si, len(got), s.len())
			}
			for i := range got {
				if d := want[i] - got[i]; d < 0 || d >= tickNS {
					t.Fatalf("n=%d series %d: times[%d] = %d, want %d to within a tick below", n, si, i, got[i], want[i])
				}
			}
		}
		if !st.get(a).known() || st.get(b).known() {
			t.Fatalf("known flags lost")
		}
	}
}

// TestSeriesRange checks that timestamps outside the representable range are
// refused, not wrapped.
func TestSeriesRange(t *testing.T) {
	var st seriesStore
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if _, ok := st.tick(t0); !ok {
		t.Fatal("first timestamp refused")
	}
	if _, ok := st.tick(t0 - int64(400*24*time.Hour)); ok {
		t.Fatal("timestamp before the base accepted")
	}
	if _, ok := st.tick(t0 + int64(20*365*24*time.Hour)); ok {
		t.Fatal("timestamp 20 years later accepted")
	}
}
