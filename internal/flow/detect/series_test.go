package detect

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"iotwatch/internal/flow"
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

// TestPendingFirstBeat: series kept on pipeline relations, whose first beat
// waits in a pending record, give the same alerts, scores and carried
// state as series kept in the engine's own map: a beacon with retries (same
// source port within seconds) and sizes, a two-beat relation whose second
// record is a retry, and one-beat relations (carried by SaveState).
func TestPendingFirstBeat(t *testing.T) {
	dev := netip.MustParseAddr("10.1.2.3")
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	type rec struct {
		peer  netip.Addr
		at    time.Duration
		sport uint16
		bytes uint64
	}
	var recs []rec
	c2 := netip.MustParseAddr("198.51.100.4")
	for i := range 30 {
		at := time.Duration(i) * time.Minute
		recs = append(recs, rec{c2, at, uint16(40000 + i), uint64(500 + 7*(i%3))})
		if i%4 == 0 {
			recs = append(recs, rec{c2, at + 3*time.Second, uint16(40000 + i), 60}) // retry
		}
	}
	retry := netip.MustParseAddr("198.51.100.5")
	recs = append(recs, rec{retry, 0, 50000, 60}, rec{retry, 2 * time.Second, 50000, 60})
	for i := range 5 {
		recs = append(recs, rec{netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 29*time.Minute + time.Duration(i)*time.Second, 51000, 900})
	}
	feed := func(onRelations bool) (*Engine, []byte) {
		e := New(DefaultRules(), nil)
		rels := map[netip.Addr]uint32{}
		for _, r := range recs {
			fr := &flow.Record{Start: t0.Add(r.at), End: t0.Add(r.at + time.Second), Src: dev, Dst: r.peer, SrcPort: r.sport, DstPort: 443,
				Proto: flow.ProtoTCP, TCPFlags: 0x1b, Packets: 5, Bytes: r.bytes}
			var x uint32
			if onRelations {
				if rels[r.peer] == 0 {
					rels[r.peer] = uint32(len(rels) + 1)
				}
				x = rels[r.peer]
			}
			outbound(e, fr, x)
		}
		e.Alerts()
		var st bytes.Buffer
		if _, err := e.SaveState(&st); err != nil {
			t.Fatal(err)
		}
		return e, st.Bytes()
	}
	m, mst := feed(false)
	p, pst := feed(true)
	if p.pend.n != 7 || m.pend.n != 0 {
		t.Errorf("pending records: %d on relations, %d in the map; want 7 and 0", p.pend.n, m.pend.n)
	}
	if !reflect.DeepEqual(m.alerts, p.alerts) || len(p.alerts) != 1 {
		t.Errorf("alerts differ or not one:\n map: %+v\n relations: %+v", m.alerts, p.alerts)
	}
	// The documents list the series in another order; restored, they hold
	// the same series.
	restore := func(st []byte) map[svcKey][]int64 {
		e := New(DefaultRules(), nil)
		if n, err := e.LoadState(bytes.NewReader(st)); err != nil || n != 7 {
			t.Fatalf("LoadState = %d, %v; want 7 series", n, err)
		}
		out := map[svcKey][]int64{}
		for k, i := range e.beacon {
			s := e.ser.get(i)
			out[k] = append(e.ser.times(nil, s), int64(s.bytes), int64(s.sq), int64(b2u(s.known())))
		}
		return out
	}
	if a, b := restore(mst), restore(pst); !reflect.DeepEqual(a, b) {
		t.Errorf("carried series differ:\n map: %v\n relations: %v", a, b)
	}
}
