package detect

// actorTable holds the DDoS pre-filter windows of IPv4 actors inline in an
// open-addressing table (linear probing, grown at 3/4 load): one record
// touches one 32-byte slot instead of a map entry and a separate window.
type actorTable struct {
	slots []actorSlot
	mask  uint32
	n     int
}

type actorSlot struct {
	key  uint32
	used bool
	w    actorWindow
}

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

// get returns k's window, inserting a zero window (bucket 0) when absent.
// The pointer is valid until the next insertion.
func (t *actorTable) get(k uint32) *actorWindow {
	i := hash32(k) & t.mask
	for {
		s := &t.slots[i]
		if !s.used {
			if (t.n+1)*4 > len(t.slots)*3 {
				t.grow()
				return t.get(k)
			}
			t.n++
			*s = actorSlot{key: k, used: true}
			return &s.w
		}
		if s.key == k {
			return &s.w
		}
		i = (i + 1) & t.mask
	}
}

func (t *actorTable) grow() {
	old := t.slots
	t.slots = make([]actorSlot, 2*len(old))
	t.mask = uint32(len(t.slots) - 1)
	for _, s := range old {
		if !s.used {
			continue
		}
		j := hash32(s.key) & t.mask
		for t.slots[j].used {
			j = (j + 1) & t.mask
		}
		t.slots[j] = s
	}
}
