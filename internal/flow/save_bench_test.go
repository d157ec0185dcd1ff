//go:build unix

package flow_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/geo"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// BenchmarkSave measures flow.Save alone (encoding and writing the
// flow_devices rows into a new SQLite database), and the close of the
// database after (SQLite's last checkpoint), on what an ingest of
// bench/flows/pcapgen's capture holds at the end: a million single-packet
// flows from 10,000 devices to random peers over an hour, a relation each,
// most of them spilled.
func BenchmarkSave(b *testing.B) {
	const n, devices = 1_000_000, 10_000
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	recs := make([]flow.Record, n)
	for i := range recs {
		d := rng.IntN(devices)
		r := &recs[i]
		r.Src = netip.AddrFrom4([4]byte{10, byte(d >> 16), byte(d >> 8), byte(d)})
		p := 0x0b000000 + rng.Uint32N(0xc0000000)
		r.Dst = netip.AddrFrom4([4]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
		r.Proto, r.TCPFlags, r.SrcPort, r.DstPort = flow.ProtoTCP, 0x02, uint16(1024+rng.IntN(60000)), []uint16{443, 80, 8883, 123}[rng.IntN(4)]
		r.Start = t0.Add(time.Duration(i) * time.Hour / n).Truncate(time.Microsecond)
		r.End, r.Packets, r.Bytes = r.Start, 1, 40
	}
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	var cpu time.Duration // user and system time of the process during Save
	for b.Loop() {
		b.StopTimer()
		p := flow.NewPipeline(flow.PipelineConfig{Attribute: at.Attribute, SpillDir: b.TempDir()})
		for i := range recs {
			p.Flow(recs[i])
		}
		res, err := p.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "b.db"))
		if err != nil {
			b.Fatal(err)
		}
		run := &model.Run{Kind: flow.RunKind}
		if err := st.StartRun(ctx, run); err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime(b)
		b.StartTimer()
		if err := flow.Save(ctx, st, run.ID, res); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - c0
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
