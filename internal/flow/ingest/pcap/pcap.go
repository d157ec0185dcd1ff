// Package pcap assembles bidirectional flows from pcap and pcapng captures
// (gopacket/pcapgo, no cgo) and keeps DNS answers so that names can be mapped
// to the addresses devices talk to.
package pcap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
)

// Options tune flow assembly; zero values take defaults.
type Options struct {
	// IdleTimeout ends a flow after this long without packets (default 60 s).
	IdleTimeout time.Duration
	// ActiveTimeout splits long flows (default 30 min), as exporters do.
	ActiveTimeout time.Duration
}

// Stats counts what a capture held.
type Stats struct {
	Packets   int64 `json:"packets"`
	NonIP     int64 `json:"non_ip"`
	Malformed int64 `json:"malformed"`
	Flows     int64 `json:"flows"`
	DNS       int64 `json:"dns_answers"`
	// Truncated reports whether the capture ended mid-record.
	Truncated bool `json:"truncated"`
}

// readBuffer is the size of the reads from the capture; a pcap record is
// read in place when it fits.
const readBuffer = 1 << 20

// ErrFormat reports input that is neither pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng capture")

// packetSource reads packets without copying them: the bytes are valid
// until the next call (pcapgo.Reader and NgReader).
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

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

// ip4 returns an IPv4 address as a number.
func ip4(a netip.Addr) (uint32, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), true
}

// unindex forgets flow i's slab index.
func (a *assembler) unindex(i int32) {
	r := &a.at(i).rec
	if r.Src.Is4() && r.Dst.Is4() {
		a.flows4.del(a.at(i).key.hash(), i)
	} else {
		delete(a.flows, flowKey(r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto))
	}
}

// state is an open flow, in the assembler's slab; prev and next chain the
// open flows from the least recently seen (index+1, 0: none).
type state struct {
	rec        flow.Record
	key        key4  // an IPv4 flow's
	start      int64 // rec.Start and the last packet's time, Unix ns
	lastSeen   int64
	fins       uint8
	prev, next int32
}

// Read assembles flows from a capture into sink. A truncated capture yields
// the flows read so far and Stats.Truncated; undecodable packets are counted
// and skipped.
func Read(ctx context.Context, r io.Reader, sink flow.Sink, opt Options) (Stats, error) {
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = time.Minute
	}
	if opt.ActiveTimeout <= 0 {
		opt.ActiveTimeout = 30 * time.Minute
	}
	br := bufio.NewReaderSize(r, readBuffer)
	magic, err := br.Peek(4)
	if err != nil {
		return Stats{}, fmt.Errorf("read capture header: %w", ErrFormat)
	}
	var src packetSource
	var link layers.LinkType
	if binary.BigEndian.Uint32(magic) == 0x0A0D0D0A {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return Stats{}, fmt.Errorf("read pcapng: %w", err)
		}
		src, link = ng, ng.LinkType()
	} else if rr, pr, ok, err := newRecords(br); ok {
		if err != nil {
			return Stats{}, fmt.Errorf("read pcap: %w: %w", ErrFormat, err)
		}
		src, link = rr, pr.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("read pcap: %w: %w", ErrFormat, err)
		}
		src, link = pr, pr.LinkType()
	}
	a := &assembler{sink: sink, opt: opt, flows: map[key]int32{}, lastSweep: math.MinInt64}
	for {
		if a.st.Packets%4096 == 0 && ctx.Err() != nil {
			a.flushAll()
			return a.st, ctx.Err()
		}
		data, ci, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				a.st.Truncated = true
				break
			}
			// pcapgo reports bad record headers as plain errors: treat the
			// rest of the file as unreadable.
			a.st.Truncated = true
			break
		}
		a.st.Packets++
		a.packet(link, data, ci.Timestamp)
	}
	a.flushAll()
	return a.st, nil
}

// assembler holds the open flows, as nfpcapd does: a table by key into a
// slab of states that never moves its free slots to the collector, and a
// list of them by last packet, so that idle flows are found from its head
// without a pass over every open flow.
type assembler struct {
	sink       flow.Sink
	opt        Options
	flows      map[key]int32 // index into slab (index+1): IPv6 flows
	flows4     flowTable
	slab       []state
	free       []int32
	head, tail int32 // least and most recently seen (index+1, 0: none)
	// disorder is set when a packet came earlier than the list's tail (a
	// capture whose clock went back): idle flows may then sit behind one
	// that is not, and sweep looks at every flow until the list is in
	// order again.
	disorder  bool
	st        Stats
	lastSweep int64 // Unix ns
	dns       layers.DNS
}

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

func (a *assembler) packet(link layers.LinkType, data []byte, ts time.Time) {
	ip, ok := linkPayload(link, data)
	if !ok {
		a.st.NonIP++
		return
	}
	var (
		src, dst netip.Addr
		proto    uint8
		l4       []byte
		ipLen    int
	)
	switch {
	case len(ip) >= 20 && ip[0]>>4 == 4:
		ihl := int(ip[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || len(ip) < ihl {
			a.st.Malformed++
			return
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		proto = ip[9]
		ipLen = tot
		if tot >= ihl && tot <= len(ip) {
			l4 = ip[ihl:tot]
		} else {
			l4 = ip[ihl:]
		}
		if off := binary.BigEndian.Uint16(ip[6:8]) & 0x1fff; off != 0 {
			l4 = nil // later fragment: no ports
		}
	case len(ip) >= 40 && ip[0]>>4 == 6:
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		proto = ip[6]
		ipLen = 40 + int(binary.BigEndian.Uint16(ip[4:6]))
		l4 = ip[40:]
	default:
		a.st.NonIP++
		return
	}
	var sp, dp uint16
	var flags uint8
	var payload []byte
	mirai := false
	switch proto {
	case flow.ProtoTCP:
		if len(l4) >= 20 {
			sp, dp = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
			flags = l4[13]
			// Mirai's scanner sets a SYN's sequence number to the target address.
			mirai = flags&0x12 == 0x02 && dst.Is4() && binary.BigEndian.Uint32(l4[4:8]) == binary.BigEndian.Uint32(ip[16:20])
			if off := int(l4[12]>>4) * 4; off >= 20 && off <= len(l4) {
				payload = l4[off:]
			}
		} else if l4 != nil {
			a.st.Malformed++
			return
		}
	case flow.ProtoUDP:
		if len(l4) >= 8 {
			sp, dp = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
			payload = l4[8:]
		} else if l4 != nil {
			a.st.Malformed++
			return
		}
	}
	if proto == flow.ProtoUDP && sp == 53 && len(payload) > 12 {
		a.dnsAnswers(payload, ts)
	}
	// Times are compared as Unix nanoseconds (a capture's times are within
	// a few centuries of 1970).
	tn := ts.UnixNano()
	if s := a.add(src, dst, sp, dp, proto, ts, tn, uint64(ipLen), flags, payload); s != nil && mirai {
		s.rec.MiraiSeq = true
	}
	if tn > a.lastSweep+int64(a.opt.IdleTimeout/4) {
		a.sweep(tn)
		a.lastSweep = tn
	}
}

// add accounts a packet to its flow and returns the flow while it is open
// (nil once emitted).
func (a *assembler) add(src, dst netip.Addr, sp, dp uint16, proto uint8, ts time.Time, tn int64, n uint64, flags uint8, payload []byte) *state {
	// An IPv4 flow is looked up once: a new flow goes in the slot the
	// lookup ended at.
	var (
		k4    key4
		h, at uint64
		i     int32
	)
	s4, ok1 := ip4(src)
	d4, ok2 := ip4(dst)
	if ok1 && ok2 {
		k4 = flowKey4(s4, d4, sp, dp, proto)
		h = k4.hash()
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
	if s == nil {
		// A first packet that is a SYN-ACK or comes from a service port
		// towards an ephemeral one belongs to a flow the other side opened.
		rs, rd, rsp, rdp := src, dst, sp, dp
		if (proto == flow.ProtoTCP && flags&0x12 == 0x12) || (sp < 1024 && dp >= 1024 && proto != flow.ProtoTCP) {
			rs, rd, rsp, rdp = dst, src, dp, sp
		}
		if n := len(a.free); n > 0 {
			i, a.free = a.free[n-1], a.free[:n-1]
		} else {
			a.slab = append(a.slab, state{})
			i = int32(len(a.slab))
		}
		s = a.at(i)
		*s = state{rec: flow.Record{Start: ts, Src: rs, Dst: rd, SrcPort: rsp, DstPort: rdp, Proto: proto, SamplingRate: 1}, start: tn}
		switch {
		case ok1 && ok2:
			s.key = k4
			if found { // emitted above: the table changed
				at, _ = a.flows4.find(k4, h, a.slab)
			}
			a.flows4.insert(at, h, i)
		default:
			a.flows[flowKey(src, dst, sp, dp, proto)] = i
		}
	}
	if a.tail != 0 && a.tail != i && tn < a.at(a.tail).lastSeen {
		a.disorder = true
	}
	a.touch(i)
	s.lastSeen = tn
	s.rec.End = ts
	s.rec.TCPFlags |= flags
	if src == s.rec.Src && sp == s.rec.SrcPort {
		s.rec.Packets++
		s.rec.Bytes += n
	} else {
		s.rec.RevPackets++
		s.rec.RevBytes += n
	}
	if s.rec.App == "" && bytes.HasPrefix(payload, []byte("SSH-")) {
		s.rec.App = flow.AppSSH
	}
	if s.rec.App == "" && proto == flow.ProtoUDP && isKRPC(payload) {
		s.rec.App = flow.AppDHT
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

// emit hands flow i to the sink and frees its slot.
func (a *assembler) emit(i int32) {
	s := a.at(i)
	a.unindex(i)
	a.unlink(i)
	a.st.Flows++
	a.sink.Flow(s.rec)
	a.free = append(a.free, i) // add overwrites the whole state
}

// sweep emits the flows idle at now, least recently seen first.
func (a *assembler) sweep(now int64) {
	idle := int64(a.opt.IdleTimeout)
	if !a.disorder {
		for a.head != 0 && now-a.at(a.head).lastSeen > idle {
			a.emit(a.head)
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

func (a *assembler) flushAll() {
	for a.head != 0 {
		a.emit(a.head)
	}
}

func (a *assembler) dnsAnswers(payload []byte, ts time.Time) {
	if err := a.dns.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil || !a.dns.QR {
		return
	}
	for _, rr := range a.dns.Answers {
		if rr.Type != layers.DNSTypeA && rr.Type != layers.DNSTypeAAAA {
			continue
		}
		ad, ok := netip.AddrFromSlice(rr.IP)
		if !ok {
			continue
		}
		a.st.DNS++
		a.sink.DNS(flow.DNSAnswer{Time: ts, Name: string(bytes.ToLower(bytes.TrimSuffix(rr.Name, []byte(".")))), Addr: ad.Unmap()})
	}
}

// linkPayload strips the link layer and returns the IP packet.
func linkPayload(link layers.LinkType, data []byte) ([]byte, bool) {
	switch link {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return nil, false
		}
		et, off := binary.BigEndian.Uint16(data[12:14]), 14
		for (et == 0x8100 || et == 0x88a8) && len(data) >= off+4 {
			et, off = binary.BigEndian.Uint16(data[off+2:off+4]), off+4
		}
		if et != 0x0800 && et != 0x86dd {
			return nil, false
		}
		return data[off:], true
	case layers.LinkTypeRaw, layers.LinkType(12), layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return data, true
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return nil, false
		}
		return data[16:], true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return nil, false
		}
		return data[4:], true
	}
	return nil, false
}

// isKRPC reports whether a UDP payload is a DHT (KRPC) message: a bencoded
// dictionary ("d1:a", "d1:r" or "d1:e" first) carrying its type key "1:y1:".
func isKRPC(p []byte) bool {
	if len(p) < 12 || p[0] != 'd' || !bytes.HasPrefix(p[1:], []byte("1:")) || (p[3] != 'a' && p[3] != 'r' && p[3] != 'e') {
		return false
	}
	return bytes.Contains(p, []byte("1:y1:"))
}
