package netflow

import (
	"net/netip"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"

	"iotwatch/internal/flow"
)

// Field types read from NetFlow v9 / IPFIX data records (RFC 3954, IANA IPFIX).
const (
	fInBytes, fInPkts       = 1, 2
	fProto, fTCPFlags       = 4, 6
	fSrcPort, fDstPort      = 7, 11
	fSrc4, fDst4            = 8, 12
	fLastSw, fFirstSw       = 21, 22
	fOutBytes, fOutPkts     = 23, 24
	fSrc6, fDst6            = 27, 28
	fOctetTotal, fPktTotal  = 85, 86
	fStartSec, fEndSec      = 150, 151
	fStartMs, fEndMs        = 152, 153
	fStartUs, fEndUs        = 154, 155
	fStartNs, fEndNs        = 156, 157
	fStartDeltaUs, fEndDelU = 158, 159
)

func unum(b []byte) uint64 {
	if len(b) > 8 {
		return 0
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}

// convertDataSets turns the data records of a decoded v9 (version 9) or
// IPFIX (10) packet into records, following goflow2's protoproducer
// semantics for the fields it reads, without its per-record message
// allocation and reflection-based mapping. baseTime is the export time
// (Unix seconds), uptime the v9 system uptime (ms).
func convertDataSets(version uint16, baseTime, uptime uint32, sets []any, rate uint64, sink flow.Sink) int {
	if rate == 0 {
		rate = 1
	}
	baseNs := int64(baseTime) * 1e9
	n := 0
	for _, fs := range sets {
		ds, ok := fs.(netflow.DataFlowSet)
		if !ok {
			continue
		}
		for _, rec := range ds.Records {
			c := newConv(version, baseNs, uptime)
			for i := range rec.Values {
				df := &rec.Values[i]
				v, ok := df.Value.([]byte)
				if !ok || df.PenProvided {
					continue
				}
				c.field(df.Type, v)
			}
			if r, ok := c.record(rate); ok {
				sink.Flow(r)
				n++
			}
		}
	}
	return n
}

// conv accumulates the fields of one data record.
type conv struct {
	r            flow.Record
	version      uint16
	uptime       uint32
	baseNs       int64
	start, end   int64
	totB, totP   uint64
	haveCounters bool
}

func newConv(version uint16, baseNs int64, uptime uint32) conv {
	return conv{version: version, uptime: uptime, baseNs: baseNs, start: baseNs, end: baseNs}
}

func (c *conv) field(typ uint16, v []byte) {
	r := &c.r
	switch typ {
	case fInBytes, fOutBytes:
		r.Bytes, c.haveCounters = unum(v), true
	case fInPkts, fOutPkts:
		r.Packets, c.haveCounters = unum(v), true
	case fOctetTotal:
		c.totB = unum(v)
	case fPktTotal:
		c.totP = unum(v)
	case fSrcPort:
		r.SrcPort = uint16(unum(v))
	case fDstPort:
		r.DstPort = uint16(unum(v))
	case fProto:
		r.Proto = uint8(unum(v))
	case fTCPFlags:
		r.TCPFlags = uint8(unum(v))
	case fSrc4, fSrc6:
		r.Src, _ = netip.AddrFromSlice(v)
	case fDst4, fDst6:
		r.Dst, _ = netip.AddrFromSlice(v)
	default:
		baseNs := c.baseNs
		if c.version == 9 {
			switch typ {
			case fFirstSw:
				c.start = baseNs - (int64(c.uptime)-int64(uint32(unum(v))))*1e6
			case fLastSw:
				c.end = baseNs - (int64(c.uptime)-int64(uint32(unum(v))))*1e6
			}
			return
		}
		switch typ {
		case fStartSec:
			c.start = int64(unum(v)) * 1e9
		case fEndSec:
			c.end = int64(unum(v)) * 1e9
		case fStartMs:
			c.start = int64(unum(v)) * 1e6
		case fEndMs:
			c.end = int64(unum(v)) * 1e6
		case fStartUs, fStartNs:
			c.start = int64(protoproducer.ConvertNTPEpoch(unum(v)))
		case fEndUs, fEndNs:
			c.end = int64(protoproducer.ConvertNTPEpoch(unum(v)))
		case fStartDeltaUs:
			c.start = baseNs - int64(unum(v))*1000
		case fEndDelU:
			c.end = baseNs - int64(unum(v))*1000
		}
	}
}

// record finishes the record; false for options-like records without addresses.
func (c *conv) record(rate uint64) (flow.Record, bool) {
	r := c.r
	if !c.haveCounters {
		r.Bytes, r.Packets = c.totB, c.totP
	}
	if !r.Src.IsValid() || !r.Dst.IsValid() {
		return r, false
	}
	r.Src, r.Dst = r.Src.Unmap(), r.Dst.Unmap()
	r.Bytes *= rate
	r.Packets *= rate
	r.SamplingRate = uint32(rate)
	r.Start = time.Unix(0, c.start).UTC()
	r.End = time.Unix(0, c.end).UTC()
	return r, true
}

// optionsRate returns the sampling rate announced in the packet's options
// data (goflow2's order: IEs 305, 50, 34; then IPFIX 310/309), if any.
func optionsRate(sets []any) (uint64, bool) {
	for _, fs := range sets {
		ods, ok := fs.(netflow.OptionsDataFlowSet)
		if !ok {
			continue
		}
		for _, rec := range ods.Records {
			var size, pop uint64
			for _, want := range []uint16{305, 50, 34} {
				for _, v := range rec.OptionsValues {
					if b, ok := v.Value.([]byte); ok && !v.PenProvided && v.Type == want && len(b) <= 8 {
						if r := unum(b); r > 1 {
							return r, true
						} else if want != 305 {
							return r, true
						}
					}
				}
			}
			for _, v := range rec.OptionsValues {
				b, ok := v.Value.([]byte)
				if !ok || v.PenProvided {
					continue
				}
				switch v.Type {
				case 309:
					size = unum(b)
				case 310:
					pop = unum(b)
				}
			}
			if size > 0 && pop >= size {
				return pop / size, true
			}
		}
	}
	return 0, false
}
