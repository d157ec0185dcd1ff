package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestAggregator checks sums for IPv4 (table slots) and IPv6 (full keys),
// relation IDs (dense, kept across table growth), and the relation bound.
func TestAggregator(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		dev, peer  string
		max        int
		peers      int // distinct peers, each sent twice
		wantRels   int
		wantUntrk  int64
		wantHourly int
	}{
		{"ipv4", "10.0.0.1", "192.0.2.%d", 0, 20000, 20000, 0, 1},
		{"ipv6", "fd00::1", "2001:db8::%x", 0, 300, 300, 0, 1},
		{"bounded", "10.0.0.1", "192.0.2.%d", 100, 250, 100, 2 * 150, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(nil, tc.max)
			ext := map[netip.Addr]uint32{}
			for pass := 0; pass < 2; pass++ {
				for i := 0; i < tc.peers; i++ {
					s := fmt.Sprintf(tc.peer, i)
					if tc.peer == "192.0.2.%d" {
						s = fmt.Sprintf("192.%d.%d.%d", i>>16&255, i>>8&255, i&255)
					}
					peer := netip.MustParseAddr(s)
					r := &Record{Start: t0.Add(time.Duration(pass) * time.Second), Proto: ProtoUDP, Packets: 2, Bytes: 100}
					e := a.Add(r, Orientation{Device: netip.MustParseAddr(tc.dev), Peer: peer, Port: 53, Outbound: true})
					switch {
					case e == 0:
						if _, ok := ext[peer]; ok {
							t.Fatalf("peer %s: tracked relation lost", peer)
						}
					case pass == 0:
						if want := uint32(len(ext) + 1); e != want {
							t.Fatalf("peer %s: new relation has ID %d, want %d (dense)", peer, e, want)
						}
						ext[peer] = e
					case e != ext[peer]:
						t.Fatalf("peer %s: relation ID %d, want %d", peer, e, ext[peer])
					}
				}
			}
			ru := a.Rollups()
			if len(ru.Relations) != tc.wantRels || ru.Untracked != tc.wantUntrk || len(ru.Hourly) != tc.wantHourly {
				t.Fatalf("relations %d untracked %d hourly %d, want %d %d %d", len(ru.Relations), ru.Untracked, len(ru.Hourly), tc.wantRels, tc.wantUntrk, tc.wantHourly)
			}
			for _, rel := range ru.Relations {
				if _, ok := ext[rel.Peer]; !ok || rel.Device != netip.MustParseAddr(tc.dev) || rel.Port != 53 || rel.Proto != ProtoUDP || !rel.Outbound || rel.id != 0 {
					t.Fatalf("relation %+v: wrong key", rel)
				}
				if rel.Flows != 2 || rel.Packets != 4 || rel.Bytes != 200 || rel.Last-rel.First != int64(time.Second) {
					t.Fatalf("relation %+v: wrong sums", rel)
				}
			}
			tk := a.take()
			if tk.NumRelations() != tc.wantRels || !reflect.DeepEqual(sorted(t, tk), sorted(t, ru)) {
				t.Fatal("take differs from Rollups")
			}
			if after := a.Rollups(); len(after.Hourly)+len(after.Relations) != 0 {
				t.Fatal("aggregator not empty after take")
			}
			h := ru.Hourly[0]
			if h.Flows != uint64(2*tc.peers) || h.Bytes != uint64(200*tc.peers) || !h.HourTime().Equal(t0.Truncate(time.Hour)) {
				t.Fatalf("hourly %+v", h)
			}
		})
	}
}

// TestRelSlotSize keeps a relation's table slot to one cache line.
func TestRelSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(relSlot{}); n != 64 {
		t.Fatalf("relSlot is %d bytes, want 64", n)
	}
}

// sorted orders a roll-up's content (which comes in no particular order),
// with every relation in Relations.
func sorted(t *testing.T, r Rollups) Rollups {
	t.Helper()
	rels, err := r.all()
	if err != nil {
		t.Fatal(err)
	}
	r.Hourly = slices.Clone(r.Hourly)
	r.Relations, r.rel4 = rels, nil
	slices.SortFunc(r.Hourly, func(a, b Hourly) int { return strings.Compare(fmt.Sprint(a.HourKey), fmt.Sprint(b.HourKey)) })
	slices.SortFunc(r.Relations, func(a, b Relation) int {
		return strings.Compare(fmt.Sprint(a.RelationKey), fmt.Sprint(b.RelationKey))
	})
	return r
}

// TestRelTable checks the relation table through growth and an eviction's
// put back (in the table's order): every key is found with its content,
// none twice, the count is right and no key is cut off from its home.
func TestRelTable(t *testing.T) {
	for _, n := range []int{1, 100, 3000, 20000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			tab := newRelTable(1 << 4)
			rng := rand.New(rand.NewPCG(uint64(n), 3))
			keys := map[relKey4]uint64{}
			for len(keys) < n {
				k := relKey4{dev: rng.Uint32N(64), peer: rng.Uint32(), port: uint16(rng.IntN(3)), proto: 6, out: rng.IntN(2) == 0}
				s, found := tab.find(k, true)
				if found != (keys[k] != 0) {
					t.Fatalf("key %v found %v, want %v", k, found, !found)
				}
				s.flows++
				keys[k]++
			}
			check := func(what string) {
				t.Helper()
				if tab.n != len(keys) {
					t.Fatalf("%s: %d keys counted, want %d", what, tab.n, len(keys))
				}
				used := 0
				for i := range tab.slots {
					if tab.slots[i].flags&slotUsed != 0 {
						used++
					}
				}
				if used != len(keys) {
					t.Fatalf("%s: %d slots used, want %d", what, used, len(keys))
				}
				for k, f := range keys {
					s, found := tab.find(k, false)
					if !found || s.flows != f || s.key != k {
						t.Fatalf("%s: key %v: found %v with %d flows, want %d", what, k, found, s.flows, f)
					}
				}
				// Linear probing's invariant: no empty slot between a key's
				// home and its slot.
				for i := range tab.slots {
					if s := &tab.slots[i]; s.flags&slotUsed != 0 {
						for j := tab.home(s.key.hash()); j != uint64(i); j = (j + 1) & tab.mask {
							if tab.slots[j].flags&slotUsed == 0 {
								t.Fatalf("%s: slot %d: empty slot %d after its home", what, i, j)
							}
						}
					}
				}
			}
			check("grown")
			// An eviction's put back: the table cleared, half the keys put in
			// the table's order.
			var kept []relSlot
			for i := range tab.slots {
				if s := tab.slots[i]; s.flags&slotUsed != 0 {
					if s.key.peer&1 == 0 {
						kept = append(kept, s)
					} else {
						delete(keys, s.key)
					}
				}
			}
			clear(tab.slots)
			tab.n = 0
			for i := range kept {
				tab.put(&kept[i], kept[i].key.hash())
			}
			check("put back")
		})
	}
}

// TestHourTables checks the hourly roll-ups over hours of many and of few
// keys, with records that come back to an earlier hour: the sums are those
// of a map, and a new hour's table has room for what the hour before held
// (the next hour only), so that it does not grow, but no more.
func TestHourTables(t *testing.T) {
	t0 := time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)
	hours := []struct{ keys, size int }{ // keys per hour, its table's size at the end
		{3000, 4096}, // grown from 1,024
		{3000, 4096}, // as the hour before: not grown
		{10, 4096},   // as the hour before
		{10, 1024},   // as the hour before: the smallest
		{2000, 4096}, // grown
	}
	a := NewAggregator(nil, 0)
	type sum struct{ flows, packets, bytes uint64 }
	want := map[HourKey]sum{}
	rng := rand.New(rand.NewPCG(5, 6))
	var recs []Record
	var ors []Orientation
	for h, hc := range hours {
		for i := range 3 * hc.keys {
			hour := h
			if i%50 == 49 {
				hour = 0 // a straggler
			}
			dev := addr4(0x0a000000 + uint32(i%hc.keys))
			r := Record{Start: t0.Add(time.Duration(hour)*time.Hour + time.Duration(i)*time.Millisecond), Packets: uint64(1 + rng.IntN(5)), Bytes: uint64(rng.IntN(1000))}
			o := Orientation{Device: dev, Peer: addr4(0x0b000001), Outbound: true}
			recs, ors = append(recs, r), append(ors, o)
			k := HourKey{Hour: r.Start.Unix() / 3600 * 3600, Device: dev, Attr: 7, Outbound: true}
			s := want[k]
			want[k] = sum{s.flows + 1, s.packets + r.Packets, s.bytes + r.Bytes}
		}
	}
	for i := 0; i < len(recs); i += 1024 {
		j := min(i+1024, len(recs))
		ais := make([]uint32, j-i)
		for k := range ais {
			ais[k] = 7
		}
		a.addHours(recs[i:j], ors[i:j], ais)
	}
	for h, hc := range hours {
		tab := a.hours[uint32(t0.Unix()/3600)+uint32(h)]
		if tab == nil {
			t.Fatalf("hour %d: no table", h)
		}
		if len(tab.slots) != hc.size {
			t.Fatalf("hour %d: table of %d slots, want %d", h, len(tab.slots), hc.size)
		}
	}
	got := a.Rollups().Hourly
	if len(got) != len(want) {
		t.Fatalf("%d roll-ups, want %d", len(got), len(want))
	}
	for _, g := range got {
		if w, ok := want[g.HourKey]; !ok || w != (sum{g.Flows, g.Packets, g.Bytes}) {
			t.Fatalf("roll-up %+v, want %+v", g, w)
		}
	}
}

// TestWritten checks the tables' allocation: zero values, as many as asked,
// for sizes below, at and above the huge page and not a multiple of it.
func TestWritten(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 2 << 20 / 16, 5<<20/16 + 3, 16 << 20 / 16} {
		s := written[relIdxSlot](n)
		if len(s) != n || slices.ContainsFunc(s, func(x relIdxSlot) bool { return x != relIdxSlot{} }) {
			t.Fatalf("written(%d): %d values, not all zero", n, len(s))
		}
		for i := range s {
			s[i].id = uint32(i) // writable all through
		}
	}
}
