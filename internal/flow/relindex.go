package flow

import (
	"math/bits"
	"slices"
	"unsafe"
)

// relIndex maps the keys of spilled relations to their IDs: open-addressing
// tables of 16-byte slots (levels), behind a blocked Bloom filter of 8 bits
// per slot of the newest two levels (three bits per key, all in one 64-bit
// word): most lookups are of relations never spilled, and the filter (a
// sixteenth of the tables) answers them with one memory access where the
// tables would cost a miss.
//
// The index does not grow by moving its keys into a table of twice the size:
// when the newest level is full, a new one of twice its size takes the next
// keys, and the old ones stay as they are. Doubling one table wrote every key
// again into fresh memory each time, twice the final table's in all (64 MiB
// for a million spilled relations), and a page fault for each of its pages;
// the levels are written once, and add up to the size of that final table.
// A key found through the filter is looked for in each level, newest first:
// the older ones are small (half, a quarter...), and most are in the cache.
// Only the filter is made again for a new level, from the keys, in a
// sixteenth of the memory.
//
// The levels and the filter are indexed by the high bits of the key's hash,
// and an eviction's keys come in the order of their hashes (the relation
// table's): the newest level and the filter are then written from start to
// end, not at random places (each of which cost a cache and TLB miss).
type relIndex struct {
	levels []idxLevel // oldest first; keys are put in the last
	n      int
	bloom  []uint64
	bshift uint // 64 - log2 of the filter's words
	// minWords is the filter's words at least (bloomFor): a filter of
	// that size from the start is not made again for each new level.
	minWords int

	hs []uint64 // putAll's scratch space
}

// maxBloomFor is the largest filter bloomFor gives (4 MiB).
const maxBloomFor = 1 << 19

// bloomFor returns the words of a filter of 8 bits per key for n keys (a
// power of two, at most maxBloomFor): the size the index's filter reaches
// for n keys when made again for each new level, from the start. Sized for
// the relation bound (MaxRelations), it is made once: the keys of a
// million spilled relations were hashed again 1.4 million times otherwise,
// to fill filters of 8, 16... 2048 KiB one after the other.
func bloomFor(n int) int {
	w := 1
	for w < n/8 && w < maxBloomFor {
		w *= 2
	}
	return w
}

// idxLevel is one of an index's tables (linear probing, power-of-two size,
// filled to 3/4 at most).
type idxLevel struct {
	slots []relIdxSlot
	shift uint // 64 - log2 of the slots
	n     int
}

// minIdxLevel is the slots of an index's first level at least.
const minIdxLevel = 1 << 12

// bloomBits returns the filter word and bits of a key's hash h.
func (x *relIndex) bloomBits(h uint64) (uint64, uint64) {
	return h >> x.bshift, bloomMask(h)
}

// mayHave reports whether the key of hash h may have been spilled; false
// is certain. The index must not be empty.
func (x *relIndex) mayHave(h uint64) bool {
	w, b := x.bloomBits(h)
	return x.bloom[w]&b == b
}

type relIdxSlot struct {
	dev, peer uint32
	port      uint16
	proto     uint8
	flags     uint8 // 1: used, 2: out
	id        uint32
}

func idxSlot(k relKey4) relIdxSlot {
	s := relIdxSlot{dev: k.dev, peer: k.peer, port: k.port, proto: k.proto, flags: 1}
	if k.out {
		s.flags |= 2
	}
	return s
}

func (s *relIdxSlot) key() relKey4 {
	return relKey4{s.dev, s.peer, s.port, s.proto, s.flags&2 != 0}
}

func (s *relIdxSlot) same(o *relIdxSlot) bool {
	return s.dev == o.dev && s.peer == o.peer && s.port == o.port && s.proto == o.proto && s.flags == o.flags
}

// find returns the level's slot of want's key, of hash h, or nil.
func (l *idxLevel) find(want *relIdxSlot, h uint64) *relIdxSlot {
	mask := uint64(len(l.slots) - 1)
	for i := h >> l.shift; ; i = (i + 1) & mask {
		s := &l.slots[i]
		if s.flags == 0 {
			return nil
		}
		if s.same(want) {
			return s
		}
	}
}

// find returns the slot of want's key, of hash h, or nil. The filter must
// have let the key through.
func (x *relIndex) find(want *relIdxSlot, h uint64) *relIdxSlot {
	for i := len(x.levels) - 1; i >= 0; i-- {
		if x.levels[i].n == 0 {
			continue
		}
		if s := x.levels[i].find(want, h); s != nil {
			return s
		}
	}
	return nil
}

// get returns the ID of a spilled relation and whether k, of hash h
// (relKey4.hash), was spilled.
func (x *relIndex) get(k relKey4, h uint64) (uint32, bool) {
	if x.n == 0 || !x.mayHave(h) {
		return 0, false
	}
	want := idxSlot(k)
	if s := x.find(&want, h); s != nil {
		return s.id, true
	}
	return 0, false
}

// putAll records the IDs of spilled relations. They come in the relation
// table's order, which is that of their hashes' high bits (relTable), so
// that the newest level's slots and the filter are written from start to
// end; putAll reads the slot of the key putAhead places on before each put,
// so that the misses of several keys overlap (a put's branch on its slot,
// mispredicted at random, kept them apart).
func (x *relIndex) putAll(s []relSlot) {
	if x.full(len(s)) {
		x.add(x.next(len(s)))
	}
	hs := slices.Grow(x.hs[:0], len(s))[:len(s)]
	x.hs = hs
	for i := range s {
		hs[i] = s[i].key.hash()
	}
	l := &x.levels[len(x.levels)-1]
	for i := range s {
		if q := i + putAhead; q < len(s) {
			prefetch(unsafe.Pointer(&l.slots[hs[q]>>l.shift]))
		}
		x.put(l, s[i].key, hs[i], s[i].id)
	}
}

// putAhead is how many keys ahead putAll reads the slot of.
const putAhead = 8

// put records a spilled relation's ID in level l, the newest, unless the
// relation was spilled before (its ID is then updated where it is); l must
// have room.
func (x *relIndex) put(l *idxLevel, k relKey4, h uint64, id uint32) {
	want := idxSlot(k)
	want.id = id
	w, b := x.bloomBits(h)
	if x.bloom[w]&b == b {
		if s := x.find(&want, h); s != nil {
			s.id = id
			return
		}
	}
	x.bloom[w] |= b
	mask := uint64(len(l.slots) - 1)
	i := h >> l.shift
	for l.slots[i].flags != 0 {
		i = (i + 1) & mask
	}
	l.slots[i] = want
	l.n++
	x.n++
}

// full reports whether the newest level has no room for n more keys.
func (x *relIndex) full(n int) bool {
	if len(x.levels) == 0 {
		return true
	}
	l := &x.levels[len(x.levels)-1]
	return (l.n+n)*4 > len(l.slots)*3
}

// idxGrowth is a new level for an index and the filter of all its keys.
type idxGrowth struct {
	level  idxLevel
	bloom  []uint64
	bshift uint
}

// next returns a level with room for n keys, at least twice the size of the
// newest, and the filter of x's keys for the levels with it, without
// changing x.
func (x *relIndex) next(n int) idxGrowth {
	size := minIdxLevel
	if len(x.levels) > 0 {
		size = 2 * len(x.levels[len(x.levels)-1].slots)
	}
	for n*4 > size*3 {
		size *= 2
	}
	g := idxGrowth{level: idxLevel{slots: written[relIdxSlot](size), shift: uint(65 - bits.Len(uint(size)))}}
	words := max(size/4, x.minWords) // 8 bits per slot of this level and one of half its size
	g.bshift = uint(65 - bits.Len(uint(words)))
	if words == len(x.bloom) {
		g.bloom = x.bloom // has room for the keys as it is
		return g
	}
	g.bloom = written[uint64](words)
	for i := range x.levels {
		for j := range x.levels[i].slots {
			s := &x.levels[i].slots[j]
			if s.flags == 0 {
				continue
			}
			h := s.key().hash()
			g.bloom[h>>g.bshift] |= bloomMask(h)
		}
	}
	return g
}

// bloomMask returns the filter bits of a key's hash h (bloomBits).
func bloomMask(h uint64) uint64 {
	g := h * 0x9e3779b97f4a7c15
	return 1<<(g>>58) | 1<<(g>>52&63) | 1<<(g>>46&63)
}

// add makes g's level the newest and g's filter the index's.
func (x *relIndex) add(g idxGrowth) {
	x.levels = append(x.levels, g.level)
	x.bloom, x.bshift = g.bloom, g.bshift
}
