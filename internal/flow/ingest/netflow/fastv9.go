package netflow

import (
	"encoding/binary"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"iotwatch/internal/flow"
)

// fastV9 decodes a NetFlow v9 datagram made only of data flow sets whose
// (non-options, fixed-length) templates are already known, straight from the
// bytes, without goflow2's per-field allocations. It follows goflow2's
// DecodeMessageCommon: at most Count flow sets, a flow set's length
// truncated to what remains, records decoded while a whole one remains.
// ok is false (and nothing is emitted) when the datagram needs the general
// path: template or options flow sets, unknown templates, odd headers.
func fastV9(payload []byte, ts netflow.NetFlowTemplateSystem, rate uint64, sink flow.Sink) (n int, ok bool) {
	const hdr = 20
	if len(payload) < hdr || ts == nil {
		return 0, false
	}
	count := int(binary.BigEndian.Uint16(payload[2:]))
	uptime := binary.BigEndian.Uint32(payload[4:])
	base := binary.BigEndian.Uint32(payload[8:])
	domain := binary.BigEndian.Uint32(payload[16:])
	type set struct {
		data   []byte
		fields []netflow.Field
		size   int
	}
	var buf [8]set
	sets := buf[:0]
	rest := payload[hdr:]
	for i := 0; i < count && len(rest) > 0; i++ {
		if len(rest) < 4 {
			return 0, false
		}
		id := binary.BigEndian.Uint16(rest)
		length := int(binary.BigEndian.Uint16(rest[2:]))
		if id < 256 || length < 4 {
			return 0, false
		}
		body := rest[4:]
		if length-4 < len(body) {
			body = body[:length-4]
		}
		rest = rest[4+len(body):]
		tmpl, err := ts.GetTemplate(9, domain, id)
		if err != nil {
			return 0, false
		}
		tr, isData := tmpl.(netflow.TemplateRecord)
		if !isData {
			return 0, false
		}
		size := 0
		for _, f := range tr.Fields {
			if f.Length == 0xffff {
				return 0, false
			}
			size += int(f.Length)
		}
		if size == 0 {
			return 0, false
		}
		sets = append(sets, set{body, tr.Fields, size})
	}
	if rate == 0 {
		rate = 1
	}
	baseNs := int64(base) * 1e9
	for _, s := range sets {
		for b := s.data; len(b) >= s.size; b = b[s.size:] {
			c := newConv(9, baseNs, uptime)
			off := 0
			for _, f := range s.fields {
				l := int(f.Length)
				if !f.PenProvided {
					c.field(f.Type, b[off:off+l])
				}
				off += l
			}
			if r, ok := c.record(rate); ok {
				sink.Flow(r)
				n++
			}
		}
	}
	return n, true
}
