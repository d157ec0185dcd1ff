package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"slices"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// addWorkload is a sequence of oriented records for BenchmarkAggregatorAdd.
type addWorkload struct {
	recs []Record
	os   []Orientation
}

// newRelations is bench/flows/pcapgen's traffic: n single-packet flows from
// devices private addresses to random public peers over an hour, each a new
// relation.
func newRelations(n, devices int) addWorkload {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := addWorkload{recs: make([]Record, n), os: make([]Orientation, n)}
	for i := range w.recs {
		d := uint32(rng.IntN(devices))
		r := &w.recs[i]
		r.Src, r.Dst = addr4(0x0a000000+d), addr4(0x0b000000+rng.Uint32N(0xc0000000))
		r.Proto, r.SrcPort, r.DstPort = ProtoTCP, uint16(1024+rng.IntN(60000)), []uint16{443, 80, 8883, 123}[rng.IntN(4)]
		r.Start = t0.Add(time.Duration(i) * time.Hour / time.Duration(n))
		r.Packets, r.Bytes = 1, 60
		w.os[i] = Orientation{Device: r.Src, Peer: r.Dst, Port: r.DstPort, Outbound: true}
	}
	return w
}

// dayRelations is bench/flows/gen's traffic (BenchmarkPipelineDay's): each
// device talks to a few cloud endpoints, DNS and NTP (relations seen again
// and again) and 5% random hosts, over a day.
func dayRelations(n, devices int) addWorkload {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := addWorkload{recs: make([]Record, n), os: make([]Orientation, n)}
	for i := range w.recs {
		dev := rng.IntN(devices)
		r := &w.recs[i]
		r.Src = netip.AddrFrom4([4]byte{10, byte(dev >> 16), byte(dev >> 8), byte(dev)})
		r.Proto, r.SrcPort, r.DstPort = ProtoTCP, uint16(1024+rng.IntN(60000)), 443
		switch x := rng.IntN(100); {
		case x < 70:
			r.Dst = netip.AddrFrom4([4]byte{52, 10, byte(dev % 50), byte(rng.IntN(4))})
		case x < 85:
			r.Dst, r.DstPort, r.Proto = netip.AddrFrom4([4]byte{8, 8, 8, 8}), 53, ProtoUDP
		case x < 95:
			r.Dst, r.DstPort, r.Proto = netip.AddrFrom4([4]byte{129, 6, 15, 28}), 123, ProtoUDP
		default:
			r.Dst = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		}
		r.Start = t0.Add(time.Duration(float64(i) / float64(n) * float64(24*time.Hour)))
		r.End = r.Start.Add(2 * time.Second)
		r.Packets = uint64(1 + rng.IntN(50))
		r.Bytes = r.Packets * uint64(60+rng.IntN(1200))
		w.os[i] = Orientation{Device: r.Src, Peer: r.Dst, Port: r.DstPort, Outbound: true}
	}
	return w
}

// addWorkloads are the benchmarks' workloads.
var addWorkloads = []struct {
	name string
	w    func(n, devices int) addWorkload
}{
	{"new", newRelations},
	{"day", dayRelations},
}

// BenchmarkAggregatorAdd measures Aggregator.Add alone (the pipeline's
// roll-ups, relations, attribution by the embedded country database and
// spilling at the default table size) on a million records, one by one
// (batch=1) and in the pipeline's batches (addRelations, addHours).
func BenchmarkAggregatorAdd(b *testing.B) {
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range addWorkloads {
		w := bc.w(1_000_000, 10_000)
		for _, batch := range []int{1, 1024} {
			b.Run(fmt.Sprintf("%s/batch=%d", bc.name, batch), func(b *testing.B) {
				os := slices.Clone(w.os)
				b.ReportAllocs()
				for b.Loop() {
					a := NewAggregator(at.Lookup, 0)
					a.SpillTo(b.TempDir(), 0)
					if batch == 1 {
						for i := range w.recs {
							a.Add(&w.recs[i], w.os[i])
						}
					} else {
						for i := 0; i < len(w.recs); i += batch {
							j := min(i+batch, len(w.recs))
							a.addAll(w.recs[i:j], os[i:j])
						}
					}
					closeSpill(b, a)
				}
				b.ReportMetric(float64(len(w.recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkAddRelations measures the pipeline's aggregation stage alone
// (addRelations, spilling at the default table size) on a million new
// relations, their peers' attributions numbered by the producer beforehand
// as a pipeline's producer does (see attrIndex).
func BenchmarkAddRelations(b *testing.B) {
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	w := newRelations(1_000_000, 10_000)
	px := newAttrIndex(at.Lookup)
	pis := make([]uint32, len(w.recs))
	for i := range pis {
		pis[i] = px.attr(w.os[i].Peer)
	}
	const batch = 1024
	os := slices.Clone(w.os)
	var ais []uint32
	var cpu time.Duration
	for b.Loop() {
		c0 := procCPU(b)
		a := NewAggregator(at.Lookup, 0)
		a.SpillTo(b.TempDir(), 0)
		for i := 0; i < len(w.recs); i += batch {
			j := min(i+batch, len(w.recs))
			ais = a.addRelations(w.recs[i:j], os[i:j], pis[i:j], px.attrs, ais[:0])
		}
		closeSpill(b, a)
		cpu += procCPU(b) - c0
	}
	b.ReportMetric(float64(len(w.recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op") // with the spill writer's
}

// BenchmarkAddHours measures the pipeline's hourly roll-ups alone (addHours,
// in the observer stage's aggregator) on a million records, their
// attribution indexes given as the aggregation stage gives them.
func BenchmarkAddHours(b *testing.B) {
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range addWorkloads {
		w := bc.w(1_000_000, 10_000)
		rels := NewAggregator(at.Lookup, 0)
		rels.SpillTo("", -1)
		ais := rels.addRelations(w.recs, slices.Clone(w.os), nil, nil, nil)
		const batch = 1024
		b.Run(bc.name, func(b *testing.B) {
			c0 := procCPU(b)
			for b.Loop() {
				a := NewAggregator(nil, 0)
				for i := 0; i < len(w.recs); i += batch {
					j := min(i+batch, len(w.recs))
					a.addHours(w.recs[i:j], w.os[i:j], ais[i:j])
				}
			}
			b.ReportMetric(float64(len(w.recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric((procCPU(b)-c0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// procCPU is the process's user and system time so far.
func procCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closeSpill closes an aggregator's spill file, out of the benchmark's time.
func closeSpill(b *testing.B, a *Aggregator) {
	b.StopTimer()
	a.settle()
	if err := a.spill.close(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkTakeHours measures taking the hourly roll-ups of a million new
// relations (pcapgen's: about 300,000 roll-ups), which the pipeline does
// after its stages (Close), each time into memory fresh from the system as
// in an ingest's process.
func BenchmarkTakeHours(b *testing.B) {
	w := newRelations(1_000_000, 10_000)
	ais := make([]uint32, len(w.recs))
	for i := range ais {
		ais[i] = uint32(w.recs[i].Dst.As4()[0]) % 40 // about 30 attributions a device, as pcapgen's countries
	}
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		a := NewAggregator(nil, 0)
		a.addHours(w.recs, w.os, ais)
		debug.FreeOSMemory()
		b.StartTimer()
		c0 := procCPU(b)
		if r := a.take(); len(r.Hourly) == 0 {
			b.Fatal("no roll-ups")
		}
		cpu += procCPU(b) - c0
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
