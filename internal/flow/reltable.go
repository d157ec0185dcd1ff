package flow

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
