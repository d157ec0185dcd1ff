package flow

import (
	"math"
	"net/netip"
	"unsafe"

	"iotwatch/internal/geo"
)

// attrIndex numbers the attributions of peers (the index of
// Rollups.Attributions), looking each peer up once while it stays in its
// cache. An aggregator has one; a pipeline's producer that waits has its
// own, so that the lookups (the country database's, ~100 ns a peer) are not
// the aggregation's work, and the aggregation maps the producer's numbers to
// its own (attrFrom). The attribution function must be a pure function of
// the address (geo.Attributor.Lookup is, and safe for concurrent use).
type attrIndex struct {
	attribute func(netip.Addr) geo.Attribution
	// geo, when set, is attribute's attributor: its numbers of IPv4 peers'
	// attributions (Index4) are mapped to the index's (geoNum: number+1),
	// with no lookup of the peer in the cache nor of the attribution in attrIdx.
	geo     *geo.Attributor
	geoNum  []uint32
	ahead   [4]uint32 // the last peers prefetch was given (see prefetch)
	nAhead  uint32
	peer4   *[peerCache]peerEntry // direct-mapped by the peer's hash
	peer6   map[netip.Addr]uint32
	attrIdx map[geo.Attribution]uint32
	attrs   []geo.Attribution
	recent  [1024]uint32 // an attribution index per country (see number)
}

const maxPeerAttr = 1 << 20

// peerCache is the size of the IPv4 peers' attribution cache: a relation
// keeps its peer's attribution, so the cache serves the peers of many
// relations (a vendor cloud, a resolver) and needs no entry per peer.
const peerCache = 1 << 16

type peerEntry struct{ peer, idx uint32 } // idx: attribution index+1 (0: empty)

// noAttr is a record's producer attribution number when the producer did
// not look its peer up.
const noAttr = math.MaxUint32

func newAttrIndex(attribute func(netip.Addr) geo.Attribution) attrIndex {
	if attribute == nil {
		attribute = func(netip.Addr) geo.Attribution { return geo.Attribution{} }
	}
	return attrIndex{attribute: attribute, peer4: new([peerCache]peerEntry), peer6: map[netip.Addr]uint32{},
		attrIdx: map[geo.Attribution]uint32{}}
}

// attr returns the number of peer's attribution.
func (x *attrIndex) attr(peer netip.Addr) uint32 {
	p4, is4 := v4(peer)
	if is4 && x.geo != nil {
		if g, ok := x.geo.Index4(p4); ok {
			if int(g) < len(x.geoNum) && x.geoNum[g] != 0 {
				return x.geoNum[g] - 1
			}
			return x.numberGeo(g)
		}
	}
	var c *peerEntry
	if is4 {
		c = &x.peer4[mix64(uint64(p4))&(peerCache-1)]
		if c.idx != 0 && c.peer == p4 {
			return c.idx - 1
		}
	} else if i, ok := x.peer6[peer]; ok {
		return i
	}
	i := x.number(x.attribute(peer))
	switch {
	case is4:
		*c = peerEntry{p4, i + 1}
	case len(x.peer6) < maxPeerAttr:
		x.peer6[peer] = i
	}
	return i
}

// numberGeo returns the number of the attribution geo numbered g.
func (x *attrIndex) numberGeo(g uint32) uint32 {
	if int(g) >= len(x.geoNum) {
		x.geoNum = append(x.geoNum, make([]uint32, int(g)+1-len(x.geoNum))...)
	}
	i := x.number(x.geo.Attribution4(g))
	x.geoNum[g] = i + 1
	return i
}

// prefetch reads ahead the cache entry of an IPv4 peer p4, or with geo's
// table, p4's entry in the table, and the ranges of the peer given
// len(ahead) calls earlier (whose entry is in the cache by now: it is read
// to find them).
func (x *attrIndex) prefetch(p4 uint32) {
	if x.geo != nil {
		if p := x.geo.Ahead4(p4, false); p != nil {
			prefetch(p)
			x.nAhead++
			q := &x.ahead[x.nAhead%uint32(len(x.ahead))]
			if r := x.geo.Ahead4(*q, true); r != nil {
				prefetch(r)
				prefetch(unsafe.Add(r, 60))
			}
			*q = p4
			return
		}
	}
	prefetch(unsafe.Pointer(&x.peer4[mix64(uint64(p4))&(peerCache-1)]))
}

// prefetchEntry reads ahead what a lookup of an IPv4 peer p4 reads first:
// with geo's table, p4's entry in it, else p4's cache entry. A caller that
// asks for the entries of a batch of peers, and then reads their ranges
// ahead with prefetchRanges while it looks them up, has the lookups' cache
// misses overlap the work between (prefetch does both steps for a caller
// that looks each peer up a few calls after).
func (x *attrIndex) prefetchEntry(p4 uint32) {
	if x.geo != nil {
		if p := x.geo.Ahead4(p4, false); p != nil {
			prefetch(p)
			return
		}
	}
	prefetch(unsafe.Pointer(&x.peer4[mix64(uint64(p4))&(peerCache-1)]))
}

// prefetchRanges reads ahead p4's ranges in geo's table (when its /16 has
// several), once its entry is in the cache (prefetchEntry).
func (x *attrIndex) prefetchRanges(p4 uint32) {
	if x.geo != nil {
		if r := x.geo.Ahead4(p4, true); r != nil {
			prefetch(r)
			prefetch(unsafe.Add(r, 60))
		}
	}
}

// number returns at's number, giving it the next one if it is new.
func (x *attrIndex) number(at geo.Attribution) uint32 {
	// Most peers share a few attributions (a country, no owner database):
	// the last index of an attribution of the same country is tried first,
	// compared as a struct, before the map (which hashes every string).
	var h int
	if len(at.Country) == 2 {
		h = int(at.Country[0]&31)<<5 | int(at.Country[1]&31) // one per country code
	}
	i := x.recent[h]
	if int(i) >= len(x.attrs) || x.attrs[i] != at {
		var ok bool
		if i, ok = x.attrIdx[at]; !ok {
			i = uint32(len(x.attrs))
			x.attrs = append(x.attrs, at)
			x.attrIdx[at] = i
		}
		x.recent[h] = i
	}
	return i
}

// peerAttr returns the number of a record's peer attribution, which the
// producer numbered pi (noAttr: it did not).
func (a *Aggregator) peerAttr(peer netip.Addr, pi uint32) uint32 {
	if pi == noAttr {
		return a.attr(peer)
	}
	return a.attrFrom(pi)
}

// attrFrom maps the producer's attribution number pi (of a.prodAttrs) to
// the aggregator's. The aggregator numbers an attribution when it first
// needs it, as when it looks peers up itself, so its numbers and
// Rollups.Attributions are the same either way.
func (a *Aggregator) attrFrom(pi uint32) uint32 {
	if int(pi) >= len(a.fromProd) {
		a.fromProd = append(a.fromProd, make([]uint32, int(pi)+1-len(a.fromProd))...)
	}
	if m := a.fromProd[pi]; m != 0 {
		return m - 1
	}
	i := a.number(a.prodAttrs[pi])
	a.fromProd[pi] = i + 1
	return i
}
