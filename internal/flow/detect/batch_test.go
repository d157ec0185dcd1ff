package detect

import (
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

// probeStream returns n single-SYN flows as bench/flows/pcapgen writes them
// (devices private sources, random public hosts on four ports, n an hour),
// each of a new relation, with their orientations.
func probeStream(n, devices int, seed uint64) ([]flow.Record, []flow.Orientation) {
	rng := rand.New(rand.NewPCG(seed, 2))
	recs := make([]flow.Record, n)
	ors := make([]flow.Orientation, n)
	for i := range recs {
		d := rng.IntN(devices)
		dst := 0x0b000000 + rng.Uint32N(0xc0000000)
		ts := synth.Base.Add(time.Duration(i) * time.Hour / time.Duration(n))
		r := flow.Record{Start: ts, End: ts, Src: netip.AddrFrom4([4]byte{10, byte(d >> 16), byte(d >> 8), byte(d)}),
			Dst:     netip.AddrFrom4([4]byte{byte(dst >> 24), byte(dst >> 16), byte(dst >> 8), byte(dst)}),
			SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: []uint16{443, 80, 8883, 123}[rng.IntN(4)],
			Proto: flow.ProtoTCP, TCPFlags: 0x02, Packets: 1, Bytes: 40, SamplingRate: 1}
		recs[i] = r
		ors[i] = flow.Orientation{Device: r.Src, Peer: r.Dst, Outbound: true, Port: r.DstPort, Rel: uint32(i + 1)}
	}
	return recs, ors
}

// BenchmarkObserveBatch feeds 1,000,000 probes (probeStream, 10,000
// devices) in the pipeline's batches of 1,024, to Observe one by one and to
// ObserveBatch; an op is the whole stream.
func BenchmarkObserveBatch(b *testing.B) {
	recs, ors := probeStream(1_000_000, 10000, 1)
	const batch = 1024
	for _, name := range []string{"observe", "batch"} {
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				// Each engine's memory fresh from the system, as in an
				// ingest's process (not the last one's, reused).
				b.StopTimer()
				debug.FreeOSMemory()
				b.StartTimer()
				c0 := procCPU(b)
				e := New(DefaultRules(), nil)
				for lo := 0; lo < len(recs); lo += batch {
					rs, os := recs[lo:min(lo+batch, len(recs))], ors[lo:min(lo+batch, len(recs))]
					if name == "batch" {
						e.ObserveBatch(rs, os)
						continue
					}
					for i := range rs {
						e.Observe(&rs[i], os[i])
					}
				}
				cpu += procCPU(b) - c0
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// TestActorEntSize checks that an actor's entry is whole cache lines
// (ObserveBatch reads the lines of actorEntSize bytes ahead) and that its
// first line holds what every probe reads.
func TestActorEntSize(t *testing.T) {
	var ae actorEnt
	if got := unsafe.Sizeof(ae); got != actorEntSize || actorEntSize%64 != 0 {
		t.Errorf("actorEnt is %d bytes, want %d (whole cache lines)", got, actorEntSize)
	}
	if vt := unsafe.Offsetof(ae.vt); vt != 64 {
		t.Errorf("the inline pairs' targets start at %d, want 64 (the first line is the keys and states)", vt)
	}
}

// procCPU is the process's user and system time so far (the load of a
// shared machine stretches a benchmark's wall time, less its CPU time).
func procCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
