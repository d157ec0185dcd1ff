package flow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"

	"iotwatch/internal/geo"
)

// The binary form of a flow_devices row's roll-ups and relations (column
// "packed", migration 00048). Until 00048 rows held them as JSON text arrays
// ("hours", "peers"), which is five to six times larger and took a third of
// an ingest's Save to encode; rows written before keep them and are read as
// before (scanDevices). A row in this form leaves "hours" and "peers" empty.
//
// Layout (varint and uvarint are encoding/binary's; strings are a uvarint
// length and the bytes):
//
//	format byte (packedV1)
//	uvarint n, n × (country string, asn uvarint, owner string): the
//	    attributions the row uses; entries name them by index
//	uvarint n, n × hour entry (in flow_devices order: hour, direction, attribution)
//	uvarint n, and when n > 0: varint base (Unix ns), byte k, then
//	    n × relation entry (in key order: peer, port, protocol, direction)
//
// An hour entry is a flag byte (hourOut, hourSameHour, hourSameAttr,
// hourPackets), then the hour as a varint difference from the entry
// before's (the first's from 0) unless hourSameHour, the attribution's
// uvarint index unless hourSameAttr (the first's default is 0), the
// flows, the packets if hourPackets (else equal to flows) and the bytes.
//
// A relation entry is a flag byte: its low two bits say how the peer
// follows (relPeerSame: the entry before's peer; relPeer4: a uvarint
// difference from the last IPv4 peer, modulo 2³²; relPeer6: the upper 64
// bits as a uvarint difference from the last IPv6 peer's, then the lower
// 64 as a uvarint difference if the upper were the same, else as 8 bytes
// big-endian; relPeerText: the address as a string, "" for none), then
// relOut, relProto (a protocol byte follows; else the entry before's,
// first 0), relPort (a uvarint port; else the entry before's, first 0),
// relPackets, relLast, relAttr (a uvarint attribution index; else the
// entry before's, first 0). After the peer, protocol and port come the
// flows, the packets if relPackets (else equal to flows), the bytes, the
// first time as uvarint (first-base)/10^k and, if relLast, the last time
// as varint (last-first)/10^k (else equal to first). Differences wrap
// around, so every int64/uint64 value survives the trip.
//
// A decoder of a newer format refuses the row with an error; the format
// byte lets a later version change all of this.
const packedV1 = 1

const (
	hourOut      = 1 << 0
	hourSameHour = 1 << 1
	hourSameAttr = 1 << 2
	hourPackets  = 1 << 3

	relPeerSame = 0
	relPeer4    = 1
	relPeer6    = 2
	relPeerText = 3
	relPeerMask = 3
	relOut      = 1 << 2
	relProto    = 1 << 3
	relPort     = 1 << 4
	relPackets  = 1 << 5
	relLast     = 1 << 6
	relAttr     = 1 << 7
)

// maxTimeUnit is the largest k of a row's time unit 10^k ns.
const maxTimeUnit = 12

var pow10 = func() (p [19]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// packAttr is an attribution as rows store it.
type packAttr struct {
	country, owner string
	asn            uint32
}

// rowPacker encodes rows of one Rollups. Not safe for concurrent use.
type rowPacker struct {
	attrs []packAttr // by Rollups.Attributions index; the last is the empty one
	local []uint32   // attrs index → 1 + the index in the current row, 0 when unused
	used  []uint32   // attrs indexes of the current row, in its order
	body  []byte     // entries of the current row
	out   []byte     // the current row
	all   []Relation // packWith's, for a device with relations of both kinds
}

// newRowPacker returns a packer of rows whose entries index attrs.
func newRowPacker(attrs []geo.Attribution) *rowPacker {
	p := &rowPacker{attrs: make([]packAttr, len(attrs)+1), local: make([]uint32, len(attrs)+1)}
	for i, a := range attrs {
		p.attrs[i] = packAttr{country: jsonSafe(a.Country), asn: a.ASN, owner: jsonSafe(a.Owner)}
	}
	return p
}

// fork returns a packer of the same attributions for another goroutine.
func (p *rowPacker) fork() *rowPacker {
	return &rowPacker{attrs: p.attrs, local: make([]uint32, len(p.local))}
}

// jsonSafe returns s as it reads back from the JSON rows written before
// 00048: encoding/json writes each byte of invalid UTF-8 as U+FFFD.
func jsonSafe(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// attr returns the row's index of attribution i (of Rollups.Attributions;
// one out of range is the empty attribution, as the JSON rows had it).
func (p *rowPacker) attr(i uint32) uint64 {
	if int(i) >= len(p.attrs)-1 {
		i = uint32(len(p.attrs) - 1)
	}
	if l := p.local[i]; l != 0 {
		return uint64(l - 1)
	}
	p.used = append(p.used, i)
	p.local[i] = uint32(len(p.used))
	return uint64(len(p.used) - 1)
}

// pack encodes one device's hourly roll-ups (in flow_devices order) and
// relations (in key order). The result is valid until the next call.
func (p *rowPacker) pack(hours []Hourly, rels []Relation) []byte { return p.packWith(hours, rels, nil) }

// packWith is pack for a device whose relations are rels and slots (each
// in key order; see groupPart). Slots are packed as they are, with the
// bytes their relations would pack to.
func (p *rowPacker) packWith(hours []Hourly, rels []Relation, slots []relSlot) []byte {
	p.used = p.used[:0]
	b := binary.AppendUvarint(p.body[:0], uint64(len(hours)))
	var prevHour int64
	var prevAttr uint64
	for i := range hours {
		h := &hours[i]
		a := p.attr(h.Attr)
		var flag byte
		if h.Outbound {
			flag |= hourOut
		}
		if h.Hour == prevHour {
			flag |= hourSameHour
		}
		if a == prevAttr {
			flag |= hourSameAttr
		}
		if h.Packets != h.Flows {
			flag |= hourPackets
		}
		b = append(b, flag)
		if flag&hourSameHour == 0 {
			b = binary.AppendVarint(b, h.Hour-prevHour)
		}
		if flag&hourSameAttr == 0 {
			b = binary.AppendUvarint(b, a)
		}
		b = binary.AppendUvarint(b, h.Flows)
		if flag&hourPackets != 0 {
			b = binary.AppendUvarint(b, h.Packets)
		}
		b = binary.AppendUvarint(b, h.Bytes)
		prevHour, prevAttr = h.Hour, a
	}
	if len(slots) > 0 && len(rels) > 0 {
		p.all = mergeSlots(p.all[:0], rels, slots)
		rels, slots = p.all, nil
	}
	b = binary.AppendUvarint(b, uint64(len(rels)+len(slots)))
	switch {
	case len(slots) > 0:
		b = p.packSlots(b, slots)
	case len(rels) > 0:
		b = p.packRelations(b, rels)
	}
	out := append(p.out[:0], packedV1)
	out = binary.AppendUvarint(out, uint64(len(p.used)))
	for _, i := range p.used {
		a := &p.attrs[i]
		out = appendString(out, a.country)
		out = binary.AppendUvarint(out, uint64(a.asn))
		out = appendString(out, a.owner)
		p.local[i] = 0
	}
	out = append(out, b...)
	p.body, p.out = b, out
	return out
}

func (p *rowPacker) packRelations(b []byte, rels []Relation) []byte {
	// The time unit 10^k ns: the largest that divides every first time's
	// distance from the earliest and every last time's from its first.
	base := rels[0].First
	for i := range rels {
		base = min(base, rels[i].First)
	}
	k := maxTimeUnit
	for i := range rels {
		k = timeUnit(k, base, rels[i].First, rels[i].Last)
	}
	unit := pow10[k]
	b = binary.AppendVarint(b, base)
	b = append(b, byte(k))
	var prevPeer netip.Addr
	var prev4 uint32
	var prev6hi, prev6lo uint64
	var prevProto uint8
	var prevPort uint16
	var prevAttr uint64
	for i := range rels {
		r := &rels[i]
		a := p.attr(r.Attr)
		var flag byte
		switch {
		case r.Peer == prevPeer:
			flag = relPeerSame
		case r.Peer.Is4():
			flag = relPeer4
		case r.Peer.Is6() && r.Peer.Zone() == "":
			flag = relPeer6
		default:
			flag = relPeerText
		}
		if r.Outbound {
			flag |= relOut
		}
		if r.Proto != prevProto {
			flag |= relProto
		}
		if r.Port != prevPort {
			flag |= relPort
		}
		if r.Packets != r.Flows {
			flag |= relPackets
		}
		if r.Last != r.First {
			flag |= relLast
		}
		if a != prevAttr {
			flag |= relAttr
		}
		b = append(b, flag)
		switch flag & relPeerMask {
		case relPeer4:
			v := r.Peer.As4()
			u := binary.BigEndian.Uint32(v[:])
			b = binary.AppendUvarint(b, uint64(u-prev4))
			prev4 = u
		case relPeer6:
			v := r.Peer.As16()
			hi, lo := binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
			b = binary.AppendUvarint(b, hi-prev6hi)
			if hi == prev6hi {
				b = binary.AppendUvarint(b, lo-prev6lo)
			} else {
				b = binary.BigEndian.AppendUint64(b, lo)
			}
			prev6hi, prev6lo = hi, lo
		case relPeerText:
			var s string
			if r.Peer.IsValid() {
				s = r.Peer.String()
			}
			b = appendString(b, s)
		}
		if flag&relProto != 0 {
			b = append(b, r.Proto)
		}
		if flag&relPort != 0 {
			b = binary.AppendUvarint(b, uint64(r.Port))
		}
		b = binary.AppendUvarint(b, r.Flows)
		if flag&relPackets != 0 {
			b = binary.AppendUvarint(b, r.Packets)
		}
		b = binary.AppendUvarint(b, r.Bytes)
		b = binary.AppendUvarint(b, (uint64(r.First)-uint64(base))/unit)
		if flag&relLast != 0 {
			b = binary.AppendVarint(b, (r.Last-r.First)/int64(unit))
		}
		if flag&relAttr != 0 {
			b = binary.AppendUvarint(b, a)
		}
		prevPeer, prevProto, prevPort, prevAttr = r.Peer, r.Proto, r.Port, a
	}
	return b
}

// timeUnit returns the largest k' ≤ k such that 10^k' ns divides a
// relation's first time's distance from base and its last's from its first.
func timeUnit(k int, base, first, last int64) int {
	for d := uint64(first) - uint64(base); k > 0 && d%pow10[k] != 0; {
		k--
	}
	for d := last - first; k > 0 && d%int64(pow10[k]) != 0; {
		k--
	}
	return k
}

// packSlots is packRelations for relations a take left aside, which are
// IPv4 to IPv4: the same bytes, without making Relations of them.
func (p *rowPacker) packSlots(b []byte, rels []relSlot) []byte {
	base := rels[0].first
	for i := range rels {
		base = min(base, rels[i].first)
	}
	k := maxTimeUnit
	for i := range rels {
		k = timeUnit(k, base, rels[i].first, rels[i].last)
	}
	unit := pow10[k]
	b = binary.AppendVarint(b, base)
	b = append(b, byte(k))
	var prev4 uint32
	var prevProto uint8
	var prevPort uint16
	var prevAttr uint64
	for i := range rels {
		r := &rels[i]
		a := p.attr(r.attr)
		flag := byte(relPeer4)
		if i > 0 && r.key.peer == prev4 {
			flag = relPeerSame
		}
		if r.key.out {
			flag |= relOut
		}
		if r.key.proto != prevProto {
			flag |= relProto
		}
		if r.key.port != prevPort {
			flag |= relPort
		}
		if r.packets != r.flows {
			flag |= relPackets
		}
		if r.last != r.first {
			flag |= relLast
		}
		if a != prevAttr {
			flag |= relAttr
		}
		b = append(b, flag)
		if flag&relPeerMask == relPeer4 {
			b = binary.AppendUvarint(b, uint64(r.key.peer-prev4))
			prev4 = r.key.peer
		}
		if flag&relProto != 0 {
			b = append(b, r.key.proto)
		}
		if flag&relPort != 0 {
			b = binary.AppendUvarint(b, uint64(r.key.port))
		}
		b = binary.AppendUvarint(b, r.flows)
		if flag&relPackets != 0 {
			b = binary.AppendUvarint(b, r.packets)
		}
		b = binary.AppendUvarint(b, r.bytes)
		b = binary.AppendUvarint(b, (uint64(r.first)-uint64(base))/unit)
		if flag&relLast != 0 {
			b = binary.AppendVarint(b, (r.last-r.first)/int64(unit))
		}
		if flag&relAttr != 0 {
			b = binary.AppendUvarint(b, a)
		}
		prevProto, prevPort, prevAttr = r.key.proto, r.key.port, a
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errPacked is the error of a row whose packed form is not valid.
var errPacked = errors.New("bad packed row")

// packedReader reads a packed row; the first error sticks, and every read
// after it returns zero.
type packedReader struct {
	b   []byte
	err error
}

func (r *packedReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errPacked, what)
	}
	r.b = nil
}

func (r *packedReader) byte(what string) byte {
	if len(r.b) == 0 {
		r.fail(what + ": truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *packedReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what + ": truncated or overlong number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *packedReader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what + ": truncated or overlong number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *packedReader) bytes(n uint64, what string) []byte {
	if n > uint64(len(r.b)) {
		r.fail(what + ": truncated")
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// count reads an entry count; each entry takes at least min bytes.
func (r *packedReader) count(min int, what string) int {
	n := r.uvarint(what)
	if n > uint64(len(r.b)/min) {
		r.fail(fmt.Sprintf("%s: %d entries in %d bytes", what, n, len(r.b)))
		return 0
	}
	return int(n)
}

// decodePacked decodes a packed row, appending to hs and rs. Strings are
// shared through in.
func decodePacked(b []byte, in interner, hs []hourEntry, rs []relEntry) ([]hourEntry, []relEntry, error) {
	r := &packedReader{b: b}
	if v := r.byte("format"); r.err == nil && v != packedV1 {
		return hs, rs, fmt.Errorf("%w: format %d, this version reads %d", errPacked, v, packedV1)
	}
	attrs := make([]packAttr, r.count(3, "attributions"))
	for i := range attrs {
		c := r.bytes(r.uvarint("country"), "country")
		asn := r.uvarint("asn")
		o := r.bytes(r.uvarint("owner"), "owner")
		if asn > 1<<32-1 {
			r.fail("asn out of range")
		}
		if r.err != nil {
			return hs, rs, r.err
		}
		attrs[i] = packAttr{country: in.getBytes(c), owner: in.getBytes(o), asn: uint32(asn)}
	}
	attr := func(i uint64) *packAttr {
		if i >= uint64(len(attrs)) {
			r.fail("attribution index out of range")
			return &packAttr{}
		}
		return &attrs[i]
	}
	n := r.count(3, "hours")
	var hour int64
	var ai uint64
	for range n {
		flag := r.byte("hour")
		if flag&^(hourOut|hourSameHour|hourSameAttr|hourPackets) != 0 {
			r.fail("hour flags")
		}
		if flag&hourSameHour == 0 {
			hour += r.varint("hour")
		}
		if flag&hourSameAttr == 0 {
			ai = r.uvarint("hour attribution")
		}
		a := attr(ai)
		h := hourEntry{hour: hour, outbound: flag&hourOut != 0, country: a.country, asn: a.asn, owner: a.owner}
		h.flows = r.uvarint("hour flows")
		h.packets = h.flows
		if flag&hourPackets != 0 {
			h.packets = r.uvarint("hour packets")
		}
		h.bytes = r.uvarint("hour bytes")
		if r.err != nil {
			return hs, rs, r.err
		}
		hs = append(hs, h)
	}
	n = r.count(4, "relations")
	if n > 0 {
		rs, _ = decodePackedRelations(r, attr, rs, n)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d bytes after the relations", len(r.b)))
	}
	return hs, rs, r.err
}

func decodePackedRelations(r *packedReader, attr func(uint64) *packAttr, rs []relEntry, n int) ([]relEntry, error) {
	base := r.varint("time base")
	k := r.byte("time unit")
	if k > maxTimeUnit {
		r.fail("time unit")
	}
	unit := pow10[min(k, maxTimeUnit)]
	var peer netip.Addr
	var prev4 uint32
	var prev6hi, prev6lo uint64
	var proto uint8
	var port uint16
	var ai uint64
	for range n {
		flag := r.byte("relation")
		switch flag & relPeerMask {
		case relPeer4:
			prev4 += uint32(r.uvarint("peer"))
			peer = netip.AddrFrom4([4]byte{byte(prev4 >> 24), byte(prev4 >> 16), byte(prev4 >> 8), byte(prev4)})
		case relPeer6:
			d := r.uvarint("peer")
			if d == 0 {
				prev6lo += r.uvarint("peer")
			} else {
				prev6hi += d
				if b := r.bytes(8, "peer"); len(b) == 8 {
					prev6lo = binary.BigEndian.Uint64(b)
				}
			}
			var a [16]byte
			binary.BigEndian.PutUint64(a[:8], prev6hi)
			binary.BigEndian.PutUint64(a[8:], prev6lo)
			peer = netip.AddrFrom16(a)
		case relPeerText:
			s := r.bytes(r.uvarint("peer"), "peer")
			peer = netip.Addr{}
			if len(s) > 0 {
				var err error
				if peer, err = netip.ParseAddr(string(s)); err != nil {
					r.fail(err.Error())
				}
			}
		}
		if flag&relProto != 0 {
			proto = r.byte("protocol")
		}
		if flag&relPort != 0 {
			v := r.uvarint("port")
			if v > 1<<16-1 {
				r.fail("port out of range")
			}
			port = uint16(v)
		}
		e := relEntry{peer: peer, proto: proto, port: port, outbound: flag&relOut != 0}
		e.flows = r.uvarint("flows")
		e.packets = e.flows
		if flag&relPackets != 0 {
			e.packets = r.uvarint("packets")
		}
		e.bytes = r.uvarint("bytes")
		e.first = int64(uint64(base) + r.uvarint("first")*unit)
		e.last = e.first
		if flag&relLast != 0 {
			e.last = e.first + r.varint("last")*int64(unit)
		}
		if flag&relAttr != 0 {
			ai = r.uvarint("attribution")
		}
		a := attr(ai)
		e.country, e.asn, e.owner = a.country, a.asn, a.owner
		if r.err != nil {
			return rs, r.err
		}
		rs = append(rs, e)
	}
	return rs, r.err
}
