package flow

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// relSource is what an aggregator's take leaves of its IPv4 relations: the
// table's slots, compacted and sorted, and the spill file's runs.
type relSource struct {
	mem   []relSlot
	spill *relSpill
	n     int // distinct relations
}

// relCursor reads a relSource's relations in key order, one per key (the
// runs' records of one relation summed).
type relCursor struct {
	h   relHeap
	cur relSlot
	ok  bool
	err error
}

type relStream struct {
	mem    []relSlot // the in-memory run, or the records of the file's block not yet taken
	r      io.Reader // the run's records in the file, or nil
	left   int       // records still in the file
	head   relSlot
	hi, lo uint64 // head's key, packed (relKey4.packed)
	block  []relSlot
}

// streamBlock is how many records a stream reads from the spill file at a
// time (16 KiB): one read per block, straight into the slots.
const streamBlock = 256

func (s *relStream) next() (bool, error) {
	if len(s.mem) == 0 {
		if s.r == nil || s.left == 0 {
			return false, nil
		}
		n := min(s.left, streamBlock)
		if s.block == nil {
			s.block = make([]relSlot, streamBlock)
		}
		if _, err := io.ReadFull(s.r, slotBytes(s.block[:n])); err != nil {
			return false, fmt.Errorf("relation spill file: %w", err)
		}
		s.left -= n
		s.mem = s.block[:n]
	}
	s.head, s.mem = s.mem[0], s.mem[1:]
	s.hi, s.lo = s.head.key.packed()
	return true, nil
}

// relHeap is a binary min-heap of streams by their head's key, held in the
// heap's entries (comparisons read one array, not each stream). Each run is
// sorted, so a stream's head only grows: after taking the top, sifting it
// down restores the order.
type relHeap []heapEntry

type heapEntry struct {
	hi, lo uint64 // the stream's head's key, packed (relKey4.packed)
	s      *relStream
}

func (e *heapEntry) less(o *heapEntry) bool {
	return e.hi < o.hi || e.hi == o.hi && e.lo < o.lo
}

// down moves the entry at i down to its place.
func (h relHeap) down(i int) {
	e := h[i]
	for {
		j := 2*i + 1
		if j >= len(h) {
			break
		}
		if r := j + 1; r < len(h) && h[r].less(&h[j]) {
			j = r
		}
		if !h[j].less(&e) {
			break
		}
		h[i] = h[j]
		i = j
	}
	h[i] = e
}

// dropTop removes the top stream.
func (h *relHeap) dropTop() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	old[n] = heapEntry{}
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
}

func (src *relSource) cursor() *relCursor { return src.cursorIn(0, allDevices4) }

// allDevices4 bounds the IPv4 devices as integers: [0, allDevices4) is all
// of them.
const allDevices4 = 1 << 32

// cursorIn reads the relations of the devices in [lo, hi) (IPv4 addresses
// as integers): each run's records of them, found by binary search.
func (src *relSource) cursorIn(lo, hi uint64) *relCursor {
	c := &relCursor{}
	add := func(s *relStream) {
		ok, err := s.next()
		if err != nil {
			c.err = err
		}
		if ok {
			c.h = append(c.h, heapEntry{s.hi, s.lo, s})
		}
	}
	if src == nil {
		return c
	}
	// bounds returns the first and the end index of the range's records
	// in a run of n, dev(i) being the device of record i.
	bounds := func(n int, dev func(i int) uint32) (int, int) {
		first, end := 0, n
		if lo > 0 {
			first = sort.Search(n, func(i int) bool { return uint64(dev(i)) >= lo })
		}
		if hi < allDevices4 {
			end = first + sort.Search(n-first, func(i int) bool { return uint64(dev(first+i)) >= hi })
		}
		return first, end
	}
	i, j := bounds(len(src.mem), func(i int) uint32 { return src.mem[i].key.dev })
	add(&relStream{mem: src.mem[i:j]})
	if src.spill != nil {
		var b [4]byte // a slot's first field: its key's device
		for _, r := range src.spill.runs {
			i, j := bounds(r.n, func(i int) uint32 {
				if _, err := src.spill.f.ReadAt(b[:], r.off+int64(i)*relRecSize); err != nil && c.err == nil {
					c.err = fmt.Errorf("relation spill file: %w", err)
				}
				return binary.NativeEndian.Uint32(b[:])
			})
			if c.err != nil {
				return c
			}
			off := r.off + int64(i)*relRecSize
			add(&relStream{r: io.NewSectionReader(src.spill.f, off, int64(j-i)*relRecSize), left: j - i})
		}
	}
	for i := len(c.h)/2 - 1; i >= 0; i-- {
		c.h.down(i)
	}
	c.advance()
	return c
}

// advance makes cur the next relation, summing its records across runs
// (they come off the heap one after the other).
func (c *relCursor) advance() {
	c.ok = false
	if c.err != nil || len(c.h) == 0 {
		return
	}
	hi, lo := c.h[0].hi, c.h[0].lo
	c.cur, c.ok = c.h[0].s.head, true
	c.pop()
	for c.err == nil && len(c.h) > 0 && c.h[0].hi == hi && c.h[0].lo == lo {
		r := &c.h[0].s.head
		c.cur.flows += r.flows
		c.cur.packets += r.packets
		c.cur.bytes += r.bytes
		c.cur.first = min(c.cur.first, r.first)
		c.cur.last = max(c.cur.last, r.last)
		c.cur.flags |= r.flags
		c.pop()
	}
}

// pop moves the top stream on to its next record.
func (c *relCursor) pop() {
	top := &c.h[0]
	more, err := top.s.next()
	switch {
	case err != nil:
		c.err = err
		c.h.dropTop()
	case more:
		top.hi, top.lo = top.s.hi, top.s.lo
		c.h.down(0)
	default:
		c.h.dropTop()
	}
}

// relation returns the cursor's relation as a Relation.
func (c *relCursor) relation() Relation {
	s := &c.cur
	return Relation{
		RelationKey: RelationKey{Device: addr4(s.key.dev), Peer: addr4(s.key.peer), Proto: s.key.proto, Port: s.key.port, Outbound: s.key.out},
		Known:       s.flags&slotKnown != 0, Attr: s.attr,
		Flows: s.flows, Packets: s.packets, Bytes: s.bytes, First: s.first, Last: s.last,
	}
}
