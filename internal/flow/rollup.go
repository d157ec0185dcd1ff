package flow

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"iotwatch/internal/geo"
)

// HourKey identifies one hourly roll-up: a device's traffic in one
// direction with one destination country and network owner.
type HourKey struct {
	Hour     int64 // Unix seconds of the hour's start (UTC)
	Device   netip.Addr
	Attr     uint32 // index into Rollups.Attributions
	Outbound bool
}

// Hourly is the sum of the flows under one key.
type Hourly struct {
	HourKey
	Known                 bool
	Flows, Packets, Bytes uint64 // both directions
}

// RelationKey identifies a device's relation with one peer service.
type RelationKey struct {
	Device, Peer netip.Addr
	Proto        uint8
	Port         uint16 // the peer's port
	Outbound     bool
}

// Relation is the sum of the flows of one relation over the ingest.
type Relation struct {
	RelationKey
	Known                 bool
	Attr                  uint32
	Flows, Packets, Bytes uint64
	First, Last           int64  // Unix nanoseconds
	id                    uint32 // Orientation.Rel; not part of the roll-up
}

// Aggregator sums records into hourly roll-ups per device and destination
// country/owner, and into device↔peer relations. Relations beyond
// MaxRelations are not kept but counted (hourly roll-ups still include them).
// It is not safe for concurrent use; the pipeline's consumer owns it.
//
// The layout is chosen for the memory access of one record, which is what an
// ingest of millions of records spends its time on:
//   - IPv4 relations live in an open-addressing table whose 64-byte slots hold
//     the key and all counters, so a record touches one cache line for its
//     relation (a map of indexes into separate records touched three);
//   - hourly roll-ups are found through their hour first: exporters send
//     records roughly in time order, so the current hour's map and rows stay
//     small and in cache however many hours the ingest spans;
//   - the peer's attribution is numbered once per relation, not per record
//     (a pipeline's producer that waits looks the peers up: see attrIndex);
//   - an eviction's run is sorted and written on its own goroutine (spillJob);
//   - the pipeline adds a batch at a time (addRelations, addHours), reading
//     the cache lines a record will need a few records ahead, so that the
//     misses of a stream of new relations overlap instead of coming one
//     after another.
//
// IPv6 falls back to maps with full keys.
type Aggregator struct {
	maxRelations int

	hours    map[uint32]*hourTable // IPv4, by hour number since the epoch
	lastHour uint32
	last     *hourTable
	latest   uint32          // the latest hour with a table
	hourly6  map[HourKey]int // index in hours6
	hours6   []Hourly        // the other roll-ups, in their first record's order

	rel4 relTable
	rel6 map[RelationKey]*Relation

	attrIndex                   // the peers' attributions, numbered
	fromProd  []uint32          // a producer's attribution numbers (attrFrom): ours+1, 0 unknown
	prodAttrs []geo.Attribution // the producer's attributions, during addRelations
	// Untracked counts records whose relation was not kept.
	Untracked int64
	lastID    uint32 // the latest relation ID given (Orientation.Rel)

	// Spilling of IPv4 relations (relspill.go).
	active    int // relations kept in the table before spilling (0: never)
	spillDir  string
	spill     *relSpill
	spilled   relIndex
	distinct4 int // distinct IPv4 relations, in the table or spilled
	spillErr  error
	nspilled  int64 // records written to the spill file
	lastSpill int   // records the last eviction spilled
	returned  int   // spilled relations seen again since
	scratch   []relSlot
	job       *spillJob // the last eviction's write, until settled
	ord       []relOrd
	sample    []int64

	hashes  []uint64  // addRelations' scratch space
	hadds   []hourAdd // addHours'
	testAIs []uint32  // addAll's (tests)
}

// hourTable holds one hour's IPv4 roll-ups in an open-addressing table of
// 32-byte slots: the key packs device, attribution, known and direction
// (see hourKey); a slot with no flows is empty. A key's slot is given by its
// hash's high bits, so that growing the table writes the new one from start
// to end (see relTable).
type hourTable struct {
	slots []hourSlot
	mask  uint64
	shift uint // 64 - log2 of the slots
	n     int
}

type hourSlot struct {
	key                   uint64
	flows, packets, bytes uint64
}

const maxHourAttr = 1 << 30

func hourKey(dev, attr uint32, known, out bool) uint64 {
	k := uint64(dev)<<32 | uint64(attr)<<2
	if known {
		k |= 2
	}
	if out {
		k |= 1
	}
	return k
}

func newHourTable(size int) *hourTable {
	return &hourTable{slots: written[hourSlot](size), mask: uint64(size - 1), shift: uint(65 - bits.Len(uint(size)))}
}

// home returns the slot of key k.
func (t *hourTable) home(k uint64) uint64 { return mix64(k) >> t.shift }

func (t *hourTable) add(k uint64, pk, by uint64) {
	i := t.home(k)
	for {
		s := &t.slots[i]
		if s.flows == 0 {
			if (t.n+1)*4 > len(t.slots)*3 {
				t.grow()
				t.add(k, pk, by)
				return
			}
			t.n++
			*s = hourSlot{key: k, flows: 1, packets: pk, bytes: by}
			return
		}
		if s.key == k {
			s.flows++
			s.packets += pk
			s.bytes += by
			return
		}
		i = (i + 1) & t.mask
	}
}

func (t *hourTable) grow() {
	old := t.slots
	*t = hourTable{slots: written[hourSlot](2 * len(old)), mask: uint64(2*len(old) - 1), shift: t.shift - 1, n: t.n}
	for _, s := range old {
		if s.flows == 0 {
			continue
		}
		j := t.home(s.key)
		for t.slots[j].flows != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = s
	}
}

// DefaultMaxRelations bounds the relations one ingest keeps in memory.
const DefaultMaxRelations = 2_000_000

// NewAggregator returns an empty aggregator; attribute may be nil (no
// attribution), maxRelations ≤ 0 takes DefaultMaxRelations.
func NewAggregator(attribute func(netip.Addr) geo.Attribution, maxRelations int) *Aggregator {
	if maxRelations <= 0 {
		maxRelations = DefaultMaxRelations
	}
	return &Aggregator{
		maxRelations: maxRelations,
		hours:        map[uint32]*hourTable{}, hourly6: map[HourKey]int{},
		rel4: newRelTable(1 << 12), rel6: map[RelationKey]*Relation{},
		spilled:   relIndex{minWords: bloomFor(maxRelations)},
		attrIndex: newAttrIndex(attribute),
	}
}

// v4 returns an IPv4 address as a number.
func v4(a netip.Addr) (uint32, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), true
}

func addr4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

func (a *Aggregator) nrels() int { return a.distinct4 + len(a.rel6) }

// SpillTo makes the aggregator keep at most active IPv4 relations in memory
// (0: DefaultActiveRelations, negative: all) and spill the least recently
// seen half to a file in dir (empty: the system's temporary directory)
// when it is full (see relspill.go).
func (a *Aggregator) SpillTo(dir string, active int) {
	if active == 0 {
		active = DefaultActiveRelations
	}
	a.spillDir, a.active = dir, max(active, 0)
}

// evict spills the least recently seen half of the relation table (by
// last record end, from a sample). When most of what it spilled last time
// has come back, the relations in use do not fit: the table doubles instead
// (it holds the working set, as a cache does).
func (a *Aggregator) evict() {
	if a.lastSpill > 0 && 2*a.returned > a.lastSpill {
		a.active *= 2
		a.lastSpill, a.returned = 0, 0
		return
	}
	a.settle() // the previous eviction's write: a failure stops spilling
	if a.active == 0 {
		return
	}
	if a.spill == nil {
		sp, err := newRelSpill(a.spillDir)
		if err != nil {
			a.spillErr, a.active = err, 0 // keep everything in memory, as before
			return
		}
		a.spill = sp
	}
	t := &a.rel4
	step := max(len(t.slots)/1024, 1)
	a.sample = a.sample[:0]
	for i := 0; i < len(t.slots); i += step {
		if t.slots[i].flags&slotUsed != 0 {
			a.sample = append(a.sample, t.slots[i].last)
		}
	}
	slices.Sort(a.sample)
	cut := int64(math.MaxInt64)
	if len(a.sample) > 0 {
		cut = a.sample[len(a.sample)/2]
	}
	out := t.takeOut(cut, a.scratch[:0])
	a.scratch = nil
	a.nspilled += int64(len(out))
	a.lastSpill, a.returned = len(out), 0
	a.spilled.putAll(out)
	a.startSpill(out) // sorted and written while the aggregation goes on
}

// Add sums r, seen from o, into its roll-up and relation, and returns the
// relation's ID (Orientation.Rel; 0 when the relation is untracked).
func (a *Aggregator) Add(r *Record, o Orientation) uint32 {
	id, ai := a.addRelation(r, o)
	a.addHour(r, o, ai)
	return id
}

// addRelation sums r into its relation and returns the relation's ID and
// the peer's attribution index, for addHour (the pipeline runs the two on
// different goroutines: see Pipeline).
func (a *Aggregator) addRelation(r *Record, o Orientation) (uint32, uint32) {
	return a.addRelationHash(r, o, 0, noAttr)
}

// addRelationHash is addRelation for a record whose IPv4 relation key has
// hash h (relKey4.hash; 0: not computed) and whose peer's attribution the
// producer numbered pi (attrFrom; noAttr: looked up here).
func (a *Aggregator) addRelationHash(r *Record, o Orientation, h uint64, pi uint32) (uint32, uint32) {
	ts := r.Start.UnixNano()
	end := ts
	if !r.End.IsZero() {
		end = r.End.UnixNano()
	}
	pk, by := r.Packets+r.RevPackets, r.Bytes+r.RevBytes

	d4, ok1 := v4(o.Device)
	p4, ok2 := v4(o.Peer)
	if ok1 && ok2 {
		var ai uint32
		var id uint32
		k := relKey4{d4, p4, o.Port, r.Proto, o.Outbound}
		if a.active > 0 && a.rel4.n >= a.active {
			a.evict()
		}
		if h == 0 {
			h = k.hash()
		}
		s, found := a.rel4.findHash(k, h, a.nrels() < a.maxRelations)
		var back bool // spilled before: not a new relation
		var backID uint32
		if !found {
			if backID, back = a.spilled.get(k, h); back && s == nil {
				s, _ = a.rel4.findHash(k, h, true)
			}
		}
		switch {
		case s == nil:
			ai = a.peerAttr(o.Peer, pi)
			a.Untracked++
		case found:
			ai = s.attr
		default:
			ai = a.peerAttr(o.Peer, pi)
			s.attr, s.first, s.last, s.id = ai, ts, end, backID
			if o.Known {
				s.flags |= slotKnown
			}
			if back {
				a.returned++
			} else {
				a.distinct4++
				a.lastID++
				s.id = a.lastID
			}
		}
		if s != nil {
			s.flows++
			s.packets += pk
			s.bytes += by
			if ts < s.first {
				s.first = ts
			}
			if end > s.last {
				s.last = end
			}
			id = s.id
		}
		return id, ai
	}

	rk := RelationKey{Device: o.Device, Peer: o.Peer, Proto: r.Proto, Port: o.Port, Outbound: o.Outbound}
	rel := a.rel6[rk]
	var ai uint32
	switch {
	case rel != nil:
		ai = rel.Attr
	case a.nrels() >= a.maxRelations:
		ai = a.peerAttr(o.Peer, pi)
		a.Untracked++
	default:
		ai = a.peerAttr(o.Peer, pi)
		a.lastID++
		rel = &Relation{RelationKey: rk, Known: o.Known, Attr: ai, First: ts, Last: end, id: a.lastID}
		a.rel6[rk] = rel
	}
	if rel == nil {
		return 0, ai
	}
	rel.Flows++
	rel.Packets += pk
	rel.Bytes += by
	if ts < rel.First {
		rel.First = ts
	}
	if end > rel.Last {
		rel.Last = end
	}
	return rel.id, ai
}

// addHour sums r, seen from o, into its hourly roll-up; ai is the peer's
// attribution index (addRelation).
func (a *Aggregator) addHour(r *Record, o Orientation, ai uint32) {
	pk, by := r.Packets+r.RevPackets, r.Bytes+r.RevBytes
	hour := r.Start.Unix() / 3600 * 3600
	d4, ok1 := v4(o.Device)
	_, ok2 := v4(o.Peer)
	if ok1 && ok2 && hour >= 0 && hour/3600 <= math.MaxUint32 && ai < maxHourAttr {
		a.add4(uint32(hour/3600), hourKey(d4, ai, o.Known, o.Outbound), pk, by)
	} else {
		a.add6(HourKey{Hour: hour, Device: o.Device, Attr: ai, Outbound: o.Outbound}, o.Known, pk, by)
	}
}

func (a *Aggregator) add4(hn uint32, k uint64, pk, by uint64) {
	t := a.last
	if t == nil || hn != a.lastHour {
		if t = a.hours[hn]; t == nil {
			t = newHourTable(a.hourSize(hn))
			a.hours[hn] = t
		}
		a.lastHour, a.last = hn, t
	}
	t.add(k, pk, by)
}

// hourSize is the size of a new hour's table: when the records move on to
// the hour after the latest, room for as many roll-ups as that one has (an
// ingest's hours are alike, and the table need not grow through every size
// again); else (an earlier hour, a gap), or when it has few, a small table.
func (a *Aggregator) hourSize(hn uint32) int {
	size := 1 << 10
	if prev := a.hours[hn-1]; prev != nil && hn > a.latest {
		for size*3 < prev.n*4 {
			size *= 2
		}
	}
	a.latest = max(a.latest, hn)
	return size
}

func (a *Aggregator) add6(k HourKey, known bool, pk, by uint64) {
	i, ok := a.hourly6[k]
	if !ok {
		i = len(a.hours6)
		a.hourly6[k] = i
		a.hours6 = append(a.hours6, Hourly{HourKey: k, Known: known})
	}
	h := &a.hours6[i]
	h.Flows++
	h.Packets += pk
	h.Bytes += by
}

// Rollups is an aggregator's content.
type Rollups struct {
	Hourly []Hourly
	// Relations are in no particular order. An aggregator's take leaves its
	// IPv4 relations out of them, sorted and partly in its spill file, for
	// Save to read (NumRelations counts both; Close releases the file).
	Relations    []Relation
	Attributions []geo.Attribution
	Untracked    int64
	// Spilled counts relation records the aggregator wrote to its spill
	// file (a relation seen again after it was spilled counts again).
	Spilled int64

	rel4 *relSource
}

// NumRelations returns the number of relations.
func (r *Rollups) NumRelations() int {
	n := len(r.Relations)
	if r.rel4 != nil {
		n += r.rel4.n
	}
	return n
}

// Close releases the relations' spill file; Save closes it after reading.
func (r *Rollups) Close() error {
	if r.rel4 == nil {
		return nil
	}
	err := r.rel4.spill.close()
	r.rel4 = nil
	return err
}

// all returns every relation: Relations and those a take left aside.
func (r *Rollups) all() ([]Relation, error) {
	out := slices.Clone(r.Relations)
	c := r.rel4.cursor()
	for ; c.ok; c.advance() {
		out = append(out, c.relation())
	}
	return out, c.err
}

// Rollups returns the content in no particular order, every relation in
// Relations.
func (a *Aggregator) Rollups() Rollups {
	r := a.rollups(false)
	rels, err := r.all()
	if err != nil {
		panic(errors.Join(errors.New("flow: read back spilled relations"), err)) // tests only
	}
	r.Relations, r.rel4 = rels, nil
	return r
}

// take returns the content, releasing the tables as they are copied (the
// IPv4 relations are sorted in place, not copied): the aggregator is empty
// after, and the caller closes the result.
func (a *Aggregator) take() Rollups {
	r := a.rollups(true)
	dir, active := a.spillDir, a.active
	if a.spillErr != nil {
		active = -1
	}
	*a = *NewAggregator(a.attribute, a.maxRelations)
	a.SpillTo(dir, active)
	return r
}

func (a *Aggregator) rollups(release bool) Rollups {
	a.settle()
	nh := len(a.hours6)
	for _, t := range a.hours {
		nh += t.n
	}
	// The hourly roll-ups are copied out after the pipeline's stages, in
	// its wall time: into huge pages (written), not a fault per 4 KiB of a
	// few tens of megabytes.
	out := Rollups{Hourly: written[Hourly](nh)[:0], Relations: make([]Relation, 0, len(a.rel6)), Attributions: a.attrs, Untracked: a.Untracked,
		Spilled: a.nspilled}
	// The hours in order (and the others in their first record's), so that
	// the roll-ups' order, and with it Save's split of the devices (which
	// samples it), is the same from one run to the next.
	for _, hn := range slices.Sorted(maps.Keys(a.hours)) {
		t := a.hours[hn]
		for _, h := range t.slots {
			if h.flows == 0 {
				continue
			}
			out.Hourly = append(out.Hourly, Hourly{
				HourKey: HourKey{Hour: int64(hn) * 3600, Device: addr4(uint32(h.key >> 32)), Attr: uint32(h.key>>2) & (maxHourAttr - 1), Outbound: h.key&1 != 0},
				Known:   h.key&2 != 0, Flows: h.flows, Packets: h.packets, Bytes: h.bytes,
			})
		}
		if release {
			delete(a.hours, hn)
		}
	}
	out.Hourly = append(out.Hourly, a.hours6...)
	if release {
		a.hourly6, a.hours6 = nil, nil
	}
	// The table's slots, compacted to its front (or copied) and sorted.
	t := &a.rel4
	var mem []relSlot
	if !release {
		mem = make([]relSlot, 0, t.n)
	}
	n := 0
	for i := range t.slots {
		if t.slots[i].flags&slotUsed == 0 {
			continue
		}
		if release {
			t.slots[n] = t.slots[i]
			n++
		} else {
			mem = append(mem, t.slots[i])
		}
	}
	if release {
		mem = t.slots[:n]
	}
	a.ord = sortSlots(mem, a.ord)
	out.rel4 = &relSource{mem: mem, spill: a.spill, n: a.distinct4}
	for _, rel := range a.rel6 {
		r := *rel
		r.id = 0
		out.Relations = append(out.Relations, r)
	}
	if release {
		a.rel4, a.rel6, a.spill = relTable{}, nil, nil
	}
	return out
}

// HourTime returns the roll-up hour as a time.
func (k HourKey) HourTime() time.Time { return time.Unix(k.Hour, 0).UTC() }
