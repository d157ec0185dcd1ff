package flow

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
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
// runs' records of one relation summed). It merges the runs with a loser
// tree (a tournament tree whose nodes hold the losers' keys): taking a
// record replays one leaf-to-root path, one comparison per level, where a
// binary heap compared twice per level. Nothing is taken until advance or
// appendDevice.
type relCursor struct {
	streams []relStream
	// tree[0] is the key of the stream whose head comes first, tree[1:]
	// the losers' of the tournament, the streams at leaves len(tree)+i.
	tree []mergeKey
	cur  relSlot
	ok   bool
	err  error
}

// mergeKey is a stream head's key, packed (relKey4.packed), with the
// stream's index in lo's low 32 bits (which packed leaves zero): keys are
// unique, and equal relations come off their streams in stream order. An
// exhausted stream's key is (MaxUint64, doneLo|index), after every real
// key (whose lo is below 2⁵⁷).
type mergeKey struct{ hi, lo uint64 }

const doneLo = math.MaxUint64 &^ math.MaxUint32

func (k mergeKey) less(o mergeKey) bool { return k.hi < o.hi || k.hi == o.hi && k.lo < o.lo }

func (k mergeKey) done() bool { return k.lo >= doneLo }

func (k mergeKey) stream() int { return int(uint32(k.lo)) }

// sameRel says whether two keys are of the same relation.
func (k mergeKey) sameRel(o mergeKey) bool { return k.hi == o.hi && k.lo>>32 == o.lo>>32 }

// relStream is one sorted run: its records not yet taken, from memory or
// the spill file.
type relStream struct {
	recs  []relSlot // the in-memory run, or the records of the file's block not yet taken
	r     io.Reader // the run's records in the file, or nil
	left  int       // records still in the file
	block []relSlot
}

// streamBlock is how many records a stream reads from the spill file at a
// time (16 KiB): one read per block, straight into the slots.
const streamBlock = 256

// fill makes sure recs is not empty unless the stream is at its end.
func (s *relStream) fill() error {
	if len(s.recs) > 0 || s.r == nil || s.left == 0 {
		return nil
	}
	n := min(s.left, streamBlock)
	if s.block == nil {
		s.block = make([]relSlot, streamBlock)
	}
	if _, err := io.ReadFull(s.r, slotBytes(s.block[:n])); err != nil {
		s.left = 0
		return fmt.Errorf("relation spill file: %w", err)
	}
	s.left -= n
	s.recs = s.block[:n]
	return nil
}

// key returns the key of stream i's head.
func (c *relCursor) key(i int) mergeKey {
	s := &c.streams[i]
	if len(s.recs) == 0 {
		return mergeKey{math.MaxUint64, doneLo | uint64(i)}
	}
	hi, lo := s.recs[0].key.packed()
	return mergeKey{hi, lo | uint64(i)}
}

// next moves the winner's stream on to its next record and replays its
// path to the root.
func (c *relCursor) next() {
	w := c.tree[0].stream()
	s := &c.streams[w]
	s.recs = s.recs[1:]
	if len(s.recs) == 0 {
		if err := s.fill(); err != nil && c.err == nil {
			c.err = err
		}
	}
	k := c.key(w)
	t := c.tree
	kh, kl := k.hi, k.lo
	for p := (w + len(t)) >> 1; p > 0; p >>= 1 {
		// Without branches (the outcome is a coin toss): the node keeps
		// the greater key, the smaller goes on up.
		n := &t[p]
		nh, nl := n.hi, n.lo
		_, lt := bits.Sub64(nl, kl, 0)
		_, lt = bits.Sub64(nh, kh, lt) // 1: the node's key is less than k
		m := -lt
		xh, xl := (nh^kh)&m, (nl^kl)&m
		n.hi, n.lo = nh^xh, nl^xl
		kh, kl = kh^xh, kl^xl
	}
	t[0] = mergeKey{kh, kl}
}

// build plays the tournament below node p, leaving the losers in the
// nodes, and returns the winner's key.
func (c *relCursor) build(p int) mergeKey {
	if p >= len(c.tree) {
		return c.key(p - len(c.tree))
	}
	l, r := c.build(2*p), c.build(2*p+1)
	if r.less(l) {
		l, r = r, l
	}
	c.tree[p] = r
	return l
}

func (src *relSource) cursor() *relCursor {
	c := src.cursorIn(0, allDevices4)
	c.advance()
	return c
}

// allDevices4 bounds the IPv4 devices as integers: [0, allDevices4) is all
// of them.
const allDevices4 = 1 << 32

// cursorIn reads the relations of the devices in [lo, hi) (IPv4 addresses
// as integers): each run's records of them, found by binary search.
func (src *relSource) cursorIn(lo, hi uint64) *relCursor {
	c := &relCursor{}
	if src != nil {
		c.streams = src.streamsIn(lo, hi, c)
	}
	if len(c.streams) == 0 {
		c.tree = []mergeKey{{math.MaxUint64, doneLo}}
		return c
	}
	for i := range c.streams {
		if err := c.streams[i].fill(); err != nil && c.err == nil {
			c.err = err
		}
	}
	c.tree = make([]mergeKey, len(c.streams))
	c.tree[0] = c.build(1)
	return c
}

// streamsIn returns the streams of the runs' records of the devices in
// [lo, hi); a read error goes to c.
func (src *relSource) streamsIn(lo, hi uint64, c *relCursor) []relStream {
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
	streams := []relStream{{recs: src.mem[i:j]}}
	if src.spill == nil {
		return streams
	}
	var b [4]byte // a slot's first field: its key's device
	for _, r := range src.spill.runs {
		i, j := bounds(r.n, func(i int) uint32 {
			if _, err := src.spill.f.ReadAt(b[:], r.off+int64(i)*relRecSize); err != nil && c.err == nil {
				c.err = fmt.Errorf("relation spill file: %w", err)
			}
			return binary.NativeEndian.Uint32(b[:])
		})
		if c.err != nil {
			return nil
		}
		if j > i {
			off := r.off + int64(i)*relRecSize
			streams = append(streams, relStream{r: io.NewSectionReader(src.spill.f, off, int64(j-i)*relRecSize), left: j - i})
		}
	}
	return streams
}

// advance makes cur the next relation, summing its records across runs
// (they come off the tree one after the other).
func (c *relCursor) advance() {
	c.ok = false
	top := c.tree[0]
	if c.err != nil || top.done() {
		return
	}
	c.cur, c.ok = c.streams[top.stream()].recs[0], true
	c.next()
	for c.err == nil && c.tree[0].sameRel(top) {
		sumSlot(&c.cur, &c.streams[c.tree[0].stream()].recs[0])
		c.next()
	}
}

// appendDevice appends to buf the relations, in key order, of the device of
// the next one, and returns buf and the device (ok false: no relation is
// left).
func (c *relCursor) appendDevice(buf []relSlot) (_ []relSlot, dev uint32, ok bool) {
	top := c.tree[0]
	if c.err != nil || top.done() {
		return buf, 0, false
	}
	devHi := top.hi >> 32
	last := mergeKey{lo: doneLo} // of no relation
	for c.err == nil && !c.tree[0].done() && c.tree[0].hi>>32 == devHi {
		k := c.tree[0]
		r := &c.streams[k.stream()].recs[0]
		if k.sameRel(last) {
			sumSlot(&buf[len(buf)-1], r)
		} else {
			buf = append(buf, *r)
			last = k
		}
		c.next()
	}
	return buf, uint32(devHi), true
}

// sumSlot adds r, a record of s's relation, to s.
func sumSlot(s, r *relSlot) {
	s.flows += r.flows
	s.packets += r.packets
	s.bytes += r.bytes
	s.first = min(s.first, r.first)
	s.last = max(s.last, r.last)
	s.flags |= r.flags
}

// relation returns the cursor's relation as a Relation.
func (c *relCursor) relation() Relation { return c.cur.relation() }

// relation returns a slot's relation as a Relation.
func (s *relSlot) relation() Relation {
	return Relation{
		RelationKey: RelationKey{Device: addr4(s.key.dev), Peer: addr4(s.key.peer), Proto: s.key.proto, Port: s.key.port, Outbound: s.key.out},
		Known:       s.flags&slotKnown != 0, Attr: s.attr,
		Flows: s.flows, Packets: s.packets, Bytes: s.bytes, First: s.first, Last: s.last,
	}
}
