//go:build unix

package flow

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/geo"
)

// BenchmarkPipeDevices measures Save's work before SQLite: making the
// flow_devices rows (ordering the hourly roll-ups, merging the spilled
// relations, packing) of what an ingest of bench/flows/pcapgen's capture
// holds at the end, as BenchmarkSave, with an insert that does nothing. It
// reports the process's CPU time and the time to the first row.
func BenchmarkPipeDevices(b *testing.B) {
	const n, devices = 1_000_000, 10_000
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var cpu, first time.Duration
	rows := 0
	for b.Loop() {
		b.StopTimer()
		p := NewPipeline(PipelineConfig{Attribute: at.Attribute, SpillDir: b.TempDir()})
		for i := range n {
			d := rng.IntN(devices)
			r := Record{Src: netip.AddrFrom4([4]byte{10, byte(d >> 16), byte(d >> 8), byte(d)})}
			q := 0x0b000000 + rng.Uint32N(0xc0000000)
			r.Dst = netip.AddrFrom4([4]byte{byte(q >> 24), byte(q >> 16), byte(q >> 8), byte(q)})
			r.Proto, r.TCPFlags, r.SrcPort, r.DstPort = ProtoTCP, 0x02, uint16(1024+rng.IntN(60000)), []uint16{443, 80, 8883, 123}[rng.IntN(4)]
			r.Start = t0.Add(time.Duration(i) * time.Hour / n).Truncate(time.Microsecond)
			r.End, r.Packets, r.Bytes = r.Start, 1, 40
			p.Flow(r)
		}
		res, err := p.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime(b)
		b.StartTimer()
		start := time.Now()
		got := 0
		if err := pipeDevices(ctx, res.Rollups, func(context.Context, *deviceRow) error {
			if got == 0 {
				first += time.Since(start)
			}
			got++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - c0
		if err := res.Rollups.Close(); err != nil {
			b.Fatal(err)
		}
		rows = got
		b.StartTimer()
	}
	if rows == 0 {
		b.Fatal("no rows")
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(first.Seconds()*1e3/float64(b.N), "first-row-ms/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
