package flow

import "slices"

// relTable is an open-addressing hash table (linear probing, power-of-two
// size, grown at 3/4 load) of IPv4 relations. Each slot is one 64-byte cache
// line holding the key and every counter, and holds no pointers, so the
// garbage collector never scans it.
type relTable struct {
	slots []relSlot
	mask  uint64
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

func newRelTable(size int) relTable {
	return relTable{slots: make([]relSlot, size), mask: uint64(size - 1)}
}

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
	i := h & t.mask
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
	t.slots = make([]relSlot, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for i := range old {
		s := &old[i]
		if s.flags&slotUsed == 0 {
			continue
		}
		j := s.key.hash() & t.mask
		for t.slots[j].flags&slotUsed != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = *s
	}
}

// dropUpTo removes the slots whose relation was last seen at or before cut,
// in place: the slots after a removed one in its probe sequence move back
// to where a lookup finds them (linear probing has no tombstones). Walking
// the table once from a slot that was empty before, each cluster is
// visited from its start, so a slot's new place is before it, among slots
// already in their final places.
func (t *relTable) dropUpTo(cut int64) {
	e := -1
	for i := range t.slots {
		if t.slots[i].flags&slotUsed == 0 {
			e = i
			break
		}
	}
	removed := 0
	for i := range t.slots {
		if s := &t.slots[i]; s.flags&slotUsed != 0 && s.last <= cut {
			*s = relSlot{}
			removed++
		}
	}
	t.n -= removed
	if removed == 0 {
		return
	}
	if e < 0 { // a full table (never, below 3/4 load): rebuild it
		old := slices.Clone(t.slots)
		clear(t.slots)
		t.n = 0
		for i := range old {
			if old[i].flags&slotUsed != 0 {
				s, _ := t.find(old[i].key, true)
				*s = old[i]
			}
		}
		return
	}
	for k := 1; k < len(t.slots); k++ {
		i := (uint64(e) + uint64(k)) & t.mask
		s := &t.slots[i]
		if s.flags&slotUsed == 0 {
			continue
		}
		j := s.key.hash() & t.mask
		for j != i && t.slots[j].flags&slotUsed != 0 {
			j = (j + 1) & t.mask
		}
		if j != i {
			t.slots[j] = *s
			*s = relSlot{}
		}
	}
}
