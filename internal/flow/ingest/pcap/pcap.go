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

// lookAhead is how many packets ahead of its lookup a classic pcap's
// packet has its flow's table slot asked for.
const lookAhead = 4

// Buffered is a reader whose bytes Read parses in place, as it does those
// of the buffered reader it reads other readers through (a file mapped in
// memory, a bufio.Reader): Peek, Discard, Buffered and Size are
// bufio.Reader's. Peek(n) gives n bytes, or those left before the end or
// an error with the error; Buffered and Size may be any number of bytes
// (Read reads a record longer than Size with Read).
type Buffered interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Buffered() int
	Size() int
}

var _ Buffered = (*bufio.Reader)(nil)

// ErrFormat reports input that is neither pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng capture")

// packetSource reads packets without copying them: the bytes are valid
// until the next call (pcapgo.Reader and NgReader).
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
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
	br, ok := r.(Buffered)
	if !ok {
		br = bufio.NewReaderSize(r, readBuffer)
	}
	magic, err := br.Peek(4)
	if err != nil {
		return Stats{}, fmt.Errorf("read capture header: %w", ErrFormat)
	}
	var src packetSource
	var rr *records // src when it is a classic pcap read in place
	var link layers.LinkType
	if binary.BigEndian.Uint32(magic) == 0x0A0D0D0A {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return Stats{}, fmt.Errorf("read pcapng: %w", err)
		}
		src, link = ng, ng.LinkType()
	} else if r, pr, ok, err := newRecords(br); ok {
		if err != nil {
			return Stats{}, fmt.Errorf("read pcap: %w: %w", ErrFormat, err)
		}
		src, rr, link = r, r, pr.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("read pcap: %w: %w", ErrFormat, err)
		}
		src, link = pr, pr.LinkType()
	}
	a := &assembler{sink: sink, opt: opt, flows: map[key]int32{}, lastSweep: math.MinInt64}
	a.rs, _ = sink.(flow.RecordSink)
	for {
		if a.st.Packets%4096 == 0 && ctx.Err() != nil {
			a.flushAll()
			return a.st, ctx.Err()
		}
		// A classic pcap's times are exact in Unix nanoseconds: the
		// packet's time.Time is made only when needed (at).
		var (
			data  []byte
			ts    time.Time
			tn    int64
			exact = true
		)
		if rr != nil {
			data, tn, err = rr.next()
		} else {
			var ci gopacket.CaptureInfo
			data, ci, err = src.ZeroCopyReadPacketData()
			ts, tn, exact = ci.Timestamp, ci.Timestamp.UnixNano(), exactNanos(ci.Timestamp)
		}
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
		if rr != nil {
			// The next packets' flows are looked up after this one's:
			// their table slots are asked for now, lookAhead packets
			// ahead, so that the cache misses overlap this packet's work
			// and the next ones'.
			for rr.nAhead < lookAhead {
				d := rr.peek()
				if d == nil {
					break
				}
				h, ok := hash4(link, d)
				if ok {
					a.flows4.prefetch(h)
				}
				rr.note(hint{h, ok})
			}
		}
		if rr != nil {
			a.hint = rr.noted()
		}
		a.packet(link, data, packetTime{ts, tn, exact})
	}
	a.flushAll()
	return a.st, nil
}

// packetTime is a packet's time: Unix nanoseconds (ns), exact or not (a
// pcapng's times may be outside 1678-2262); ts when it was given (a time
// exact in ns may be left out and made from ns).
type packetTime struct {
	ts    time.Time
	ns    int64
	exact bool
}

// time returns the packet's time.
func (t packetTime) time() time.Time {
	if t.exact && t.ts.IsZero() {
		return time.Unix(0, t.ns).UTC()
	}
	return t.ts
}

func (a *assembler) packet(link layers.LinkType, data []byte, pt packetTime) {
	ip, ok := linkPayload(link, data)
	if !ok {
		a.st.NonIP++
		return
	}
	var (
		src, dst netip.Addr
		s4, d4   uint32
		is4      bool
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
		s4, d4, is4 = binary.BigEndian.Uint32(ip[12:16]), binary.BigEndian.Uint32(ip[16:20]), true
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
	isMirai := false
	switch proto {
	case flow.ProtoTCP:
		if len(l4) >= 20 {
			sp, dp = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
			flags = l4[13]
			// Mirai's scanner sets a SYN's sequence number to the target address.
			isMirai = flags&0x12 == 0x02 && is4 && binary.BigEndian.Uint32(l4[4:8]) == d4
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
		a.dnsAnswers(payload, pt.time())
	}
	// Times are compared as Unix nanoseconds (a capture's times are within
	// a few centuries of 1970).
	tn := pt.ns
	if s := a.add(src, dst, s4, d4, is4, sp, dp, proto, pt, uint64(ipLen), flags, payload); s != nil && isMirai {
		s.bits |= mirai
	}
	if tn > a.lastSweep+int64(a.opt.IdleTimeout/4) {
		a.sweep(tn)
		a.lastSweep = tn
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

// hash4 returns the hash of an IPv4 TCP or UDP packet's flow key, as
// packet and add find it (ok false for other packets: a hint only).
func hash4(link layers.LinkType, data []byte) (h uint64, ok bool) {
	ip, ok := linkPayload(link, data)
	if !ok || len(ip) < 20 || ip[0]>>4 != 4 || (ip[9] != flow.ProtoTCP && ip[9] != flow.ProtoUDP) || binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return 0, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl+4 {
		return 0, false
	}
	be := binary.BigEndian
	return flowKey4(be.Uint32(ip[12:16]), be.Uint32(ip[16:20]), be.Uint16(ip[ihl:]), be.Uint16(ip[ihl+2:]), ip[9]).hash(), true
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
