package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// BenchmarkSortHours compares sortHours (two goroutines) with sortHourly on
// the 300,000 hourly roll-ups of a million flows from 10,000 devices.
func BenchmarkSortHours(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]Hourly, 300_000)
	for i := range src {
		d := rng.IntN(10_000)
		src[i] = Hourly{HourKey: HourKey{Hour: 1795168800 + int64(rng.IntN(2))*3600, Device: netip.AddrFrom4([4]byte{10, 0, byte(d >> 8), byte(d)}),
			Attr: uint32(rng.IntN(60)), Outbound: true}, Flows: 1}
	}
	h := make([]Hourly, len(src))
	for _, bc := range []struct {
		name string
		sort func([]Hourly)
	}{{"sortHourly", func(h []Hourly) { sortHourly(h, nil) }}, {"sortHours", sortHours}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				copy(h, src)
				b.StartTimer()
				bc.sort(h)
			}
		})
	}
}
