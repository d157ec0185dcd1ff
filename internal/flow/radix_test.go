package flow

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortOrd compares the radix sort with a stable comparison sort on
// keys that share bytes (skipped passes), repeat (stability) and carry an
// index below skip that must not take part in the order.
func TestRadixSortOrd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tests := []struct {
		name string
		n    int
		skip uint
		hi   func() uint64
		lo   func() uint64 // bits from skip up
	}{
		{"empty", 0, 32, rng.Uint64, rng.Uint64},
		{"small", 100, 32, rng.Uint64, rng.Uint64},
		{"relations", 5000, 32, func() uint64 { return 0x0a000000<<32 | rng.Uint64N(64)<<32 | rng.Uint64N(1<<20) },
			func() uint64 { return uint64(rng.IntN(4))*16000<<9 | 6<<1 | rng.Uint64N(2) }},
		{"duplicates", 3000, 32, func() uint64 { return rng.Uint64N(4) << 40 }, func() uint64 { return rng.Uint64N(3) }},
		{"all equal", 1000, 32, func() uint64 { return 42 }, func() uint64 { return 7 }},
		{"hourly", 4000, 30, func() uint64 { return rng.Uint64N(300)<<32 | rng.Uint64N(3)*3600 }, func() uint64 { return rng.Uint64N(1 << 34) }},
		{"full width", 2000, 32, rng.Uint64, func() uint64 { return rng.Uint64N(1 << 32) }},
		// msdSort: many devices (small buckets, sorted by insertion), or
		// one device among many (its bucket by lsdSort), or few keys (lsdSort)
		{"many devices", 30000, 32, func() uint64 { return (0x0a000000+rng.Uint64N(10000))<<32 | rng.Uint64N(1<<32) },
			func() uint64 { return uint64(rng.IntN(4))*2000<<9 | 6<<1 | rng.Uint64N(2) }},
		{"one device among many", 20000, 32, func() uint64 {
			if rng.IntN(2) == 0 {
				return 0x0a000001<<32 | rng.Uint64N(300)
			}
			return (0x0a000000+rng.Uint64N(10000))<<32 | rng.Uint64N(300)
		}, func() uint64 { return rng.Uint64N(3) }},
		{"few keys", 20000, 32, func() uint64 { return 0x0a000000<<32 | rng.Uint64N(16) }, func() uint64 { return rng.Uint64N(1 << 20) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ord := make([]relOrd, tc.n)
			for i := range ord {
				ord[i] = relOrd{tc.hi(), tc.lo()<<tc.skip | uint64(i)&(1<<tc.skip-1)}
			}
			want := slices.Clone(ord)
			slices.SortStableFunc(want, func(a, b relOrd) int {
				if c := cmp.Compare(a.hi, b.hi); c != 0 {
					return c
				}
				return cmp.Compare(a.lo>>tc.skip, b.lo>>tc.skip)
			})
			radixSortOrd(ord, make([]relOrd, tc.n), tc.skip)
			if !slices.Equal(ord, want) {
				for i := range ord {
					if ord[i] != want[i] {
						t.Fatalf("position %d: %x, want %x", i, ord[i], want[i])
					}
				}
			}
		})
	}
}
