package pcap

import (
	"bytes"
	"math"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

	"iotwatch/internal/flow"
)

// key identifies a flow whichever way its packet goes: the endpoint that
// sorts first (address, then port) is a.
type key struct {
	a, b   netip.Addr
	ap, bp uint16
	proto  uint8
}

func flowKey(src, dst netip.Addr, sp, dp uint16, proto uint8) key {
	if c := src.Compare(dst); c > 0 || (c == 0 && sp > dp) {
		return key{dst, src, dp, sp, proto}
	}
	return key{src, dst, sp, dp, proto}
}

// key4 is an IPv4 flow's key in 16 pointer-free bytes (a key of two
// netip.Addr is 56 bytes, hashed field by field, and holds pointers the
// collector scans): the endpoints' addresses in ab, their ports and the
// protocol in pp, the endpoint that sorts first high.
type key4 struct{ ab, pp uint64 }

func flowKey4(src, dst uint32, sp, dp uint16, proto uint8) key4 {
	if src > dst || (src == dst && sp > dp) {
		src, dst, sp, dp = dst, src, dp, sp
	}
	return key4{uint64(src)<<32 | uint64(dst), uint64(sp)<<24 | uint64(dp)<<8 | uint64(proto)}
}

// end returns the key's first endpoint (b false) or its second.
func (k key4) end(b bool) (uint32, uint16) {
	if b {
		return uint32(k.ab), uint16(k.pp >> 8)
	}
	return uint32(k.ab >> 32), uint16(k.pp >> 24)
}

// Applications a flow's payload named (state.app).
const (
	appNone uint8 = iota
	appSSH
	appDHT
)

var appNames = [...]string{appNone: "", appSSH: flow.AppSSH, appDHT: flow.AppDHT}

// state bits
const (
	srcB  uint8 = 1 << iota // the record's source is the key's second endpoint
	mirai                   // a Mirai-like SYN (flow.Record.MiraiSeq)
	v6                      // the flow is keyed in assembler.flows, its addresses in wide
)

// state is an open flow, in the assembler's slab: 80 bytes without a
// pointer (a flow.Record is 168, with pointers the collector scans), from
// which emit writes the record. An IPv4 flow's addresses and ports are its
// key's; another flow's are in a.wide, as are the exact times of a flow
// with a packet whose time Unix nanoseconds do not hold (wide, 0: none).
// prev and next chain the open flows from the least recently seen
// (index+1, 0: none).
type state struct {
	key              key4  // an IPv4 flow's
	start, lastSeen  int64 // the first and last packet's time, Unix ns
	pk, by, rpk, rby uint64
	prev, next       int32
	wide             int32 // index+1 into a.wide
	flags, fins, app uint8
	bits             uint8
}

// wideState is what an open flow's state does not hold: the addresses and
// ports of a flow that is not IPv4 (addrs), the exact times of one with a
// packet outside the Unix nanoseconds' range (times).
type wideState struct {
	src, dst   netip.Addr
	sp, dp     uint16
	proto      uint8
	addrs      bool
	times      bool
	start, end time.Time
}

// exactNanos reports whether time.Unix(0, t.UnixNano()).UTC() is t (times
// from 1678 to 2262, in UTC, as the capture readers give them).
func exactNanos(t time.Time) bool {
	s := t.Unix()
	return s >= -9223372035 && s <= 9223372035 && t.Location() == time.UTC
}

// assembler holds the open flows, as nfpcapd does: a table by key into a
// slab of states that never moves its free slots to the collector, and a
// list of them by last packet, so that idle flows are found from its head
// without a pass over every open flow.
type assembler struct {
	sink       flow.Sink
	rs         flow.RecordSink // sink, when it is one
	opt        Options
	flows      map[key]int32 // index into slab (index+1): IPv6 flows
	flows4     flowTable
	slab       []state
	free       []int32
	wide       []wideState
	freeWide   []int32
	head, tail int32 // least and most recently seen (index+1, 0: none)
	// disorder is set when a packet came earlier than the list's tail (a
	// capture whose clock went back): idle flows may then sit behind one
	// that is not, and sweep looks at every flow until the list is in
	// order again.
	disorder  bool
	idle      []idleFlow // sweep's
	st        Stats
	lastSweep int64 // Unix ns
	dns       layers.DNS
	hint      hint // the reader's of the packet (see records.note)
}

// checkHints makes add check each hint against the key's hash (tests).
var checkHints = false

func (a *assembler) at(i int32) *state { return &a.slab[i-1] }

// unlink takes flow i out of the list.
func (a *assembler) unlink(i int32) {
	s := a.at(i)
	if s.prev != 0 {
		a.at(s.prev).next = s.next
	} else {
		a.head = s.next
	}
	if s.next != 0 {
		a.at(s.next).prev = s.prev
	} else {
		a.tail = s.prev
	}
	s.prev, s.next = 0, 0
}

// touch moves flow i to the list's tail (most recently seen).
func (a *assembler) touch(i int32) {
	if a.tail == i {
		return
	}
	s := a.at(i)
	if s.prev != 0 || s.next != 0 || a.head == i {
		a.unlink(i)
	}
	s.prev = a.tail
	if a.tail != 0 {
		a.at(a.tail).next = i
	} else {
		a.head = i
	}
	a.tail = i
}

// newWide returns a free wideState's index+1.
func (a *assembler) newWide() int32 {
	if n := len(a.freeWide); n > 0 {
		w := a.freeWide[n-1]
		a.freeWide = a.freeWide[:n-1]
		a.wide[w-1] = wideState{}
		return w
	}
	a.wide = append(a.wide, wideState{})
	return int32(len(a.wide))
}

// add accounts a packet to its flow and returns the flow while it is open
// (nil once emitted). src and dst are IPv4 addresses as numbers (s4, d4)
// when is4.
func (a *assembler) add(src, dst netip.Addr, s4, d4 uint32, is4 bool, sp, dp uint16, proto uint8, pt packetTime, n uint64, flags uint8, payload []byte) *state {
	tn := pt.ns
	// An IPv4 flow is looked up once: a new flow goes in the slot the
	// lookup ended at.
	var (
		k4    key4
		h, at uint64
		i     int32
	)
	if is4 {
		k4 = flowKey4(s4, d4, sp, dp, proto)
		// The reader hashed the key of a packet it peeked at (hash4): its
		// addresses, protocol and the ports packet read, the same bytes.
		if h = a.hint.h; !a.hint.ok {
			h = k4.hash()
		} else if checkHints && h != k4.hash() {
			panic("pcap: a packet's hint is not its key's hash")
		}
		at, i = a.flows4.find(k4, h, a.slab)
	} else {
		i = a.flows[flowKey(src, dst, sp, dp, proto)]
	}
	found := i != 0
	var s *state
	if i != 0 {
		s = a.at(i)
		if tn-s.lastSeen > int64(a.opt.IdleTimeout) || tn-s.start > int64(a.opt.ActiveTimeout) {
			a.emit(i)
			i, s = 0, nil
		}
	}
	exact := pt.exact
	if s == nil {
		// A first packet that is a SYN-ACK or comes from a service port
		// towards an ephemeral one belongs to a flow the other side opened.
		rev := (proto == flow.ProtoTCP && flags&0x12 == 0x12) || (sp < 1024 && dp >= 1024 && proto != flow.ProtoTCP)
		if n := len(a.free); n > 0 {
			i, a.free = a.free[n-1], a.free[:n-1]
		} else {
			a.slab = append(a.slab, state{})
			i = int32(len(a.slab))
		}
		s = a.at(i)
		*s = state{start: tn}
		if is4 {
			s.key = k4
			rs, rsp := s4, sp
			if rev {
				rs, rsp = d4, dp
			}
			if as, ap := k4.end(false); rs != as || rsp != ap {
				s.bits = srcB
			}
			if found { // emitted above: the table changed
				at, _ = a.flows4.find(k4, h, a.slab)
			}
			a.flows4.insert(at, h, i)
		} else {
			s.wide, s.bits = a.newWide(), v6
			w := &a.wide[s.wide-1]
			*w = wideState{src: src, dst: dst, sp: sp, dp: dp, proto: proto, addrs: true}
			if rev {
				w.src, w.dst, w.sp, w.dp = dst, src, dp, sp
			}
			a.flows[flowKey(src, dst, sp, dp, proto)] = i
		}
		if !exact {
			if s.wide == 0 {
				s.wide = a.newWide()
			}
			w := &a.wide[s.wide-1]
			w.times, w.start = true, pt.ts
		}
	}
	if a.tail != 0 && a.tail != i && tn < a.at(a.tail).lastSeen {
		a.disorder = true
	}
	a.touch(i)
	s.lastSeen = tn
	if s.wide != 0 || !exact {
		a.wideEnd(s, pt)
	}
	s.flags |= flags
	var fwd bool
	if s.bits&v6 != 0 {
		w := &a.wide[s.wide-1]
		fwd = src == w.src && sp == w.sp
	} else {
		rs, rsp := s.key.end(s.bits&srcB != 0)
		fwd = s4 == rs && sp == rsp
	}
	if fwd {
		s.pk++
		s.by += n
	} else {
		s.rpk++
		s.rby += n
	}
	if s.app == appNone && bytes.HasPrefix(payload, []byte("SSH-")) {
		s.app = appSSH
	}
	if s.app == appNone && proto == flow.ProtoUDP && isKRPC(payload) {
		s.app = appDHT
	}
	if flags&0x01 != 0 {
		s.fins++
	}
	if flags&0x04 != 0 || s.fins >= 2 {
		a.emit(i)
		return nil
	}
	return s
}

// wideEnd records a packet's time ts in the flow's wideState when the
// flow's times are kept there, or are to be from this packet on (its time
// is not exact in Unix nanoseconds).
func (a *assembler) wideEnd(s *state, pt packetTime) {
	if s.wide == 0 {
		s.wide = a.newWide()
	}
	w := &a.wide[s.wide-1]
	if !w.times {
		if pt.exact {
			return
		}
		w.times, w.start = true, time.Unix(0, s.start).UTC()
	}
	w.end = pt.time()
}

// fill writes flow s's record into r, a zero Record.
func (a *assembler) fill(r *flow.Record, s *state) {
	r.Start, r.End = time.Unix(0, s.start).UTC(), time.Unix(0, s.lastSeen).UTC()
	r.TCPFlags, r.Packets, r.Bytes, r.RevPackets, r.RevBytes = s.flags, s.pk, s.by, s.rpk, s.rby
	r.App, r.SamplingRate, r.MiraiSeq = appNames[s.app], 1, s.bits&mirai != 0
	if s.bits&v6 == 0 {
		src, sp := s.key.end(s.bits&srcB != 0)
		dst, dp := s.key.end(s.bits&srcB == 0)
		r.Src, r.Dst = netip.AddrFrom4([4]byte{byte(src >> 24), byte(src >> 16), byte(src >> 8), byte(src)}), netip.AddrFrom4([4]byte{byte(dst >> 24), byte(dst >> 16), byte(dst >> 8), byte(dst)})
		r.SrcPort, r.DstPort, r.Proto = sp, dp, uint8(s.key.pp)
	}
	if s.wide != 0 {
		w := &a.wide[s.wide-1]
		if w.addrs {
			r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto = w.src, w.dst, w.sp, w.dp, w.proto
		}
		if w.times {
			r.Start, r.End = w.start, w.end
		}
	}
}

// out hands flow i, out of the list and of the tables, to the sink (in
// place when it takes records so), and frees its slot.
func (a *assembler) out(i int32) {
	s := a.at(i)
	a.st.Flows++
	if a.rs != nil {
		a.fill(a.rs.Record(), s)
	} else {
		var r flow.Record
		a.fill(&r, s)
		a.sink.Flow(r)
	}
	if s.wide != 0 {
		a.freeWide = append(a.freeWide, s.wide)
	}
	a.free = append(a.free, i) // add overwrites the whole state
}

// emit hands flow i to the sink and frees its slot.
func (a *assembler) emit(i int32) {
	var h uint64
	if s := a.at(i); s.bits&v6 == 0 {
		h = s.key.hash()
	}
	a.emitHashed(i, h)
}

// emitHashed is emit given the hash of flow i's key (IPv4).
func (a *assembler) emitHashed(i int32, h uint64) {
	s := a.at(i)
	if s.bits&v6 != 0 {
		w := &a.wide[s.wide-1]
		delete(a.flows, flowKey(w.src, w.dst, w.sp, w.dp, w.proto))
	} else {
		a.flows4.del(h, i)
	}
	a.unlink(i)
	a.out(i)
}

// idleFlow is a flow sweep is to emit, and its key's hash (IPv4).
type idleFlow struct {
	i int32
	h uint64
}

// prefetchAhead is how many flows ahead sweep asks for a table slot.
const prefetchAhead = 8

// sweep emits the flows idle at now, least recently seen first.
func (a *assembler) sweep(now int64) {
	idle := int64(a.opt.IdleTimeout)
	if !a.disorder {
		// The idle flows are the list's first ones: their table slots
		// are asked for a few flows ahead of their deletion, so that the
		// cache misses overlap.
		a.idle = a.idle[:0]
		for i := a.head; i != 0 && now-a.at(i).lastSeen > idle; i = a.at(i).next {
			var h uint64
			if s := a.at(i); s.bits&v6 == 0 {
				h = s.key.hash()
			}
			a.idle = append(a.idle, idleFlow{i, h})
		}
		for k, f := range a.idle {
			if k+prefetchAhead < len(a.idle) {
				a.flows4.prefetch(a.idle[k+prefetchAhead].h)
			}
			a.emitHashed(f.i, f.h)
		}
		return
	}
	ordered := true
	prev := int64(math.MinInt64)
	for i := a.head; i != 0; {
		s := a.at(i)
		next := s.next
		if now-s.lastSeen > idle {
			a.emit(i)
		} else {
			ordered = ordered && s.lastSeen >= prev
			prev = s.lastSeen
		}
		i = next
	}
	a.disorder = !ordered
}

// flushAll emits every open flow, least recently seen first; the tables
// are not used again.
func (a *assembler) flushAll() {
	for a.head != 0 {
		i := a.head
		a.unlink(i)
		a.out(i)
	}
}
