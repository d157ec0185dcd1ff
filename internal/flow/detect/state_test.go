package detect

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
)

// beats feeds an engine n outbound TCP connections from dev to peer:443
// every period starting at t0, as a pipeline would (on a new relation).
func beats(e *Engine, dev, peer netip.Addr, t0 time.Time, period time.Duration, n int) time.Time {
	rel := newRel(e)
	for i := range n {
		r := &flow.Record{Start: t0, End: t0.Add(time.Second), Src: dev, Dst: peer, SrcPort: uint16(40000 + i), DstPort: 443,
			Proto: flow.ProtoTCP, TCPFlags: 0x1b, Packets: 6, Bytes: 600, RevPackets: 4, RevBytes: 300}
		outbound(e, r, rel)
		t0 = t0.Add(period)
	}
	return t0
}

// outbound observes r as sent by a known device (its source) on the
// pipeline relation rel (0: none).
func outbound(e *Engine, r *flow.Record, rel uint32) {
	e.Observe(r, flow.Orientation{Device: r.Src, Peer: r.Dst, Outbound: true, Known: true, Port: r.DstPort, Rel: rel})
}

// lastRel is the latest relation ID given per engine (see newRel).
var lastRel = map[*Engine]uint32{}

// newRel returns a relation ID that e has not seen, as the pipeline's
// aggregator gives one to each new relation (densely, from 1).
func newRel(e *Engine) uint32 {
	lastRel[e]++
	return lastRel[e]
}

// TestStateCarriesBeacons: a beacon cut in two ingests is found only when the
// first ingest's state is restored into the second; a series already
// reported for a day is not reported again that day; a state round-trips.
func TestStateCarriesBeacons(t *testing.T) {
	dev, c2 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("198.51.100.4")
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

	a := New(DefaultRules(), nil)
	t1 := beats(a, dev, c2, t0, time.Minute, 12)
	if n := count(a.Alerts(), Beacon); n != 0 {
		t.Fatalf("12 beats alone: %d beacon alerts", n)
	}
	var st bytes.Buffer
	if n, err := a.SaveState(&st); err != nil || n != 1 {
		t.Fatalf("SaveState = %d, %v; want 1 series", n, err)
	}

	fresh := New(DefaultRules(), nil)
	beats(fresh, dev, c2, t1, time.Minute, 12)
	if n := count(fresh.Alerts(), Beacon); n != 0 {
		t.Fatalf("second half alone: %d beacon alerts", n)
	}

	b := New(DefaultRules(), nil)
	if n, err := b.LoadState(bytes.NewReader(st.Bytes())); err != nil || n != 1 {
		t.Fatalf("LoadState = %d, %v", n, err)
	}
	t2 := beats(b, dev, c2, t1, time.Minute, 12)
	if n := count(b.Alerts(), Beacon); n != 1 {
		t.Fatalf("carried series: %d beacon alerts, want 1", n)
	}

	// Third ingest, same day: the beacon goes on but was reported already.
	var st2 bytes.Buffer
	if _, err := b.SaveState(&st2); err != nil {
		t.Fatal(err)
	}
	c := New(DefaultRules(), nil)
	if _, err := c.LoadState(bytes.NewReader(st2.Bytes())); err != nil {
		t.Fatal(err)
	}
	beats(c, dev, c2, t2, time.Minute, 5)
	if n := count(c.Alerts(), Beacon); n != 0 {
		t.Errorf("same day again: %d beacon alerts, want 0", n)
	}
	// Round trip: saving the restored state unchanged gives the same bytes.
	d := New(DefaultRules(), nil)
	if _, err := d.LoadState(bytes.NewReader(st2.Bytes())); err != nil {
		t.Fatal(err)
	}
	var st3 bytes.Buffer
	d.SaveState(&st3)
	if !bytes.Equal(st2.Bytes(), st3.Bytes()) {
		t.Errorf("state does not round-trip: %d vs %d bytes", st2.Len(), st3.Len())
	}
}

// TestStateCarryWindow: timestamps older than beacon.carry before the latest
// record are not carried.
func TestStateCarryWindow(t *testing.T) {
	rules := DefaultRules()
	rules.Beacon.Carry = Duration(time.Hour)
	e := New(rules, nil)
	dev := netip.MustParseAddr("10.1.2.3")
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	beats(e, dev, netip.MustParseAddr("198.51.100.4"), t0, time.Minute, 10)                     // old: dropped
	beats(e, dev, netip.MustParseAddr("198.51.100.5"), t0.Add(5*time.Hour), 10*time.Minute, 12) // partly kept
	var st bytes.Buffer
	if n, err := e.SaveState(&st); err != nil || n != 1 {
		t.Fatalf("SaveState = %d, %v; want 1 series", n, err)
	}
	f := New(rules, nil)
	if _, err := f.LoadState(&st); err != nil {
		t.Fatal(err)
	}
	s := f.ser.get(0)
	if got := s.len(); got != 7 { // beats at 5:50 … 6:50, within an hour of 6:50
		t.Errorf("carried %d timestamps, want 7", got)
	}
}

// TestStateMalformed: every truncation of a valid state, and altered
// headers, fail with ErrState, never a panic.
func TestStateMalformed(t *testing.T) {
	e := New(DefaultRules(), nil)
	dev := netip.MustParseAddr("10.1.2.3")
	beats(e, dev, netip.MustParseAddr("198.51.100.4"), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Minute, 30)
	e.Alerts()
	var st bytes.Buffer
	if _, err := e.SaveState(&st); err != nil {
		t.Fatal(err)
	}
	full := st.Bytes()
	for i := range len(full) {
		if _, err := New(DefaultRules(), nil).LoadState(bytes.NewReader(full[:i])); !errors.Is(err, ErrState) {
			t.Fatalf("truncated at %d: err %v, want ErrState", i, err)
		}
	}
	for _, bad := range [][]byte{[]byte("IWDS9\n"), append(append([]byte{}, full...), 0)} {
		if _, err := New(DefaultRules(), nil).LoadState(bytes.NewReader(bad)); !errors.Is(err, ErrState) {
			t.Errorf("%q…: err %v, want ErrState", bad[:min(8, len(bad))], err)
		}
	}
}

func FuzzLoadState(f *testing.F) {
	e := New(DefaultRules(), nil)
	beats(e, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1"), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Minute, 25)
	probes(e, netip.MustParseAddr("10.1.2.3"), time.Date(2026, 5, 1, 0, 30, 0, 0, time.UTC), 0, 5, 8080)
	probes(e, netip.MustParseAddr("10.1.2.3"), time.Date(2026, 5, 1, 0, 30, 0, 0, time.UTC), 0, 5, 0)
	e.Alerts()
	var st bytes.Buffer
	e.SaveState(&st)
	f.Add(st.Bytes())
	if old, err := os.ReadFile("testdata/state-v2.bin"); err == nil {
		f.Add(old)
	}
	f.Add([]byte(stateMagic))
	f.Add([]byte(stateMagic + "\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(DefaultRules(), nil)
		if _, err := e.LoadState(bytes.NewReader(data)); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v is not ErrState", err)
			}
			return
		}
		var out bytes.Buffer
		if _, err := e.SaveState(&out); err != nil {
			t.Fatal(err)
		}
		e.Alerts()
	})
}

// attempts feeds n outbound SSH connections from dev to victim from t0,
// gap apart on average but irregularly (a regular one would also be a beacon).
func attempts(e *Engine, dev, victim netip.Addr, t0 time.Time, gap time.Duration, n int) time.Time {
	irregular := []float64{0.57, 1.39, 0.82, 1.22}
	for i := range n {
		r := &flow.Record{Start: t0, End: t0.Add(time.Second), Src: dev, Dst: victim, SrcPort: uint16(30000 + i), DstPort: 22,
			Proto: flow.ProtoTCP, TCPFlags: 0x1b, Packets: 10, Bytes: 1500}
		outbound(e, r, 0)
		t0 = t0.Add(time.Duration(float64(gap) * irregular[i%len(irregular)]))
	}
	return t0
}

// scanBurst feeds n SYN-only records from dev to distinct hosts on port 23.
func scanBurst(e *Engine, dev netip.Addr, t0 time.Time, first, n int) {
	for i := range n {
		dst := netip.AddrFrom4([4]byte{198, 18, byte((first + i) >> 8), byte(first + i)})
		r := &flow.Record{Start: t0, End: t0, Src: dev, Dst: dst, SrcPort: 40000, DstPort: 23, Proto: flow.ProtoTCP, TCPFlags: 0x02, Packets: 1, Bytes: 60}
		outbound(e, r, 0)
		t0 = t0.Add(time.Second)
	}
}

func count(as []flow.Alert, det string) int {
	n := 0
	for _, a := range as {
		if a.Detector == det {
			n++
		}
	}
	return n
}

// TestStateCarriesWindows: a slow brute force (under the 5-minute threshold,
// over the hourly one only in total) and a scan burst, each cut in two
// ingests, are found only with the state; the alert is not repeated the
// same day by a third ingest.
func TestStateCarriesWindows(t *testing.T) {
	dev, victim := netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("203.0.113.22")
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	first := func() *Engine {
		e := New(DefaultRules(), nil)
		attempts(e, dev, victim, t0, time.Minute, 30)                   // 10:00–10:29, 5 per 5 min
		scanBurst(e, dev, t0.Add(30*time.Minute+10*time.Second), 0, 30) // 10:30:10–10:30:39
		if as := e.Alerts(); len(as) != 0 {
			t.Fatalf("first half alone: %+v", as)
		}
		return e
	}
	second := func(e *Engine) []flow.Alert {
		scanBurst(e, dev, t0.Add(30*time.Minute+40*time.Second), 30, 30)  // 10:30:40–10:31:09
		attempts(e, dev, victim, t0.Add(31*time.Minute), time.Minute, 25) // 10:31–10:56 (records in time order)
		return e.Alerts()
	}
	if as := second(New(DefaultRules(), nil)); len(as) != 0 {
		t.Fatalf("second half alone: %+v", as)
	}
	var st bytes.Buffer
	if _, err := first().SaveState(&st); err != nil {
		t.Fatal(err)
	}
	b := New(DefaultRules(), nil)
	if _, err := b.LoadState(bytes.NewReader(st.Bytes())); err != nil {
		t.Fatal(err)
	}
	as := second(b)
	if count(as, BruteForce) != 1 || count(as, Scan) != 1 {
		t.Fatalf("with state: %+v; want one brute-force and one scanning alert", as)
	}
	var st2 bytes.Buffer
	if _, err := b.SaveState(&st2); err != nil {
		t.Fatal(err)
	}
	c := New(DefaultRules(), nil)
	if _, err := c.LoadState(bytes.NewReader(st2.Bytes())); err != nil {
		t.Fatal(err)
	}
	attempts(c, dev, victim, t0.Add(3*time.Hour), 10*time.Second, 30) // a fast burst later that day
	if as := c.Alerts(); count(as, BruteForce) != 0 {
		t.Errorf("same day again: %+v; the device was reported already", as)
	}
}

// probes feeds SYN-only records from dev: to n distinct hosts on port
// (horizontal, ports 0) or to n distinct ports of one host.
func probes(e *Engine, dev netip.Addr, t0 time.Time, first, n int, port uint16) {
	for i := range n {
		dst, dp := netip.AddrFrom4([4]byte{198, 18, 7, byte(first + i)}), port
		if port == 0 {
			dst, dp = netip.AddrFrom4([4]byte{198, 18, 9, 9}), uint16(3000+first+i)
		}
		r := &flow.Record{Start: t0, End: t0, Src: dev, Dst: dst, SrcPort: 40001, DstPort: dp, Proto: flow.ProtoTCP, TCPFlags: 0x02, Packets: 1, Bytes: 60}
		outbound(e, r, 0)
		t0 = t0.Add(time.Second)
	}
}

// TestStateCarriesFanout: a horizontal scan (one port, 36 hosts), a
// vertical scan (36 ports of one host) and a long session in pieces, each
// cut in three ingests none of which crosses its threshold, are found once
// when the state of each ingest is restored into the next, and never
// without it.
func TestStateCarriesFanout(t *testing.T) {
	dev, c2 := netip.MustParseAddr("10.9.9.8"), netip.MustParseAddr("185.244.25.235")
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	parts := []func(e *Engine, i int){
		func(e *Engine, i int) { probes(e, dev, t0.Add(time.Duration(i)*time.Minute), 12*i, 12, 8080) },
		func(e *Engine, i int) {
			probes(e, dev, t0.Add(time.Duration(i)*time.Minute+20*time.Second), 12*i, 12, 0)
		},
		func(e *Engine, i int) { // IRC pieces: 2 h per ingest, a PING every 90 s
			for j := range 80 {
				s := t0.Add(time.Duration(i)*2*time.Hour + time.Duration(j)*90*time.Second)
				r := &flow.Record{Start: s, End: s.Add(time.Second), Src: c2, Dst: dev, SrcPort: 6667, DstPort: 48986, Proto: flow.ProtoTCP, TCPFlags: 0x18, Packets: 2, Bytes: 130}
				e.Observe(r, flow.Orientation{Device: dev, Peer: c2, Port: 6667})
			}
		},
	}
	for name, carry := range map[string]bool{"with state": true, "alone": false} {
		horizontal, vertical, long := 0, 0, 0
		for _, part := range parts {
			var st []byte
			for i := range 3 {
				e := New(DefaultRules(), nil)
				if carry && st != nil {
					if _, err := e.LoadState(bytes.NewReader(st)); err != nil {
						t.Fatal(err)
					}
				}
				part(e, i)
				for _, a := range e.Alerts() {
					switch {
					case a.Detector == Scan && strings.HasPrefix(a.Reason, "horizontal"):
						horizontal++
					case a.Detector == Scan && strings.HasPrefix(a.Reason, "vertical"):
						vertical++
					case a.Detector == LongConn && a.Device == dev:
						long++
					default:
						t.Errorf("%s: unexpected %+v", name, a)
					}
				}
				var buf bytes.Buffer
				if _, err := e.SaveState(&buf); err != nil {
					t.Fatal(err)
				}
				st = buf.Bytes()
			}
		}
		want := 0
		if carry {
			want = 1
		}
		if horizontal != want || vertical != want || long != want {
			t.Errorf("%s: %d horizontal, %d vertical, %d long-connection alerts; want %d each", name, horizontal, vertical, long, want)
		}
	}
}

// TestStateV2Loads: a version 2 state (testdata/state-v2.bin, written by
// the build before fan-out windows were carried: a 25-beat series, a slow
// brute force's hour and a telnet scan's open window) still loads and
// carries what it holds.
func TestStateV2Loads(t *testing.T) {
	old, err := os.ReadFile("testdata/state-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	e := New(DefaultRules(), nil)
	if n, err := e.LoadState(bytes.NewReader(old)); err != nil || n != 1 {
		t.Fatalf("LoadState(v2) = %d, %v; want 1 series", n, err)
	}
	dev := netip.MustParseAddr("10.9.9.9")
	scanBurst(e, dev, time.Date(2026, 5, 1, 10, 30, 40, 0, time.UTC), 30, 30)
	if as := e.Alerts(); count(as, Scan) != 1 {
		t.Errorf("carried telnet scan window: %+v, want one scanning alert", as)
	}
	var v3 bytes.Buffer
	if _, err := e.SaveState(&v3); err != nil || !bytes.HasPrefix(v3.Bytes(), []byte(stateMagic)) {
		t.Fatalf("SaveState after v2: %v, %q", err, v3.Bytes()[:6])
	}
}
