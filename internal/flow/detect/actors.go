package detect

import "slices"

// actorTable holds what the engine keeps per IPv4 actor, found with one
// probe per record: the DDoS pre-filter window and the actor's fan-out
// windows (the first few horizontal windows and vertical pairs inline, the
// rest in the fanout's tables; see fanactor.go). An open-addressing index
// (linear probing, grown at 3/4 load) of 8-byte slots, eight to a cache
// line, points into a dense array of entries.
type actorTable struct {
	slots []actorSlot
	ents  []actorEnt
	mask  uint32
	n     int
}

type actorSlot struct {
	key uint32
	i   uint32 // entry index + 1; 0: empty
}

// actorEnt is one IPv4 actor's state: what every record touches first
// (the DDoS window, the counts, the inline windows' keys and states: the
// first cache line), then the inline windows' targets and hosts. It is
// four whole cache lines: the entries of a table of more than a hundred
// actors (an allocation of whole pages) then each start a line, and a
// record's entry is four lines to read (ObserveBatch), not four or five.
type actorEnt struct {
	w   actorWindow
	key uint32
	fanCounts
	fanActor
}

// actorEntSize is an actorEnt's size (TestActorEntSize checks it).
const actorEntSize = 4 * 64

func newActorTable(size int) actorTable {
	return actorTable{slots: make([]actorSlot, size), mask: uint32(size - 1)}
}

func hash32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// get returns k's entry, inserting a zero one (DDoS window bucket 0, no
// fan-out window) when absent. The pointer is valid until the next
// insertion.
func (t *actorTable) get(k uint32) *actorEnt {
	i := hash32(k) & t.mask
	for {
		s := &t.slots[i]
		if s.i == 0 {
			if (t.n+1)*4 > len(t.slots)*3 {
				t.grow()
				return t.get(k)
			}
			t.n++
			t.ents = append(t.ents, actorEnt{key: k})
			s.key, s.i = k, uint32(len(t.ents))
			return &t.ents[len(t.ents)-1]
		}
		if s.key == k {
			return &t.ents[s.i-1]
		}
		i = (i + 1) & t.mask
	}
}

// find returns k's entry or nil.
func (t *actorTable) find(k uint32) *actorEnt {
	if t.slots == nil {
		return nil
	}
	return t.findHash(k, hash32(k))
}

// findHash is find of k, whose hash32 is h (the table has slots).
func (t *actorTable) findHash(k, h uint32) *actorEnt {
	if x := t.index(k, h); x != 0 {
		return &t.ents[x-1]
	}
	return nil
}

// index returns the index+1 of k's entry, whose hash32 is h, or 0 (the
// table has slots).
func (t *actorTable) index(k, h uint32) uint32 {
	i := h & t.mask
	for {
		s := &t.slots[i]
		if s.i == 0 || s.key == k {
			return s.i
		}
		i = (i + 1) & t.mask
	}
}

// grow doubles the index, and gives the entries room for as many as the
// index then takes (its 3/4): they are moved once per doubling, where
// append's growth by a quarter moved a few megabytes again and again.
func (t *actorTable) grow() {
	old := t.slots
	t.slots = make([]actorSlot, 2*len(old))
	t.mask = uint32(len(t.slots) - 1)
	for _, s := range old {
		if s.i != 0 {
			t.place(s)
		}
	}
	t.ents = slices.Grow(t.ents, len(t.slots)*3/4-len(t.ents))
}

func (t *actorTable) place(s actorSlot) {
	j := hash32(s.key) & t.mask
	for t.slots[j].i != 0 {
		j = (j + 1) & t.mask
	}
	t.slots[j] = s
}

// keep returns a table of the entries f keeps, sized for them.
func (t *actorTable) keep(f func(*actorEnt) bool) actorTable {
	size := 1 << 10
	var ents []actorEnt
	for i := range t.ents {
		if f(&t.ents[i]) {
			ents = append(ents, t.ents[i])
		}
	}
	for len(ents)*4 > size*3 {
		size *= 2
	}
	out := newActorTable(size)
	out.ents, out.n = ents, len(ents)
	for i := range ents {
		out.place(actorSlot{key: ents[i].key, i: uint32(i + 1)})
	}
	return out
}
