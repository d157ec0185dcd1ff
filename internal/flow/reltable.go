package flow

import (
	"math/bits"
	"unsafe"
)

// relTable is an open-addressing hash table (linear probing, power-of-two
// size, grown at 3/4 load) of IPv4 relations. Each slot is one 64-byte cache
// line holding the key and every counter, and holds no pointers, so the
// garbage collector never scans it.
//
// A key's slot is given by its hash's high bits: the table is then in the
// order of its keys' hashes (but for the few displaced past its end), so
// that growing it, putting back what an eviction keeps and filling the
// spill index with what it spills (relIndex, indexed the same way) write
// memory from start to end instead of at random places.
type relTable struct {
	slots []relSlot
	mask  uint64
	shift uint // 64 - log2 of the slots
	n     int
}

type relKey4 struct {
	dev, peer uint32
	port      uint16
	proto     uint8
	out       bool
}

const (
	slotUsed  = 1
	slotKnown = 2
)

type relSlot struct {
	key                   relKey4 // 12 bytes
	attr                  uint32
	flows, packets, bytes uint64
	first, last           int64
	id                    uint32 // the relation's ID (Orientation.Rel)
	flags                 uint8
}

// written returns a new slice of n zero values for a table, in huge pages
// where the system gives them (hugePages), else written once. A large
// allocation's pages are fresh from the system, and each costs a fault:
// the spill index alone, when it doubled to 32 MiB (before relIndex's
// levels), faulted 16,000 times in an ingest of a million new relations,
// for about 0.1 CPU s. A table's first
// access to a page is a read (of the slot it probes), which maps the shared
// zero page, and then a write, which faults again: written first, a page
// faults once. (The ingest: 73,000 faults, 50,000 written first, 30,000
// with huge pages.)
func written[T any](n int) []T {
	s := make([]T, n)
	if n == 0 || !hugePages(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), n*int(unsafe.Sizeof(s[0])))) {
		clear(s)
	}
	return s
}

func newRelTable(size int) relTable {
	return relTable{slots: written[relSlot](size), mask: uint64(size - 1), shift: uint(65 - bits.Len(uint(size)))}
}

// home returns the slot of a key of hash h.
func (t *relTable) home(h uint64) uint64 { return h >> t.shift }

func (k relKey4) hash() uint64 {
	x := uint64(k.dev)<<32 | uint64(k.peer)
	y := uint64(k.port)<<16 | uint64(k.proto)<<8
	if k.out {
		y |= 1
	}
	x ^= mix64(y + 0x9e3779b97f4a7c15)
	return mix64(x)
}

// mix64 is the 64-bit finaliser of MurmurHash3.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// find returns k's slot and whether it existed. When k is absent and create
// is true it inserts an empty slot for k; when create is false it returns nil.
// The pointer is valid until the next insertion.
func (t *relTable) find(k relKey4, create bool) (*relSlot, bool) {
	return t.findHash(k, k.hash(), create)
}

// findHash is find for a key of hash h (relKey4.hash).
func (t *relTable) findHash(k relKey4, h uint64, create bool) (*relSlot, bool) {
	i := t.home(h)
	for {
		s := &t.slots[i]
		if s.flags&slotUsed == 0 {
			if !create {
				return nil, false
			}
			if (t.n+1)*4 > len(t.slots)*3 {
				t.grow()
				return t.findHash(k, h, true)
			}
			*s = relSlot{key: k, flags: slotUsed}
			t.n++
			return s, false
		}
		if s.key == k {
			return s, true
		}
		i = (i + 1) & t.mask
	}
}

func (t *relTable) grow() {
	old := t.slots
	*t = newRelTable(2 * len(old))
	for i := range old {
		if old[i].flags&slotUsed != 0 {
			t.put(&old[i], old[i].key.hash())
		}
	}
}

// put inserts s, whose key (of hash h) is not in the table; the table must
// have room.
func (t *relTable) put(s *relSlot, h uint64) {
	j := t.home(h)
	for t.slots[j].flags&slotUsed != 0 {
		j = (j + 1) & t.mask
	}
	t.slots[j] = *s
	t.n++
}

// takeOut appends the slots of relations last seen at cut or before to out,
// removes them from the table and returns out. It removes them in place, a
// cluster (a run of used slots) at a time: a slot left after a removed one
// in its cluster moves back to the first free slot from its key's home, as
// putting the cluster's remaining slots back in order into an empty table
// would place them; one before any removal stays where it is. (Copying the
// slots kept out, clearing the table and putting them back wrote the whole
// table twice.)
func (t *relTable) takeOut(cut int64, out []relSlot) []relSlot {
	start := -1 // a free slot, where no cluster goes on from the one before
	for i := range t.slots {
		if t.slots[i].flags&slotUsed == 0 {
			start = i
			break
		}
	}
	if start < 0 {
		return out // never full (grown at 3/4)
	}
	mask := uint64(len(t.slots) - 1)
	gap := false // a slot of this cluster was removed
	for n, p := 0, uint64(start); n < len(t.slots); n++ {
		p = (p + 1) & mask
		s := &t.slots[p]
		switch {
		case s.flags&slotUsed == 0:
			gap = false
		case s.last <= cut:
			out = append(out, *s)
			s.flags = 0
			t.n--
			gap = true
		case gap:
			q := t.home(s.key.hash())
			for q != p && t.slots[q].flags&slotUsed != 0 {
				q = (q + 1) & mask
			}
			if q != p {
				t.slots[q] = *s
				s.flags = 0
			}
		}
	}
	return out
}
