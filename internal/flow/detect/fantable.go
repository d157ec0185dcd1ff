package detect

// winTable holds the fan-out windows of IPv4 actors that do not fit in
// their actor's entry (fanactor.go: a scanner's, a busy host's) inline in
// an open-addressing table under packed integer keys (linear probing, grown
// at 3/4 load): a probe touches the window's slot, where a map of pointers
// touched the map's group and then the window elsewhere on the heap.
// Windows go when their actor's window moves on (keep), all at once.
type winTable[V any] struct {
	slots []winSlot[V]
	mask  uint64
	n     int
	keep  []winSlot[V] // scratch for prune
}

type winSlot[V any] struct {
	key  uint64
	used bool
	v    V
}

// hash64 mixes a packed key with actors.go's hash32 (32 bits index any
// table this holds).
func hash64(x uint64) uint64 {
	return uint64(hash32(uint32(x>>32) ^ hash32(uint32(x))))
}

// get returns k's value and whether it was there; when absent and create is
// set it inserts a zero value, else it returns nil. The pointer is valid
// until the next insertion or prune.
func (t *winTable[V]) get(k uint64, create bool) (*V, bool) {
	if t.slots == nil {
		if !create {
			return nil, false
		}
		t.slots, t.mask = make([]winSlot[V], 1<<10), 1<<10-1
	}
	i := hash64(k) & t.mask
	for {
		s := &t.slots[i]
		if !s.used {
			if !create {
				return nil, false
			}
			if (t.n+1)*4 > len(t.slots)*3 {
				t.resize(2 * len(t.slots))
				return t.get(k, true)
			}
			t.n++
			s.key, s.used = k, true
			return &s.v, false
		}
		if s.key == k {
			return &s.v, true
		}
		i = (i + 1) & t.mask
	}
}

func (t *winTable[V]) len() int { return t.n }

// each calls fn for every value; fn must not insert.
func (t *winTable[V]) each(fn func(uint64, *V)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.used {
			fn(s.key, &s.v)
		}
	}
}

// prune keeps the values keep reports true for, and halves the table while
// it is under an eighth full.
func (t *winTable[V]) prune(keep func(*V) bool) {
	t.keep = t.keep[:0]
	for i := range t.slots {
		if s := &t.slots[i]; s.used && keep(&s.v) {
			t.keep = append(t.keep, *s)
		}
	}
	size := len(t.slots)
	for size > 1<<10 && len(t.keep)*8 < size {
		size /= 2
	}
	if size != len(t.slots) {
		t.slots, t.mask = make([]winSlot[V], size), uint64(size-1)
	} else {
		clear(t.slots)
	}
	t.n = 0
	for _, s := range t.keep {
		t.insert(s)
	}
	clear(t.keep) // no pointers kept alive by the scratch
	t.keep = t.keep[:0]
}

func (t *winTable[V]) resize(size int) {
	old := t.slots
	t.slots, t.mask, t.n = make([]winSlot[V], size), uint64(size-1), 0
	for _, s := range old {
		if s.used {
			t.insert(s)
		}
	}
}

// insert places a slot whose key is absent (no growth check: callers size).
func (t *winTable[V]) insert(s winSlot[V]) {
	j := hash64(s.key) & t.mask
	for t.slots[j].used {
		j = (j + 1) & t.mask
	}
	t.slots[j] = s
	t.n++
}
