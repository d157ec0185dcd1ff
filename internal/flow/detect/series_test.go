package detect

import (
	"bytes"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"
	"unsafe"

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
	// One-beat relations, some of more bytes than a pending record holds
	// (pendingStore.big), and a two-beat one whose first beat is such.
	for i, b := range []uint64{900, bigBytes - 1, bigBytes, bigBytes + 1, math.MaxUint64} {
		recs = append(recs, rec{netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 29*time.Minute + time.Duration(i)*time.Second, 51000, b})
	}
	big := netip.MustParseAddr("198.51.100.6")
	recs = append(recs, rec{big, time.Minute, 52000, 1 << 50}, rec{big, 20 * time.Minute, 52001, 70})
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
	if p.pend.n != 8 || m.pend.n != 0 || len(p.pend.big) != 4 {
		t.Errorf("pending records: %d on relations (%d of big bytes), %d in the map; want 8 (4) and 0", p.pend.n, len(p.pend.big), m.pend.n)
	}
	if !reflect.DeepEqual(m.alerts, p.alerts) || len(p.alerts) != 1 {
		t.Errorf("alerts differ or not one:\n map: %+v\n relations: %+v", m.alerts, p.alerts)
	}
	// The documents list the series in another order; restored, they hold
	// the same series.
	restore := func(st []byte) map[svcKey][]int64 {
		e := New(DefaultRules(), nil)
		if n, err := e.LoadState(bytes.NewReader(st)); err != nil || n != 8 {
			t.Fatalf("LoadState = %d, %v; want 8 series", n, err)
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

// TestPendingStore checks a pending record's size (24 bytes: a million
// first beats are 24 MB) and its bytes across the 48 bits it holds.
func TestPendingStore(t *testing.T) {
	if n := unsafe.Sizeof(pending{}); n != 24 {
		t.Errorf("a pending record is %d bytes, want 24", n)
	}
	var ps pendingStore
	want := []uint64{0, 1, 1 << 32, 1<<32 - 1, bigBytes - 1, bigBytes, bigBytes + 1, 1 << 63, math.MaxUint64}
	for range 3 * seriesChunk { // across chunks and slabs
		for _, b := range want {
			ps.add(pending{tick: uint32(b), port: 443}, b)
		}
	}
	for i := range ps.n {
		p, b := ps.get(uint32(i)), want[i%len(want)]
		if got := ps.bytes(uint32(i)); got != b || p.tick != uint32(b) || p.port != 443 {
			t.Fatalf("record %d: bytes %d, tick %d, port %d; want %d, %d, 443", i, got, p.tick, p.port, b, uint32(b))
		}
	}
}
