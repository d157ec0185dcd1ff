package flow

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// randHourly returns n distinct roll-up keys over ndev devices and a few
// hours and attributions, in random order, some differing only in Known.
func randHourly(rng *rand.Rand, n, ndev int, dev func(i int) netip.Addr, hour func(i int) int64) []Hourly {
	seen := map[Hourly]bool{}
	var out []Hourly
	for len(out) < n {
		h := Hourly{HourKey: HourKey{Device: dev(rng.IntN(ndev)), Hour: hour(rng.IntN(24)), Attr: uint32(rng.IntN(40)), Outbound: rng.IntN(2) == 0},
			Known: rng.IntN(4) == 0}
		if seen[h] {
			continue
		}
		seen[h] = true
		h.Flows, h.Packets, h.Bytes = uint64(len(out)), rng.Uint64(), rng.Uint64()
		out = append(out, h)
	}
	return out
}

// TestSortHourly checks that sortHourly gives compareHourly's order, entry
// for entry, on the packed path (IPv4 devices) and on the fallbacks, and
// that orderHourly gives it without moving the entries.
func TestSortHourly(t *testing.T) {
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(i * 7)}) }
	mixed := func(i int) netip.Addr {
		if i%5 == 0 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 15: byte(i)})
		}
		if i%7 == 0 {
			return netip.AddrFrom16(v4(i).As16()) // IPv4-mapped: sorts as IPv6
		}
		return v4(i)
	}
	hourly := func(i int) int64 { return 1795168800 + int64(i)*3600 }
	tests := []struct {
		name string
		n    int
		dev  func(int) netip.Addr
		hour func(int) int64
	}{
		{"empty", 0, v4, hourly},
		{"one", 1, v4, hourly},
		{"ipv4", 5000, v4, hourly},
		{"negative hours", 3000, v4, func(i int) int64 { return -int64(i) * 3600 }},
		{"mixed families", 3000, mixed, hourly},
		{"hours beyond 32 bits", 3000, v4, func(i int) int64 {
			if i == 0 {
				return math.MinInt64
			}
			return math.MaxInt64 - int64(i)
		}},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var ord []relOrd
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := randHourly(rng, tc.n, 50, tc.dev, tc.hour)
			want := slices.Clone(h)
			slices.SortFunc(want, compareHourly)
			// orderHourly's keys, when it gives them, index the
			// entries in order and hold their devices.
			if o := orderHourly(slices.Clone(h), nil); len(o) > 0 {
				for i := range o {
					e := h[o[i].lo&hourIndex]
					if e != want[i] || addr4(uint32(o[i].hi>>32)) != e.Device {
						t.Fatalf("ordered entry %d is %+v (device key %x), want %+v", i, e, o[i].hi>>32, want[i])
					}
				}
			}
			ord = sortHourly(h, ord)
			if len(h) != tc.n {
				t.Fatalf("%d entries after sorting, want %d", len(h), tc.n)
			}
			for i := range h {
				if h[i] != want[i] {
					t.Fatalf("entry %d is %+v, want %+v", i, h[i], want[i])
				}
			}
		})
	}
}

// BenchmarkSortHourly sorts the hourly roll-ups of 10,000 devices.
func BenchmarkSortHourly(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	src := randHourly(rng, 200_000, 10_000, func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) },
		func(i int) int64 { return 1795168800 + int64(i)*3600 })
	h := make([]Hourly, len(src))
	var ord []relOrd
	b.ReportAllocs()
	for b.Loop() {
		copy(h, src)
		ord = sortHourly(h, ord)
	}
}
