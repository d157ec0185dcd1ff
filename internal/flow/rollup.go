package flow

import (
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
	// Ext is observer state attached to the relation (see Orientation.Rel).
	Ext any
}

// Aggregator sums records into hourly roll-ups per device and destination
// country/owner, and into device↔peer relations. Relations beyond
// MaxRelations are not kept but counted (hourly roll-ups still include them).
// It is not safe for concurrent use; the pipeline's consumer owns it.
type Aggregator struct {
	attribute    func(netip.Addr) geo.Attribution
	maxRelations int

	hourly    map[HourKey]*Hourly
	relations map[RelationKey]*Relation
	peerAttr  map[netip.Addr]uint32
	attrIdx   map[geo.Attribution]uint32
	attrs     []geo.Attribution
	// Untracked counts records whose relation was not kept.
	Untracked int64
}

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
		hourly: make(map[HourKey]*Hourly, 1<<12), relations: make(map[RelationKey]*Relation, 1<<12),
		peerAttr: map[netip.Addr]uint32{}, attrIdx: map[geo.Attribution]uint32{},
	}
}

func (a *Aggregator) attr(peer netip.Addr) uint32 {
	if i, ok := a.peerAttr[peer]; ok {
		return i
	}
	at := a.attribute(peer)
	i, ok := a.attrIdx[at]
	if !ok {
		i = uint32(len(a.attrs))
		a.attrs = append(a.attrs, at)
		a.attrIdx[at] = i
	}
	if len(a.peerAttr) < 1<<22 {
		a.peerAttr[peer] = i
	}
	return i
}

// Add sums r, seen from o, into its roll-up and relation, and returns the
// relation (nil when untracked).
func (a *Aggregator) Add(r *Record, o Orientation) *Relation {
	ts := r.Start.UnixNano()
	end := ts
	if !r.End.IsZero() {
		end = r.End.UnixNano()
	}
	pk, by := r.Packets+r.RevPackets, r.Bytes+r.RevBytes
	ai := a.attr(o.Peer)
	hk := HourKey{Hour: r.Start.Unix() / 3600 * 3600, Device: o.Device, Attr: ai, Outbound: o.Outbound}
	h := a.hourly[hk]
	if h == nil {
		h = &Hourly{HourKey: hk, Known: o.Known}
		a.hourly[hk] = h
	}
	h.Flows++
	h.Packets += pk
	h.Bytes += by

	rk := RelationKey{Device: o.Device, Peer: o.Peer, Proto: r.Proto, Port: o.Port, Outbound: o.Outbound}
	rel := a.relations[rk]
	if rel == nil {
		if len(a.relations) >= a.maxRelations {
			a.Untracked++
			return nil
		}
		rel = &Relation{RelationKey: rk, Known: o.Known, Attr: ai, First: ts, Last: end}
		a.relations[rk] = rel
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
func (a *Aggregator) Rollups() Rollups {
	out := Rollups{Hourly: make([]Hourly, 0, len(a.hourly)), Relations: make([]Relation, 0, len(a.relations)), Attributions: a.attrs, Untracked: a.Untracked}
	for _, h := range a.hourly {
		out.Hourly = append(out.Hourly, *h)
	}
	for _, r := range a.relations {
		rel := *r
		rel.Ext = nil
		out.Relations = append(out.Relations, rel)
	}
	return out
}

// HourTime returns the roll-up hour as a time.
func (k HourKey) HourTime() time.Time { return time.Unix(k.Hour, 0).UTC() }
