package pcap

// flowTable maps IPv4 flow keys to slab indexes: open addressing with
// linear probing, grown at 3/4 load, deletion by backward shift (no
// tombstones: a capture opens and ends flows all the time). Slots hold no
// pointers; a lookup touches one slot, where a Go map touched a control
// group and then the slot.
type flowTable struct {
	slots []flowSlot
	mask  uint64
	n     int
}

type flowSlot struct {
	k key4
	i int32 // slab index (0: empty)
}

func (k key4) hash() uint64 {
	x := k.ab ^ (k.pp+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	x ^= x >> 29
	return x
}

// get returns k's index (0: none).
func (t *flowTable) get(k key4) int32 {
	if t.n == 0 {
		return 0
	}
	for j := k.hash() & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if s.i == 0 || s.k == k {
			return s.i
		}
	}
}

// set maps k to i (> 0).
func (t *flowTable) set(k key4, i int32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	for j := k.hash() & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if s.i == 0 {
			*s = flowSlot{k, i}
			t.n++
			return
		}
		if s.k == k {
			s.i = i
			return
		}
	}
}

// del removes k, shifting back the slots after it that probed past it.
func (t *flowTable) del(k key4) {
	if t.n == 0 {
		return
	}
	j := k.hash() & t.mask
	for ; t.slots[j].k != k || t.slots[j].i == 0; j = (j + 1) & t.mask {
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
		if home := s.k.hash() & t.mask; (next-home)&t.mask >= (next-j)&t.mask {
			t.slots[j] = *s
			j = next
		}
	}
	t.slots[j] = flowSlot{}
	t.n--
}

func (t *flowTable) grow() {
	old := t.slots
	size := max(2*len(old), 1<<12)
	t.slots, t.mask, t.n = make([]flowSlot, size), uint64(size-1), 0
	for _, s := range old {
		if s.i != 0 {
			t.set(s.k, s.i)
		}
	}
}
