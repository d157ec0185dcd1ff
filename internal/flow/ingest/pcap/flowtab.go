package pcap

import (
	"unsafe"

	"iotwatch/internal/flow"
)

// flowTable maps IPv4 flow keys to slab indexes: open addressing with
// linear probing, grown at half load, deletion by backward shift (no
// tombstones: a capture opens and ends flows all the time). Slots hold no
// pointers; a lookup touches one slot, where a Go map touched a control
// group and then the slot.
type flowTable struct {
	slots []flowSlot
	mask  uint64
	n     int
}

// flowSlot is 8 bytes, eight to a cache line: the key is the flow's, in
// the slab (a hit reads the flow there anyway); the slot keeps the low 32
// bits of the key's hash, its home slot and a filter that spares a new
// flow's lookup the visits to the slab.
type flowSlot struct {
	h uint32
	i int32 // slab index (0: empty)
}

func (k key4) hash() uint64 {
	x := k.ab ^ (k.pp+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	x ^= x >> 29
	return x
}

// find returns k's index (0: none) and its slot, or the empty slot where
// insert is to place it; h is k.hash() and slab holds the flows' keys.
func (t *flowTable) find(k key4, h uint64, slab []state) (uint64, int32) {
	if t.slots == nil {
		t.grow()
	}
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		s := t.slots[j]
		if s.i == 0 || (s.h == uint32(h) && slab[s.i-1].key == k) {
			return j, s.i
		}
	}
}

// insert maps a key that is absent, of hash h, to i (> 0) at slot j, which
// find returned with no change to the table since.
func (t *flowTable) insert(j, h uint64, i int32) {
	if (t.n+1)*2 > len(t.slots) {
		t.grow()
		for j = h & t.mask; t.slots[j].i != 0; j = (j + 1) & t.mask {
		}
	}
	t.slots[j] = flowSlot{uint32(h), i}
	t.n++
}

// del removes index i, of a key of hash h, shifting back the slots after
// it that probed past it.
func (t *flowTable) del(h uint64, i int32) {
	if t.n == 0 {
		return
	}
	j := h & t.mask
	for ; t.slots[j].i != i; j = (j + 1) & t.mask {
		if t.slots[j].i == 0 {
			return
		}
	}
	for next := (j + 1) & t.mask; ; next = (next + 1) & t.mask {
		s := &t.slots[next]
		if s.i == 0 {
			break
		}
		// s may move to j when its home is not cyclically in (j, next].
		if home := uint64(s.h) & t.mask; (next-home)&t.mask >= (next-j)&t.mask {
			t.slots[j] = *s
			j = next
		}
	}
	t.slots[j] = flowSlot{}
	t.n--
}

// prefetch asks for the slot where a key of hash h starts its probe.
func (t *flowTable) prefetch(h uint64) {
	if t.slots != nil {
		flow.Prefetch(unsafe.Pointer(&t.slots[h&t.mask]))
	}
}

func (t *flowTable) grow() {
	old := t.slots
	size := max(2*len(old), 1<<12)
	t.slots, t.mask = make([]flowSlot, size), uint64(size-1)
	for _, s := range old {
		if s.i != 0 {
			j := uint64(s.h) & t.mask
			for t.slots[j].i != 0 {
				j = (j + 1) & t.mask
			}
			t.slots[j] = s
		}
	}
}
