package flow

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"sort"
	"unsafe"
)

// Relations that age out of memory. An ingest of a large capture sees
// millions of device↔peer relations, most of them once (a scan, a lookup), and
// every one is stored at the end. Held in the relation table until then they
// made the ingest's memory grow with the capture, not with its active flows.
// The aggregator therefore keeps at most activeRelations IPv4 relations in its
// table: when it is full, the least recently seen half is written, sorted, as
// one run of fixed-size records to a spill file (unlinked at once, so that
// nothing is left behind by a crash), and Save merges the runs with what is
// still in memory, in the order flow_devices is written, summing a relation
// that came back after it was spilled. The stored rows are the same as
// without spilling.
//
// A spilled relation's key stays in a compact index (16 bytes) with its ID
// (Orientation.Rel), so that a relation seen again keeps its ID, and with it
// its detector state,
// and the relation bound (MaxRelations) counts distinct relations as before.

// DefaultActiveRelations is how many IPv4 relations the aggregator keeps in
// memory before it spills the least recently seen half (a 4 MiB table; the
// table doubles while spilled relations keep coming back, see evict).
// Measured against 196,608 (bench/flows): the same CPU time on a million
// single-packet flows and on 5M NetFlow records, 35–45 MB less resident.
const DefaultActiveRelations = 3 << 14

// relRecSize is the size of a spilled record: a relSlot (see slotBytes),
// whose first field is its key's device (cursorIn's search reads it).
const relRecSize = 64

var _ = [1]struct{}{}[unsafe.Sizeof(relSlot{})-relRecSize+unsafe.Offsetof(relSlot{}.key)+unsafe.Offsetof(relKey4{}.dev)]

func (k relKey4) compare(o relKey4) int {
	if c := cmp.Compare(k.dev, o.dev); c != 0 {
		return c
	}
	if c := cmp.Compare(k.peer, o.peer); c != 0 {
		return c
	}
	if c := cmp.Compare(k.port, o.port); c != 0 {
		return c
	}
	if c := cmp.Compare(k.proto, o.proto); c != 0 {
		return c
	}
	return cmp.Compare(b2i(k.out), b2i(o.out))
}

// slotBytes returns the memory of relation slots. The spill file holds the
// slots as they are in memory: it is the process's own (unlinked at once),
// never read by another build or machine, so that writing a run and reading
// it back are copies, not an encoding and a decoding of every field.
func slotBytes(s []relSlot) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*relRecSize)
}

// relSpill is the spill file: sorted runs of relation records.
type relSpill struct {
	f    *os.File
	name string // still to remove when unlinking at creation failed
	runs []relRun
	off  int64
	buf  []relSlot // writeOrdered's
}

type relRun struct {
	off int64
	n   int
}

func newRelSpill(dir string) (*relSpill, error) {
	f, err := os.CreateTemp(dir, "iotwatch-relations-*")
	if err != nil {
		return nil, fmt.Errorf("relation spill file: %w", err)
	}
	sp := &relSpill{f: f}
	if os.Remove(f.Name()) != nil {
		sp.name = f.Name() // removed on close (systems that keep open files)
	}
	return sp, nil
}

// write appends one run; slots must be sorted by key.
func (sp *relSpill) write(slots []relSlot) error { return sp.writeOrdered(slots, nil) }

// spillChunk is how many records writeOrdered writes at a time (1 MiB).
const spillChunk = 1 << 14

// writeOrdered appends one run: the slots in the order ord gives (its lo's
// low 32 bits index slots; nil: as they are), which must be by key. It
// gathers them into a buffer and writes that in a few large writes.
func (sp *relSpill) writeOrdered(slots []relSlot, ord []relOrd) error {
	for i := 0; i < len(slots); i += spillChunk {
		n := min(spillChunk, len(slots)-i)
		buf := slots[i : i+n]
		if ord != nil {
			buf = slices.Grow(sp.buf[:0], n)[:n]
			for k, o := range ord[i : i+n] {
				buf[k] = slots[o.lo&0xffffffff]
			}
			sp.buf = buf
		}
		if _, err := sp.f.Write(slotBytes(buf)); err != nil {
			return fmt.Errorf("relation spill file: %w", err)
		}
	}
	sp.runs = append(sp.runs, relRun{sp.off, len(slots)})
	sp.off += int64(len(slots)) * relRecSize
	return nil
}

func (sp *relSpill) close() error {
	if sp == nil || sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	if sp.name != "" {
		err = errors.Join(err, os.Remove(sp.name))
	}
	sp.f = nil
	return err
}

// relIndex maps the keys of spilled relations to their IDs: an
// open-addressing table of 16-byte slots, behind a blocked Bloom filter of
// 8 bits per slot (three bits per key, all in one 64-bit word): most lookups
// are of relations never spilled, and the filter (a sixteenth of the table)
// answers them with one memory access where the table would cost a miss.
//
// Both are indexed by the high bits of the key's hash, and an eviction's
// keys come in the order of their hashes (the relation table's): the table
// and the filter are then written from start to end, not at random places
// (each of which cost a cache and TLB miss), and growing moves every slot
// forward.
type relIndex struct {
	slots  []relIdxSlot
	shift  uint // 64 - log2 of the slots
	n      int
	bloom  []uint64
	bshift uint // 64 - log2 of the filter's words

	hs []uint64 // putAll's scratch space
}

// bloomBits returns the filter word and bits of a key's hash h.
func (x *relIndex) bloomBits(h uint64) (uint64, uint64) {
	g := h * 0x9e3779b97f4a7c15
	return h >> x.bshift, 1<<(g>>58) | 1<<(g>>52&63) | 1<<(g>>46&63)
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

// get returns the ID of a spilled relation and whether k, of hash h
// (relKey4.hash), was spilled.
func (x *relIndex) get(k relKey4, h uint64) (uint32, bool) {
	if x.n == 0 || !x.mayHave(h) {
		return 0, false
	}
	want := idxSlot(k)
	mask := uint64(len(x.slots) - 1)
	for i := h >> x.shift; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.flags == 0 {
			return 0, false
		}
		if s.same(&want) {
			return s.id, true
		}
	}
}

// putAll records the IDs of spilled relations. They come in the relation
// table's order, which is that of their hashes' high bits (relTable), so
// that the index's slots and filter are written from start to end; putAll
// reads the slot of the key putAhead places on before each put, so that the
// misses of several keys overlap (a put's branch on its slot, mispredicted
// at random, kept them apart).
func (x *relIndex) putAll(s []relSlot) {
	for (x.n+len(s))*4 > len(x.slots)*3 {
		x.grow()
	}
	hs := slices.Grow(x.hs[:0], len(s))[:len(s)]
	x.hs = hs
	for i := range s {
		hs[i] = s[i].key.hash()
	}
	for i := range s {
		if q := i + putAhead; q < len(s) {
			prefetch(unsafe.Pointer(&x.slots[hs[q]>>x.shift]))
		}
		x.put(s[i].key, hs[i], s[i].id)
	}
}

// putAhead is how many keys ahead putAll reads the slot of.
const putAhead = 8

// put records a spilled relation's ID; the table must have room.
func (x *relIndex) put(k relKey4, h uint64, id uint32) {
	want := idxSlot(k)
	want.id = id
	w, b := x.bloomBits(h)
	x.bloom[w] |= b
	mask := uint64(len(x.slots) - 1)
	for i := h >> x.shift; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.flags == 0 {
			*s = want
			x.n++
			return
		}
		if s.same(&want) {
			s.id = id
			return
		}
	}
}

func (x *relIndex) grow() {
	g := x.grown()
	x.slots, x.shift, x.bloom, x.bshift = g.slots, g.shift, g.bloom, g.bshift
}

// grown returns the index (its slots and filter) in a table of twice the
// size, without changing x.
func (x *relIndex) grown() relIndex {
	g := relIndex{n: x.n}
	g.slots = written[relIdxSlot](max(2*len(x.slots), 1<<12))
	g.shift = uint(64 - bits.Len(uint(len(g.slots))) + 1)
	words := len(g.slots) / 8 // 8 bits per slot
	g.bshift = uint(64 - bits.Len(uint(words)) + 1)
	g.bloom = written[uint64](words)
	mask := uint64(len(g.slots) - 1)
	for i := range x.slots {
		s := &x.slots[i]
		if s.flags == 0 {
			continue
		}
		h := s.key().hash()
		w, b := g.bloomBits(h)
		g.bloom[w] |= b
		j := h >> g.shift
		for g.slots[j].flags != 0 {
			j = (j + 1) & mask
		}
		g.slots[j] = *s
	}
	return g
}

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

// relOrd is a relation's key packed into two integers that sort as
// relKey4.compare does (hi: device, peer; lo: port, protocol, direction),
// with the slot's index in lo's low 32 bits.
type relOrd struct{ hi, lo uint64 }

func (k relKey4) packed() (hi, lo uint64) {
	lo = uint64(k.port)<<9 | uint64(k.proto)<<1
	if k.out {
		lo |= 1
	}
	return uint64(k.dev)<<32 | uint64(k.peer), lo << 32
}

// sortSlots sorts relation slots by key. It radix-sorts 16-byte packed keys
// and then moves each 64-byte slot once (sorting the slots themselves moved
// them at every swap and compared five fields); ord is scratch space (twice
// the slots), returned for reuse.
func sortSlots(s []relSlot, ord []relOrd) []relOrd {
	ord = orderSlots(s, ord)
	permute(s, ord, 0xffffffff)
	return ord[:0]
}

// orderSlots returns the order of relation slots by key, as packed keys
// whose lo's low 32 bits index s, radix-sorted; ord is scratch space (twice
// the slots), returned for reuse.
func orderSlots(s []relSlot, ord []relOrd) []relOrd {
	n := len(s)
	if cap(ord) < 2*n {
		ord = make([]relOrd, 0, 2*n)
	}
	ord = ord[:n]
	for i := range s {
		hi, lo := s[i].key.packed()
		ord[i] = relOrd{hi, lo | uint64(i)}
	}
	radixSortOrd(ord, ord[n:2*n], 32)
	return ord
}

// permute moves s[ord[i].lo&idx] to position i for every i, each element
// once: it follows each cycle of the permutation, marking a done position
// with its own index (ord's index bits are overwritten).
func permute[T any](s []T, ord []relOrd, idx uint64) {
	for i := range ord {
		j := int(ord[i].lo & idx)
		if j == i {
			continue
		}
		tmp := s[i]
		k := i
		for j != i {
			s[k] = s[j]
			ord[k].lo = ord[k].lo&^idx | uint64(k)
			k, j = j, int(ord[j].lo&idx)
		}
		s[k] = tmp
		ord[k].lo = ord[k].lo&^idx | uint64(k)
	}
}
