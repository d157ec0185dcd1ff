package flow

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// decodeBoth decodes one device's entries as a packed row and as the JSON
// row the encoder before 00048 wrote.
func decodeBoth(t *testing.T, hours []Hourly, rels []Relation, attrs []geo.Attribution) (packed, json rowEntries) {
	t.Helper()
	b := newRowPacker(attrs).pack(hours, rels)
	var err error
	if packed.hours, packed.rels, err = decodePacked(b, interner{}, nil, nil); err != nil {
		t.Fatalf("decode packed row %x: %v", b, err)
	}
	hj, pj := jsonRow(hours, rels, attrs)
	if json.hours, json.rels, err = decodeJSONRow(hj, pj, interner{}, nil, nil); err != nil {
		t.Fatalf("decode JSON row %s %s: %v", hj, pj, err)
	}
	return packed, json
}

type rowEntries struct {
	hours []hourEntry
	rels  []relEntry
}

func (e rowEntries) equal(o rowEntries) bool {
	return len(e.hours) == len(o.hours) && len(e.rels) == len(o.rels) &&
		(len(e.hours) == 0 || reflect.DeepEqual(e.hours, o.hours)) && (len(e.rels) == 0 || reflect.DeepEqual(e.rels, o.rels))
}

// TestPackedRow: a packed row decodes to what the JSON row of the same
// entries decodes to (the rows written before 00048), IPv4 and IPv6 peers,
// many attributions, odd strings and times.
func TestPackedRow(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	hour := t0.Unix()
	ns := t0.UnixNano()
	attrs := []geo.Attribution{
		{Country: "US", CountryDB: "iploc"},
		{Country: "DE", ASN: 3320, Owner: "Deutsche Telekom AG"},
		{Country: "JP", ASN: 64500, Owner: `Owner "quoted" <&> \ back`},
		{Country: "", ASN: 4200000000, Owner: "Ünïcödé 网络"},
		{Country: "X\xff", Owner: "bad \xc3\x28 utf-8 \xff\xfe"}, // invalid UTF-8: JSON wrote U+FFFD per byte
	}
	many := make([]geo.Attribution, 300)
	for i := range many {
		many[i] = geo.Attribution{Country: fmt.Sprintf("C%d", i%50), ASN: uint32(i * 7), Owner: fmt.Sprintf("owner %d", i)}
	}
	rel := func(peer string, proto uint8, port uint16, out bool, attr uint32, first, last int64) Relation {
		return Relation{RelationKey: RelationKey{Device: addr4(0x0a000001), Peer: netip.MustParseAddr(peer), Proto: proto, Port: port, Outbound: out},
			Attr: attr, Flows: 3, Packets: 7, Bytes: 900, First: first, Last: last}
	}
	hr := func(h int64, out bool, attr uint32, fl, pk, by uint64) Hourly {
		return Hourly{HourKey: HourKey{Hour: h, Device: addr4(0x0a000001), Attr: attr, Outbound: out}, Flows: fl, Packets: pk, Bytes: by}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var manyRels []Relation
	var manyHours []Hourly
	for i := range 1000 {
		p := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(220)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		r := rel(p.String(), []uint8{6, 17, 1}[i%3], uint16(rng.IntN(65536)), i%4 != 0, uint32(rng.IntN(310)), ns+rng.Int64N(int64(time.Hour)), 0)
		r.Last = r.First + rng.Int64N(int64(time.Minute))
		r.Flows, r.Packets, r.Bytes = rng.Uint64N(1<<40), rng.Uint64N(1<<50), rng.Uint64N(math.MaxInt64)
		manyRels = append(manyRels, r)
		manyHours = append(manyHours, hr(hour+int64(i/40)*3600, i%2 == 0, uint32(i%310), uint64(i), uint64(i*3), uint64(i*1000)))
	}
	sortRelations(manyRels)
	tests := []struct {
		name  string
		attrs []geo.Attribution
		hours []Hourly
		rels  []Relation
	}{
		{"empty", attrs, nil, nil},
		{"hours only", attrs, []Hourly{hr(hour, false, 0, 1, 1, 40), hr(hour, true, 0, 2, 5, 400), hr(hour, true, 1, 1, 1, 60), hr(hour+3600, true, 1, 9, 9, 9)}, nil},
		{"IPv4", attrs, []Hourly{hr(hour, true, 0, 4, 4, 160)}, []Relation{
			rel("1.1.1.1", 17, 53, true, 0, ns+1_000_000, ns+1_000_000),
			rel("8.8.8.8", 6, 443, true, 1, ns+123_456_789, ns+3_600_000_000_000),
			rel("8.8.8.8", 6, 443, false, 1, ns, ns),
			rel("8.8.8.8", 17, 443, true, 2, ns+5, ns+4), // last before first
			rel("255.255.255.255", 6, 65535, true, 2, ns, ns),
		}},
		{"IPv6", attrs, nil, []Relation{
			rel("::", 6, 0, true, 0, ns, ns),
			rel("::1", 6, 1, true, 0, ns, ns),
			rel("::ffff:192.0.2.1", 6, 80, true, 3, ns, ns), // 4in6 stays 4in6
			rel("2001:db8::1", 6, 443, true, 3, ns, ns+1),
			rel("2001:db8::2", 6, 443, true, 3, ns, ns+1),
			rel("2001:db8:0:1::2", 6, 443, true, 3, ns, ns+1),
			rel("2001:db8:0:1::2", 6, 8443, true, 3, ns, ns+1),
			rel("fe80::1%eth0", 17, 5353, false, 4, ns, ns),
			rel("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 58, 0, false, 4, ns, ns),
		}},
		{"IPv4 and IPv6", attrs, nil, []Relation{
			rel("10.1.2.3", 6, 1883, true, 0, ns, ns), rel("2001:db8::1", 6, 1883, true, 0, ns, ns), rel("10.1.2.4", 6, 1883, true, 0, ns, ns),
		}},
		{"attribution out of range", attrs, []Hourly{hr(hour, true, 77, 1, 1, 1)}, []Relation{rel("1.2.3.4", 6, 80, true, 99, ns, ns)}},
		{"no attributions", nil, []Hourly{hr(hour, true, 0, 1, 1, 1)}, []Relation{rel("1.2.3.4", 6, 80, true, 0, ns, ns)}},
		{"many attributions", many, manyHours, manyRels},
		{"extreme values", attrs, []Hourly{hr(math.MinInt64, true, 0, 0, 0, 0), hr(math.MaxInt64, true, 0, math.MaxInt64, 0, math.MaxInt64), hr(-3600, false, 0, 1, 2, 3)}, []Relation{
			rel("1.2.3.4", 0, 0, true, 0, math.MinInt64, math.MaxInt64),
			rel("1.2.3.5", 255, 65535, true, 0, math.MaxInt64, math.MinInt64),
			rel("1.2.3.6", 6, 1, true, 0, 0, 0),
			rel("1.2.3.7", 6, 1, true, 0, -1, 1),
		}},
		{"second resolution", attrs, nil, []Relation{rel("1.2.3.4", 6, 80, true, 0, hour*1e9, hour*1e9+60e9), rel("1.2.3.5", 6, 80, true, 0, hour*1e9+3e9, hour*1e9+3e9)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, j := decodeBoth(t, tc.hours, tc.rels, tc.attrs)
			if len(j.hours) != len(tc.hours) || len(j.rels) != len(tc.rels) {
				t.Fatalf("JSON row read back %d hours, %d relations; want %d, %d", len(j.hours), len(j.rels), len(tc.hours), len(tc.rels))
			}
			if !p.equal(j) {
				t.Errorf("packed row reads\n%+v\nJSON row reads\n%+v", p, j)
			}
		})
	}
}

// sortRelations sorts relations in key order, as rows list them.
func sortRelations(rels []Relation) {
	slices.SortFunc(rels, func(a, b Relation) int { return compareRelKey(a.RelationKey, b.RelationKey) })
}

// TestPackedRowSize: a device's hundred relations to random peers, as the
// 1M-flow capture has them, take about 16 bytes each.
func TestPackedRowSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ns := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano()
	var rels []Relation
	for range 100 {
		rels = append(rels, Relation{RelationKey: RelationKey{Device: addr4(0x0a000001), Peer: addr4(rng.Uint32()), Proto: 6, Port: []uint16{80, 443, 8883}[rng.IntN(3)], Outbound: true},
			Attr: uint32(rng.IntN(30)), Flows: 1, Packets: 1, Bytes: 40, First: ns + rng.Int64N(int64(time.Hour))/100_000*100_000})
		rels[len(rels)-1].Last = rels[len(rels)-1].First
	}
	sortRelations(rels)
	attrs := make([]geo.Attribution, 30)
	for i := range attrs {
		attrs[i].Country = fmt.Sprintf("%c%c", 'A'+i/26, 'A'+i%26)
	}
	b := newRowPacker(attrs).pack(nil, rels)
	_, pj := jsonRow(nil, rels, attrs)
	if len(b) > 20*len(rels) || len(b)*4 > len(pj) {
		t.Errorf("packed row of %d relations is %d bytes (JSON %d), want at most 20 per relation and a quarter of JSON", len(rels), len(b), len(pj))
	}
}

// TestPackedRowSpilled: the rows of an aggregator that spilled relations,
// packed, read as the JSON rows of the same relations.
func TestPackedRowSpilled(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	attribute := func(a netip.Addr) geo.Attribution {
		b := a.As16()
		return geo.Attribution{Country: fmt.Sprintf("C%d", b[15]%7), ASN: uint32(b[14]), Owner: fmt.Sprintf("net %d", b[13]%3)}
	}
	ag := NewAggregator(attribute, 0)
	ag.SpillTo(t.TempDir(), 64)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 5000 {
		dev := netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))})
		peer := netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(4)), byte(rng.IntN(200))})
		if i%10 == 0 {
			peer = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(50))})
		}
		o := Orientation{Device: dev, Peer: peer, Port: uint16(443 + rng.IntN(2)), Outbound: rng.IntN(5) > 0, Known: rng.IntN(2) == 0}
		r := &Record{Start: t0.Add(time.Duration(i) * 997 * time.Millisecond), Proto: ProtoTCP, Packets: uint64(1 + rng.IntN(9)), Bytes: uint64(60 + rng.IntN(900))}
		r.End = r.Start.Add(time.Duration(rng.IntN(5000)) * time.Microsecond)
		ag.Add(r, o)
	}
	ro := ag.take()
	defer ro.Close()
	if ro.Spilled == 0 {
		t.Fatal("nothing spilled: the test tests nothing")
	}
	devices, rels := 0, 0
	err := groupDevices(ro, func(dev netip.Addr, hours []Hourly, rs []Relation) error {
		p, j := decodeBoth(t, hours, rs, ro.Attributions)
		if !p.equal(j) {
			t.Errorf("device %s: packed row reads\n%+v\nJSON row reads\n%+v", dev, p, j)
		}
		devices++
		rels += len(rs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if devices != 8 || rels != ro.NumRelations() {
		t.Errorf("%d devices, %d relations; want 8, %d", devices, rels, ro.NumRelations())
	}
}

// TestPackedRowCorrupt: damaged rows are refused with an error, never a
// panic or a wrong result read as right.
func TestPackedRowCorrupt(t *testing.T) {
	ns := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano()
	attrs := []geo.Attribution{{Country: "US"}, {Country: "DE", ASN: 3320, Owner: "DTAG"}}
	good := newRowPacker(attrs).pack(
		[]Hourly{{HourKey: HourKey{Hour: ns / 1e9, Attr: 1, Outbound: true}, Flows: 2, Packets: 3, Bytes: 4}},
		[]Relation{
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("192.0.2.1"), Proto: 6, Port: 443}, Attr: 1, Flows: 1, Packets: 2, Bytes: 3, First: ns, Last: ns + 1},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("2001:db8::1"), Proto: 17, Port: 53}, Flows: 1, Packets: 1, Bytes: 3, First: ns, Last: ns},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("fe80::1%eth0"), Proto: 17, Port: 53}, Flows: 1, Packets: 1, Bytes: 3, First: ns, Last: ns},
		})
	if _, _, err := decodePacked(good, interner{}, nil, nil); err != nil {
		t.Fatalf("good row: %v", err)
	}
	for n := range len(good) {
		if _, _, err := decodePacked(good[:n], interner{}, nil, nil); !errors.Is(err, errPacked) {
			t.Errorf("row cut to %d of %d bytes: error %v, want errPacked", n, len(good), err)
		}
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"format 2", append([]byte{2}, good[1:]...)},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"huge attribution count", []byte{packedV1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0}},
		{"huge hour count", []byte{packedV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"overlong varint", []byte{packedV1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"hour without attributions", []byte{packedV1, 0, 1, hourSameAttr | hourSameHour, 1, 1, 0}},
		{"hour attribution out of range", []byte{packedV1, 1, 0, 0, 0, 1, 0, 0, 5, 1, 1, 0}},
		{"unknown hour flag", []byte{packedV1, 1, 0, 0, 0, 1, 0x80, 0, 1, 1, 0}},
		{"time unit", []byte{packedV1, 1, 0, 0, 0, 0, 1, 0, 13, relPeer4, 1, 1, 1, 1}},
		{"port out of range", []byte{packedV1, 1, 0, 0, 0, 0, 1, 0, 0, relPeer4 | relPort, 1, 0xff, 0xff, 0x7f, 1, 1, 1}},
		{"bad text peer", []byte{packedV1, 1, 0, 0, 0, 0, 1, 0, 0, relPeerText, 3, 'a', 'b', 'c', 1, 1, 1}},
		{"asn out of range", []byte{packedV1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs, rs, err := decodePacked(tc.b, interner{}, nil, nil)
			if !errors.Is(err, errPacked) {
				t.Errorf("error %v (%d hours, %d relations), want errPacked", err, len(hs), len(rs))
			}
		})
	}
}

// FuzzPackedRow: the decoder of stored packed rows never panics, and a row
// it accepts packs again into a row that decodes the same.
func FuzzPackedRow(f *testing.F) {
	ns := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano()
	f.Add(newRowPacker([]geo.Attribution{{Country: "US"}, {Country: "DE", ASN: 3320, Owner: "DTAG"}}).pack(
		[]Hourly{{HourKey: HourKey{Hour: ns / 1e9, Outbound: true}, Flows: 2, Packets: 3, Bytes: 4}, {HourKey: HourKey{Hour: ns / 1e9, Attr: 1}, Flows: 1, Packets: 1, Bytes: 4}},
		[]Relation{
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("192.0.2.1"), Proto: 6, Port: 443}, Attr: 1, Flows: 1, Packets: 2, Bytes: 3, First: ns, Last: ns + 1000},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("192.0.2.9"), Proto: 6, Port: 443}, Flows: 1, Packets: 1, Bytes: 3, First: ns + 5000, Last: ns},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("2001:db8::1"), Proto: 17, Port: 53}, Flows: 1, Packets: 1, Bytes: 3, First: ns, Last: ns},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("2001:db8::7"), Proto: 17, Port: 53}, Flows: 1, Packets: 1, Bytes: 3, First: ns, Last: ns},
			{RelationKey: RelationKey{Peer: netip.MustParseAddr("fe80::1%eth0"), Proto: 17, Port: 53}, Flows: 1, Packets: 1, Bytes: 3, First: ns, Last: ns},
		}))
	f.Add([]byte{packedV1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, rs, err := decodePacked(b, interner{}, nil, nil)
		if err != nil {
			if !errors.Is(err, errPacked) {
				t.Fatalf("error %v is not errPacked", err)
			}
			return
		}
		// Pack the entries again, with their attributions numbered afresh.
		var attrs []geo.Attribution
		idx := map[packAttr]uint32{}
		at := func(c, o string, asn uint32) uint32 {
			k := packAttr{country: c, owner: o, asn: asn}
			i, ok := idx[k]
			if !ok {
				i = uint32(len(attrs))
				idx[k] = i
				attrs = append(attrs, geo.Attribution{Country: c, Owner: o, ASN: asn})
			}
			return i
		}
		var hours []Hourly
		for _, h := range hs {
			hours = append(hours, Hourly{HourKey: HourKey{Hour: h.hour, Outbound: h.outbound, Attr: at(h.country, h.owner, h.asn)}, Flows: h.flows, Packets: h.packets, Bytes: h.bytes})
		}
		var rels []Relation
		for _, r := range rs {
			rels = append(rels, Relation{RelationKey: RelationKey{Peer: r.peer, Proto: r.proto, Port: r.port, Outbound: r.outbound},
				Attr: at(r.country, r.owner, r.asn), Flows: r.flows, Packets: r.packets, Bytes: r.bytes, First: r.first, Last: r.last})
		}
		again := newRowPacker(attrs).pack(hours, rels)
		hs2, rs2, err := decodePacked(again, interner{}, nil, nil)
		if err != nil {
			t.Fatalf("packed again %x: %v", again, err)
		}
		want := rowEntries{hs, rs}
		for i := range want.hours { // the packer writes strings as JSON would have read them
			want.hours[i].country, want.hours[i].owner = jsonSafe(want.hours[i].country), jsonSafe(want.hours[i].owner)
		}
		for i := range want.rels {
			want.rels[i].country, want.rels[i].owner = jsonSafe(want.rels[i].country), jsonSafe(want.rels[i].owner)
		}
		if got := (rowEntries{hs2, rs2}); !got.equal(want) {
			t.Fatalf("%x reads\n%+v\npacked again reads\n%+v", b, want, got)
		}
	})
}

// BenchmarkPackRow packs the row of a device of bench/flows/pcapgen's
// capture: 100 single-flow relations to random peers at microsecond times
// over an hour, 30 hourly roll-ups.
func BenchmarkPackRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ns := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixNano()
	var rels []Relation
	for range 100 {
		rels = append(rels, Relation{RelationKey: RelationKey{Device: addr4(0x0a000001), Peer: addr4(rng.Uint32()), Proto: 6, Port: []uint16{80, 443, 8883, 123}[rng.IntN(4)], Outbound: true},
			Attr: uint32(rng.IntN(30)), Flows: 1, Packets: 1, Bytes: 40, First: ns + rng.Int64N(int64(time.Hour))/1000*1000})
		rels[len(rels)-1].Last = rels[len(rels)-1].First
	}
	sortRelations(rels)
	var hours []Hourly
	for i := range 30 {
		hours = append(hours, Hourly{HourKey: HourKey{Device: addr4(0x0a000001), Hour: ns / 1e9 / 3600 * 3600, Outbound: true, Attr: uint32(i)}, Flows: 3, Packets: 3, Bytes: 120})
	}
	attrs := make([]geo.Attribution, 30)
	for i := range attrs {
		attrs[i].Country = fmt.Sprintf("%c%c", 'A'+i/26, 'A'+i%26)
	}
	p := newRowPacker(attrs)
	b.ReportAllocs()
	for b.Loop() {
		p.pack(hours, rels)
	}
}
