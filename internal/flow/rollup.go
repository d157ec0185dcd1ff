package flow

import (
	"encoding/binary"
	"math"
	"net/netip"
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
	First, Last           int64 // Unix nanoseconds
	// Ext is an observer's index for state it keeps about the relation (see
	// Orientation.Rel); 0 means none. It is not part of the roll-up.
	Ext uint32
}

// Aggregator sums records into hourly roll-ups per device and destination
// country/owner, and into device↔peer relations. Relations beyond
// MaxRelations are not kept but counted (hourly roll-ups still include them).
// It is not safe for concurrent use; the pipeline's consumer owns it.
//
// IPv4 keys are packed into small pointer-free structs (the maps hold
// indexes, so the garbage collector never scans them); IPv6 falls back to
// the full keys. Relations live in fixed-size chunks so that the pointers
// Add returns stay valid.
type Aggregator struct {
	attribute    func(netip.Addr) geo.Attribution
	maxRelations int

	// IPv4 hourly roll-ups are found through the hour first: exporters send
	// records roughly in time order, so the current hour's map stays small
	// and in cache however many hours the ingest spans.
	hourly4  map[uint32]map[hourKey4]uint32
	lastHour uint32
	lastMap  map[hourKey4]uint32
	hourly6  map[HourKey]uint32
	hours   [][]Hourly // chunks of relChunk
	nhours  int
	rel4    map[relKey4]uint32
	rel6    map[RelationKey]uint32
	rels    [][]Relation // chunks of relChunk
	nrels   int
	peer4   map[uint32]uint32
	peer6   map[netip.Addr]uint32
	attrIdx map[geo.Attribution]uint32
	attrs   []geo.Attribution
	// Untracked counts records whose relation was not kept.
	Untracked int64
}

type hourKey4 struct {
	dev, attr uint32
	out       bool
}

type relKey4 struct {
	dev, peer uint32
	port      uint16
	proto     uint8
	out       bool
}

const relChunk = 4096

// DefaultMaxRelations bounds the relations one ingest keeps in memory.
const DefaultMaxRelations = 2_000_000

// NewAggregator returns an empty aggregator; attribute may be nil (no
// attribution), maxRelations ≤ 0 takes DefaultMaxRelations.
func NewAggregator(attribute func(netip.Addr) geo.Attribution, maxRelations int) *Aggregator {
	if maxRelations <= 0 {
		maxRelations = DefaultMaxRelations
	}
	if attribute == nil {
		attribute = func(netip.Addr) geo.Attribution { return geo.Attribution{} }
	}
	return &Aggregator{
		attribute: attribute, maxRelations: maxRelations,
		hourly4: map[uint32]map[hourKey4]uint32{}, hourly6: map[HourKey]uint32{},
		rel4: make(map[relKey4]uint32, 1<<12), rel6: map[RelationKey]uint32{},
		peer4: map[uint32]uint32{}, peer6: map[netip.Addr]uint32{}, attrIdx: map[geo.Attribution]uint32{},
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

const maxPeerAttr = 1 << 22

func (a *Aggregator) attr(peer netip.Addr) uint32 {
	p4, is4 := v4(peer)
	if is4 {
		if i, ok := a.peer4[p4]; ok {
			return i
		}
	} else if i, ok := a.peer6[peer]; ok {
		return i
	}
	at := a.attribute(peer)
	i, ok := a.attrIdx[at]
	if !ok {
		i = uint32(len(a.attrs))
		a.attrs = append(a.attrs, at)
		a.attrIdx[at] = i
	}
	if len(a.peer4)+len(a.peer6) < maxPeerAttr {
		if is4 {
			a.peer4[p4] = i
		} else {
			a.peer6[peer] = i
		}
	}
	return i
}

func (a *Aggregator) hour(hk HourKey, known bool) *Hourly {
	var i uint32
	var ok bool
	d4, is4 := v4(hk.Device)
	if is4 && hk.Hour >= 0 && hk.Hour/3600 <= math.MaxUint32 {
		hn := uint32(hk.Hour / 3600)
		m := a.lastMap
		if m == nil || hn != a.lastHour {
			if m = a.hourly4[hn]; m == nil {
				m = make(map[hourKey4]uint32, 1<<10)
				a.hourly4[hn] = m
			}
			a.lastHour, a.lastMap = hn, m
		}
		k := hourKey4{d4, hk.Attr, hk.Outbound}
		if i, ok = m[k]; !ok {
			i = uint32(a.nhours)
			m[k] = i
		}
	} else if i, ok = a.hourly6[hk]; !ok {
		i = uint32(a.nhours)
		a.hourly6[hk] = i
	}
	if !ok {
		i = uint32(a.nhours)
		if a.nhours%relChunk == 0 {
			a.hours = append(a.hours, make([]Hourly, relChunk))
		}
		a.hours[i/relChunk][i%relChunk] = Hourly{HourKey: hk, Known: known}
		a.nhours++
	}
	return &a.hours[i/relChunk][i%relChunk]
}

func (a *Aggregator) relation(i uint32) *Relation { return &a.rels[i/relChunk][i%relChunk] }

// newRelation appends a relation and returns its index.
func (a *Aggregator) newRelation(r Relation) uint32 {
	i := a.nrels
	if i%relChunk == 0 {
		a.rels = append(a.rels, make([]Relation, relChunk))
	}
	a.rels[i/relChunk][i%relChunk] = r
	a.nrels++
	return uint32(i)
}

// Add sums r, seen from o, into its roll-up and relation, and returns the
// relation (nil when untracked). The peer's attribution is looked up once per
// relation, not per record.
func (a *Aggregator) Add(r *Record, o Orientation) *Relation {
	ts := r.Start.UnixNano()
	end := ts
	if !r.End.IsZero() {
		end = r.End.UnixNano()
	}
	pk, by := r.Packets+r.RevPackets, r.Bytes+r.RevBytes

	var rel *Relation
	d4, ok1 := v4(o.Device)
	p4, ok2 := v4(o.Peer)
	var (
		k4 relKey4
		rk RelationKey
	)
	packed := ok1 && ok2
	if packed {
		k4 = relKey4{d4, p4, o.Port, r.Proto, o.Outbound}
		if i, ok := a.rel4[k4]; ok {
			rel = a.relation(i)
		}
	} else {
		rk = RelationKey{Device: o.Device, Peer: o.Peer, Proto: r.Proto, Port: o.Port, Outbound: o.Outbound}
		if i, ok := a.rel6[rk]; ok {
			rel = a.relation(i)
		}
	}
	var ai uint32
	switch {
	case rel != nil:
		ai = rel.Attr
	case a.nrels >= a.maxRelations:
		ai = a.attr(o.Peer)
		a.Untracked++
	default:
		ai = a.attr(o.Peer)
		i := a.newRelation(Relation{RelationKey: RelationKey{Device: o.Device, Peer: o.Peer, Proto: r.Proto, Port: o.Port, Outbound: o.Outbound}, Known: o.Known, Attr: ai, First: ts, Last: end})
		if packed {
			a.rel4[k4] = i
		} else {
			a.rel6[rk] = i
		}
		rel = a.relation(i)
	}

	h := a.hour(HourKey{Hour: r.Start.Unix() / 3600 * 3600, Device: o.Device, Attr: ai, Outbound: o.Outbound}, o.Known)
	h.Flows++
	h.Packets += pk
	h.Bytes += by
	if rel == nil {
		return nil
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
	return rel
}

// Rollups is an aggregator's content.
type Rollups struct {
	Hourly       []Hourly
	Relations    []Relation
	Attributions []geo.Attribution
	Untracked    int64
}

// Rollups returns the content in no particular order.
func (a *Aggregator) Rollups() Rollups { return a.rollups(false) }

// take returns the content like Rollups and releases each chunk once
// copied, so that the peak holds one copy; the aggregator is empty after.
func (a *Aggregator) take() Rollups {
	r := a.rollups(true)
	*a = *NewAggregator(a.attribute, a.maxRelations)
	return r
}

func (a *Aggregator) rollups(release bool) Rollups {
	out := Rollups{Hourly: make([]Hourly, 0, a.nhours), Relations: make([]Relation, 0, a.nrels), Attributions: a.attrs, Untracked: a.Untracked}
	for c, chunk := range a.hours {
		out.Hourly = append(out.Hourly, chunk[:min(relChunk, a.nhours-c*relChunk)]...)
		if release {
			a.hours[c] = nil
		}
	}
	for c, chunk := range a.rels {
		for _, rel := range chunk[:min(relChunk, a.nrels-c*relChunk)] {
			rel.Ext = 0
			out.Relations = append(out.Relations, rel)
		}
		if release {
			a.rels[c] = nil
		}
	}
	return out
}

// HourTime returns the roll-up hour as a time.
func (k HourKey) HourTime() time.Time { return time.Unix(k.Hour, 0).UTC() }
