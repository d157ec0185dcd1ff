package flow_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/detect"
)

// BenchmarkPipelineDay measures the consumer side of an ingest (orientation,
// roll-ups, relations, all detectors) on synthetic IPv4 records like
// bench/flows's: 20,000 devices, each with a few cloud endpoints, DNS, NTP
// and a random long tail, in time order over a day.
func BenchmarkPipelineDay(b *testing.B) {
	const n, devices = 1_000_000, 20_000
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	recs := make([]flow.Record, n)
	for i := range recs {
		dev := rng.IntN(devices)
		r := &recs[i]
		r.Src = netip.AddrFrom4([4]byte{10, byte(dev >> 16), byte(dev >> 8), byte(dev)})
		r.Proto, r.TCPFlags, r.SrcPort, r.DstPort = flow.ProtoTCP, 0x1b, uint16(1024+rng.IntN(60000)), 443
		switch x := rng.IntN(100); {
		case x < 70:
			r.Dst = netip.AddrFrom4([4]byte{52, 10, byte(dev % 50), byte(rng.IntN(4))})
		case x < 85:
			r.Dst, r.DstPort, r.Proto = netip.AddrFrom4([4]byte{8, 8, 8, 8}), 53, flow.ProtoUDP
		case x < 95:
			r.Dst, r.DstPort, r.Proto = netip.AddrFrom4([4]byte{129, 6, 15, 28}), 123, flow.ProtoUDP
		default:
			r.Dst = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		}
		r.Start = t0.Add(time.Duration(float64(i) / n * float64(24*time.Hour)))
		r.End = r.Start.Add(2 * time.Second)
		r.Packets = uint64(1 + rng.IntN(50))
		r.Bytes = r.Packets * uint64(60+rng.IntN(1200))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{detect.New(detect.DefaultRules(), nil)}})
		for i := range recs {
			p.Flow(recs[i])
		}
		res, err := p.Close(context.Background())
		if err != nil || res.Counts[flow.CountRecords] != n {
			b.Fatalf("%v %v", err, res.Counts)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
