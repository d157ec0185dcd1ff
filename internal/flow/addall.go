package flow

import (
	"math"
	"unsafe"

	"iotwatch/internal/geo"
)

// readAhead is how many records ahead addRelations and addHours read the
// memory a record will need.
const readAhead = 8

// addRelations is addRelation for a batch: it sums recs[i], seen from
// ors[i], into its relation, sets ors[i].Rel to the relation's ID and
// appends the peer's attribution index to ais, which it returns. Each IPv4
// record's relation slot, spill filter word and peer cache entry are read a
// few records before the record is added: a record of a new relation misses
// the cache in all three, and one record's misses, one after another, cost
// a memory latency each where those of several records overlap (prefetch).
//
// pis, when not nil, are the numbers the producer gave the records' peer
// attributions, of its list pattrs (see attrIndex): the aggregation then
// maps them to its own instead of looking the peers up.
func (a *Aggregator) addRelations(recs []Record, ors []Orientation, pis []uint32, pattrs []geo.Attribution, ais []uint32) []uint32 {
	hs := a.hashes[:0]
	for i := range recs {
		var h uint64 // 0: not an IPv4 relation (or, rarely, a hash of 0: not read ahead)
		d4, ok1 := v4(ors[i].Device)
		p4, ok2 := v4(ors[i].Peer)
		if ok1 && ok2 {
			h = relKey4{d4, p4, ors[i].Port, recs[i].Proto, ors[i].Outbound}.hash()
		}
		hs = append(hs, h)
	}
	a.hashes = hs
	a.prodAttrs = pattrs
	for i := range recs {
		if j := i + readAhead; j < len(recs) && hs[j] != 0 {
			prefetch(unsafe.Pointer(&a.rel4.slots[a.rel4.home(hs[j])]))
			if x := &a.spilled; x.n > 0 {
				prefetch(unsafe.Pointer(&x.bloom[hs[j]>>x.bshift]))
			}
			if pis == nil {
				p4, _ := v4(ors[j].Peer)
				a.prefetch(p4)
			}
		}
		pi := uint32(noAttr)
		if pis != nil {
			pi = pis[i]
		}
		id, ai := a.addRelationHash(&recs[i], ors[i], hs[i], pi)
		ors[i].Rel = id
		ais = append(ais, ai)
	}
	a.prodAttrs = nil
	return ais
}

// hourAdd is an IPv4 record's addition to its hourly roll-up (add4).
type hourAdd struct {
	key    uint64
	pk, by uint64
	hn     uint32
}

// addHours is addHour for a batch (ais[i] is recs[i]'s attribution index).
// Each IPv4 record's hourly slot is read a few records before it is added to
// (see addRelations).
func (a *Aggregator) addHours(recs []Record, ors []Orientation, ais []uint32) {
	adds := a.hadds[:0]
	for i := range recs {
		r, o, ai := &recs[i], &ors[i], ais[i]
		hour := r.Start.Unix() / 3600 * 3600
		d4, ok1 := v4(o.Device)
		_, ok2 := v4(o.Peer)
		if ok1 && ok2 && hour >= 0 && hour/3600 <= math.MaxUint32 && ai < maxHourAttr {
			adds = append(adds, hourAdd{key: hourKey(d4, ai, o.Known, o.Outbound), pk: r.Packets + r.RevPackets, by: r.Bytes + r.RevBytes, hn: uint32(hour / 3600)})
		} else {
			a.addHour(r, *o, ai)
		}
	}
	a.hadds = adds
	for i := range adds {
		if j := i + readAhead; j < len(adds) {
			t := a.last
			if hn := adds[j].hn; t == nil || hn != a.lastHour {
				t = a.hours[hn]
			}
			if t != nil {
				prefetch(unsafe.Pointer(&t.slots[t.home(adds[j].key)]))
			}
		}
		a.add4(adds[i].hn, adds[i].key, adds[i].pk, adds[i].by)
	}
}
