package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

// TestFanoutInline feeds the same probes to an engine that keeps IPv4
// actors' fan-out windows inline in their entries, in batches
// (ObserveBatch), and to one that keeps them in the tables only, one by one
// (Observe): the alerts (with their reasons) and the state
// documents must be equal. The streams are built to exercise every move:
// windows outgrowing their inline hosts, a second port of a pair, more
// ports and pairs per actor than fit inline, records arriving windows late,
// sampled records (smaller thresholds), IPv6 targets of IPv4 actors, IPv6
// actors, checkpoints that expire idle state, and restoring the state into
// a new pair of engines half way, and transit records.
func TestFanoutInline(t *testing.T) {
	rl := DefaultRules()
	rl.Scan.Window = Duration(time.Minute)
	rl.Scan.HorizontalMinDestinations = 9
	rl.Scan.VerticalMinPorts = 5
	rl.Scan.SampledMin = 3
	rl.Scan.IgnorePorts = nil
	var horizontal, vertical int
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 17))
		actors := make([]netip.Addr, 1+rng.IntN(12))
		for i := range actors {
			if rng.IntN(8) == 0 {
				actors[i] = netip.AddrFrom16([16]byte{0xfd, 15: byte(i + 1)})
			} else {
				actors[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
			}
		}
		targets := make([]netip.Addr, 2+rng.IntN(40))
		for i := range targets {
			if rng.IntN(20) == 0 {
				targets[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
			} else {
				targets[i] = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i + 1)})
			}
		}
		ports := make([]uint16, 1+rng.IntN(10))
		for i := range ports {
			ports[i] = uint16(1000 + rng.IntN(60000))
		}
		n := 200 + rng.IntN(3000)
		recs := make([]flow.Record, n)
		clock := synth.Base
		for i := range recs {
			clock = clock.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
			ts := clock
			if rng.IntN(6) == 0 { // late by up to three windows
				ts = ts.Add(-time.Duration(rng.Int64N(int64(3 * time.Minute))))
			}
			rate := uint32(1)
			if rng.IntN(10) == 0 {
				rate = []uint32{2, 10, 100}[rng.IntN(3)]
			}
			proto := flow.ProtoTCP
			if rng.IntN(4) == 0 {
				proto = flow.ProtoUDP
			}
			a, d := actors[rng.IntN(len(actors))], targets[rng.IntN(len(targets))]
			if a.Is6() != d.Is6() && rng.IntN(2) == 0 {
				d = netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(200))})
			}
			recs[i] = flow.Record{Start: ts, End: ts, Src: a, Dst: d, SrcPort: uint16(30000 + rng.IntN(30000)),
				DstPort: ports[rng.IntN(len(ports))], Proto: proto, TCPFlags: 0x02, Packets: 1, Bytes: 40, SamplingRate: rate}
		}
		mk := func(tablesOnly bool) *Engine {
			e := New(rl, nil)
			e.Idle = 10 * time.Minute
			e.fan.tablesOnly = tablesOnly
			return e
		}
		inline, tables := mk(false), mk(true)
		var got [2][]string
		take := func(k int, e *Engine) {
			for _, a := range e.Alerts() {
				got[k] = append(got[k], fmt.Sprintf("%s %s %s %s %d: %s", a.Detector, a.Device, a.Peer, a.Time.Format(time.RFC3339Nano), a.Port, a.Reason))
			}
		}
		ors := make([]flow.Orientation, n)
		for i, r := range recs {
			ors[i] = flow.Orientation{Device: r.Src, Peer: r.Dst, Outbound: true, Port: r.DstPort}
			if rng.IntN(30) == 0 {
				ors[i] = flow.Orientation{Device: r.Src, Peer: r.Dst, Transit: true}
			}
		}
		restoreAt := n / 2
		for lo := 0; lo < n; {
			// The inline engine takes the records in batches of random
			// sizes, up to the next record checked after.
			hi := min(n, lo+1+rng.IntN(64))
			for i := lo; i < hi; i++ {
				if i%50 == 0 || i%500 == 499 || i == restoreAt {
					hi = i + 1
				}
			}
			inline.ObserveBatch(recs[lo:hi], ors[lo:hi])
			for i := lo; i < hi; i++ {
				tables.Observe(&recs[i], ors[i])
			}
			i := hi - 1
			lo = hi
			for k, e := range []*Engine{inline, tables} {
				if i%500 == 499 {
					take(k, e)
					e.Checkpoint()
				}
			}
			if i%50 == 0 {
				checkTables(t, inline)
				checkTables(t, tables)
				if a, b := fanDump(inline), fanDump(tables); !slices.Equal(a, b) {
					t.Fatalf("seed %d: windows differ after %d records\ninline:\n%s\ntables:\n%s", seed, i+1, strings.Join(a, "\n"), strings.Join(b, "\n"))
				}
			}
			if i == restoreAt {
				var docs [2]bytes.Buffer
				for k, e := range []*Engine{inline, tables} {
					take(k, e)
					if _, err := e.SaveState(&docs[k]); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(docs[0].Bytes(), docs[1].Bytes()) {
					t.Fatalf("seed %d: state documents differ after %d records", seed, i+1)
				}
				inline, tables = mk(false), mk(true)
				for k, e := range []*Engine{inline, tables} {
					if _, err := e.LoadState(bytes.NewReader(docs[k].Bytes())); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		take(0, inline)
		take(1, tables)
		if !slices.Equal(got[0], got[1]) {
			t.Fatalf("seed %d: alerts differ\ninline:\n%q\ntables:\n%q", seed, got[0], got[1])
		}
		var docs [2]bytes.Buffer
		for k, e := range []*Engine{inline, tables} {
			if _, err := e.SaveState(&docs[k]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(docs[0].Bytes(), docs[1].Bytes()) {
			t.Errorf("seed %d: final state documents differ", seed)
		}
		for _, a := range got[0] {
			horizontal += strings.Count(a, "horizontal scan")
			vertical += strings.Count(a, "vertical scan")
		}
	}
	if horizontal == 0 || vertical == 0 {
		t.Errorf("%d horizontal and %d vertical scan alerts: the streams do not reach the thresholds", horizontal, vertical)
	}
	t.Logf("%d horizontal and %d vertical scan alerts", horizontal, vertical)
}

// fanDump lists every fan-out window and pair count of e, sorted.
func fanDump(e *Engine) []string {
	var out []string
	e.eachH(func(k hKey, st *hState) {
		out = append(out, fmt.Sprintf("h %v %d/%d b%d fired=%v %v", k.actor, k.port, k.proto, st.bucket, st.fired, st.dsts.sorted()))
	})
	e.eachV(func(k pairKey, v vState) {
		ports := slices.Clone(v.more)
		if v.first != 0 {
			ports = append(ports, v.first-1)
		}
		slices.Sort(ports)
		out = append(out, fmt.Sprintf("v %v %v b%d fired=%v %v", k.actor, k.peer, v.bucket, v.fired, ports))
	})
	for a, n := range e.fan.targets {
		out = append(out, fmt.Sprintf("targets %v %d", a, n))
	}
	for _, ae := range e.actors4.ents {
		if ae.targets != 0 {
			out = append(out, fmt.Sprintf("targets %v %d", addr4(ae.key), ae.targets))
		}
	}
	slices.Sort(out)
	return out
}

// checkTables checks that each IPv4 actor's entry has the bits of its
// windows in the tables, and no others (fanoutInline trusts them to skip
// the tables).
func checkTables(t *testing.T, e *Engine) {
	t.Helper()
	h, v := map[uint32]uint32{}, map[uint32]uint32{}
	e.fan.h4.each(func(k uint64, _ *hState) {
		h[uint32(k>>32)] |= hBit(h4PP(k))
	})
	e.fan.v4.each(func(k uint64, _ *vState) { v[uint32(k>>32)] |= vBit(uint32(k)) })
	for _, ae := range e.actors4.ents {
		if ae.htab != h[ae.key] || ae.vtab != v[ae.key] {
			t.Fatalf("actor %v: windows in the tables %032b %032b, the tables hold %032b %032b",
				addr4(ae.key), ae.htab, ae.vtab, h[ae.key], v[ae.key])
		}
		delete(h, ae.key)
		delete(v, ae.key)
	}
	if len(h)+len(v) != 0 {
		t.Fatalf("windows in the tables of actors without an entry: %v %v", h, v)
	}
}
