// Package netflow decodes NetFlow v5, v9, IPFIX and sFlow v5 datagrams with
// the netsampler/goflow2 v2 decoders (templates kept per exporter, sampling
// rate applied to the counters) and runs a UDP collector that feeds them to a
// flow.Sink. v5 and sFlow records go through goflow2's protoproducer; v9 and
// IPFIX data sets are converted directly (same field semantics, no per-record
// message allocation), and IPFIX samplingPopulation/samplingSize (RFC 5476),
// which goflow2 does not read, sets the rate too.
package netflow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"

	"iotwatch/internal/flow"
)

// ErrNotFlow reports a datagram that is no NetFlow, IPFIX or sFlow.
var ErrNotFlow = errors.New("not a NetFlow, IPFIX or sFlow datagram")

// ErrMalformed reports a datagram of a known version whose contents do not
// add up (a record count the datagram cannot hold).
var ErrMalformed = errors.New("malformed flow datagram")

// NetFlow v5's layout: a 24-byte header, then up to 30 records of 48 bytes.
const (
	v5Header     = 24
	v5Record     = 48
	v5MaxRecords = 30
)

// ErrNoTemplate reports data sets whose template has not been received.
var ErrNoTemplate = netflow.ErrorTemplateNotFound

// Stats counts what a decoder saw.
type Stats struct {
	Datagrams  int64
	Records    int64
	Malformed  int64 // datagrams that failed to decode
	NoTemplate int64 // datagrams with data sets for unknown templates
	ByVersion  map[string]int64
}

// Decoder decodes datagrams from any number of exporters. Templates and
// sampling rates are kept per exporter address. It is not safe for concurrent use.
type Decoder struct {
	prod      producer.ProducerInterface
	templates map[netip.Addr]netflow.NetFlowTemplateSystem
	// rates is the sampling rate last announced per exporter, version and
	// observation domain (v9 source id), as goflow2's sampling system keeps it.
	rates map[rateKey3]uint64
	// general disables the v9 fast path (tests compare both paths).
	general bool
	Stats   Stats
}

type rateKey3 struct {
	exporter netip.Addr
	version  uint16
	domain   uint32
}

var (
	cfgOnce sync.Once
	cfg     protoproducer.ProtoProducerConfig
	cfgErr  error
)

// NewDecoder returns a decoder with goflow2's default field mapping.
func NewDecoder() (*Decoder, error) {
	cfgOnce.Do(func() { cfg, cfgErr = (&protoproducer.ProducerConfig{}).Compile() })
	if cfgErr != nil {
		return nil, fmt.Errorf("goflow2 producer config: %w", cfgErr)
	}
	p, err := protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
	if err != nil {
		return nil, fmt.Errorf("goflow2 producer: %w", err)
	}
	return &Decoder{prod: p, templates: map[netip.Addr]netflow.NetFlowTemplateSystem{}, rates: map[rateKey3]uint64{},
		Stats: Stats{ByVersion: map[string]int64{}}}, nil
}

// Decode decodes one datagram received from exporter at recv and hands its
// records to sink. It returns the number of records. A datagram with an
// unknown template yields the records it could decode and an error wrapping
// ErrNoTemplate; a malformed datagram yields an error and no records.
func (d *Decoder) Decode(payload []byte, exporter netip.AddrPort, recv time.Time, sink flow.Sink) (n int, err error) {
	defer func() {
		if v := recover(); v != nil { // decoder bug on hostile input: count, never crash
			d.Stats.Malformed++
			n, err = 0, fmt.Errorf("decode datagram from %s: panic: %v", exporter, v)
		}
	}()
	d.Stats.Datagrams++
	if len(payload) < 4 {
		d.Stats.Malformed++
		return 0, fmt.Errorf("decode datagram from %s: %w (%d bytes)", exporter, ErrNotFlow, len(payload))
	}
	args := producer.ProduceArgs{Src: exporter, SamplerAddress: exporter.Addr(), TimeReceived: recv}
	var msg any
	var decErr error
	v32 := binary.BigEndian.Uint32(payload)
	switch v16 := uint16(v32 >> 16); {
	case v32 == 5:
		var p sflow.Packet
		decErr = sflow.DecodeMessageVersion(bytes.NewBuffer(payload), &p)
		msg = &p
		d.Stats.ByVersion["sflow5"]++
	case v16 == 5:
		// goflow2 trusts the header's count and fills records past the end
		// of the datagram with zeros: a 24-byte datagram claiming 65,520
		// records gave 65,520 empty flows (found by fuzzing). A v5 datagram
		// holds 1 to 30 records of 48 bytes after its 24-byte header, as
		// nfcapd also requires.
		if c := int(v32 & 0xffff); c == 0 || c > v5MaxRecords || len(payload) < v5Header+c*v5Record {
			d.Stats.Malformed++
			return 0, fmt.Errorf("decode datagram from %s: %w: NetFlow v5 header counts %d records, datagram has %d bytes (%d records fit, at most %d allowed)",
				exporter, ErrMalformed, c, len(payload), max(len(payload)-v5Header, 0)/v5Record, v5MaxRecords)
		}
		var p netflowlegacy.PacketNetFlowV5
		decErr = netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(payload), &p)
		msg = &p
		d.Stats.ByVersion["netflow5"]++
	case v16 == 9 || v16 == 10:
		ts := d.templates[exporter.Addr()]
		if ts == nil {
			ts = netflow.CreateTemplateSystem()
			d.templates[exporter.Addr()] = ts
		}
		if v16 == 9 && len(payload) >= 20 && !d.general {
			rate := d.rates[rateKey3{exporter.Addr(), 9, binary.BigEndian.Uint32(payload[16:])}]
			if n, ok := fastV9(payload, ts, rate, sink); ok {
				d.Stats.ByVersion["netflow9"]++
				d.Stats.Records += int64(n)
				return n, nil
			}
		}
		var p9 netflow.NFv9Packet
		var p10 netflow.IPFIXPacket
		decErr = netflow.DecodeMessageVersion(bytes.NewBuffer(payload), ts, &p9, &p10)
		if v16 == 9 {
			msg = &p9
			d.Stats.ByVersion["netflow9"]++
		} else {
			msg = &p10
			d.Stats.ByVersion["ipfix"]++
		}
	default:
		d.Stats.Malformed++
		return 0, fmt.Errorf("decode datagram from %s: %w (version word %#x)", exporter, ErrNotFlow, v32)
	}
	noTemplate := false
	if decErr != nil {
		if !errors.Is(decErr, netflow.ErrorTemplateNotFound) {
			d.Stats.Malformed++
			return 0, fmt.Errorf("decode datagram from %s: %w", exporter, decErr)
		}
		noTemplate = true
		d.Stats.NoTemplate++
	}
	// NetFlow v9 and IPFIX: convert the decoded data sets directly.
	var sets []any
	var ver uint16
	var base, uptime, domain uint32
	switch m := msg.(type) {
	case *netflow.NFv9Packet:
		sets, ver, base, uptime, domain = m.FlowSets, 9, m.UnixSeconds, m.SystemUptime, m.SourceId
	case *netflow.IPFIXPacket:
		sets, ver, base, domain = m.FlowSets, 10, m.ExportTime, m.ObservationDomainId
	}
	if ver != 0 {
		rk := rateKey3{exporter.Addr(), ver, domain}
		rate, found := optionsRate(sets)
		if found {
			d.rates[rk] = rate
		} else {
			rate = d.rates[rk]
		}
		n = convertDataSets(ver, base, uptime, sets, rate, sink)
		d.Stats.Records += int64(n)
		if noTemplate {
			return n, fmt.Errorf("decode datagram from %s: %w", exporter, ErrNoTemplate)
		}
		return n, nil
	}
	msgs, err := d.prod.Produce(msg, &args)
	defer d.prod.Commit(msgs)
	if err != nil {
		d.Stats.Malformed++
		return 0, fmt.Errorf("convert datagram from %s: %w", exporter, err)
	}
	for _, m := range msgs {
		pm, ok := m.(*protoproducer.ProtoProducerMessage)
		if !ok {
			continue
		}
		r, ok := toRecord(pm, recv)
		if !ok {
			continue
		}
		sink.Flow(r)
		n++
	}
	d.Stats.Records += int64(n)
	if noTemplate {
		return n, fmt.Errorf("decode datagram from %s: %w", exporter, ErrNoTemplate)
	}
	return n, nil
}

func addr(b []byte) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(b)
	return a.Unmap(), ok
}

func toRecord(m *protoproducer.ProtoProducerMessage, recv time.Time) (flow.Record, bool) {
	src, ok1 := addr(m.SrcAddr)
	dst, ok2 := addr(m.DstAddr)
	if !ok1 || !ok2 {
		return flow.Record{}, false // options records, non-IP samples
	}
	rate := m.SamplingRate
	if rate == 0 {
		rate = 1
	}
	r := flow.Record{
		Src: src, Dst: dst,
		SrcPort: uint16(m.SrcPort), DstPort: uint16(m.DstPort),
		Proto:        uint8(m.Proto),
		TCPFlags:     uint8(m.TcpFlags),
		Packets:      m.Packets * rate,
		Bytes:        m.Bytes * rate,
		SamplingRate: uint32(rate),
	}
	if m.TimeFlowStartNs != 0 {
		r.Start = time.Unix(0, int64(m.TimeFlowStartNs)).UTC()
	} else if m.TimeReceivedNs != 0 {
		r.Start = time.Unix(0, int64(m.TimeReceivedNs)).UTC()
	} else {
		r.Start = recv.UTC()
	}
	if m.TimeFlowEndNs != 0 {
		r.End = time.Unix(0, int64(m.TimeFlowEndNs)).UTC()
	}
	return r, true
}
