package flow

import (
	"cmp"
	"math/bits"
	"slices"
	"sync"
)

// radixSortOrd sorts packed keys by hi, then by lo's bits from skip up (the
// bits below skip hold an index and are not compared), keeping keys equal in
// those bits in their order. It is a least-significant-digit radix sort of
// 8-bit digits: one pass finds the digits in which the keys differ, one
// counts those, then each of them moves the keys once (keys that share
// their device's or protocol's bytes skip those passes). tmp must be as
// long as ord.
func radixSortOrd(ord, tmp []relOrd, skip uint) {
	n := len(ord)
	if n < 256 {
		slices.SortStableFunc(ord, func(a, b relOrd) int {
			if c := cmp.Compare(a.hi, b.hi); c != 0 {
				return c
			}
			return cmp.Compare(a.lo>>skip, b.lo>>skip)
		})
		return
	}
	if msdSort(ord, tmp, skip) {
		return
	}
	lsdSort(ord, tmp, skip)
}

// msdBits is how many of hi's leading bits in which keys differ msdSort
// distributes the keys by (4,096 buckets); msdSmall is the largest bucket
// it sorts by insertion.
const (
	msdBits  = 12
	msdSmall = 48
)

// msdSort sorts as radixSortOrd does when hi's leading bits in which the
// keys differ spread them over many buckets (a run of relations from many
// devices: a run's few relations per device): one pass distributes them by
// those bits, then each bucket is sorted on its own, by insertion when it
// is small, else by lsdSort. It reports false, having done nothing, when
// the keys crowd into few buckets (then the radix passes of lsdSort over
// all of them cost less).
func msdSort(ord, tmp []relOrd, skip uint) bool {
	orHi, andHi := uint64(0), ^uint64(0)
	for i := range ord {
		orHi, andHi = orHi|ord[i].hi, andHi&ord[i].hi
	}
	diff := orHi ^ andHi
	if diff == 0 {
		return false
	}
	top := 64 - bits.LeadingZeros64(diff) // bits from the highest that differs down
	width := min(msdBits, top)
	shift, mask := uint(top-width), uint64(1)<<width-1
	if len(ord)>>width > msdSmall/4 {
		return false // buckets of more than a few keys each
	}
	// On the heap, not the stack: a goroutine that sorts (the spill
	// writer's, one per eviction) keeps a small stack.
	pos := make([]uint32, 1<<width+1)
	for i := range ord {
		pos[ord[i].hi>>shift&mask+1]++
	}
	for b := 1; b < len(pos); b++ {
		pos[b] += pos[b-1]
	}
	for _, o := range ord { // bucket b starts at pos[b], and ends there after
		b := o.hi >> shift & mask
		tmp[pos[b]] = o
		pos[b]++
	}
	lo := 0
	for b := range 1 << width {
		hi := int(pos[b])
		switch {
		case hi-lo < 2:
		case hi-lo <= msdSmall:
			insertionSort(tmp[lo:hi], skip)
		default:
			lsdSort(tmp[lo:hi], ord[lo:hi], skip)
		}
		lo = hi
	}
	copy(ord, tmp)
	return true
}

// insertionSort sorts a few packed keys, stably.
func insertionSort(s []relOrd, skip uint) {
	for i := 1; i < len(s); i++ {
		o := s[i]
		j := i
		for ; j > 0 && (s[j-1].hi > o.hi || s[j-1].hi == o.hi && s[j-1].lo>>skip > o.lo>>skip); j-- {
			s[j] = s[j-1]
		}
		s[j] = o
	}
}

// counts holds lsdSort's digit counts: 16 KiB on the heap, not on the
// stack of the goroutines that sort (see msdSort).
var counts = sync.Pool{New: func() any { return new([16][256]uint32) }}

// lsdSort is radixSortOrd's least-significant-digit radix sort.
func lsdSort(ord, tmp []relOrd, skip uint) {
	n := len(ord)
	nlo := int(64-skip+7) / 8 // digits of lo, then 8 of hi
	// Only the digits in which some keys differ are counted and moved by.
	orLo, andLo, orHi, andHi := uint64(0), ^uint64(0), uint64(0), ^uint64(0)
	for i := range ord {
		orLo, andLo = orLo|ord[i].lo, andLo&ord[i].lo
		orHi, andHi = orHi|ord[i].hi, andHi&ord[i].hi
	}
	diffLo, diffHi := (orLo^andLo)>>skip, orHi^andHi
	var digits [16]uint8 // digit d: lo's (d < nlo) or hi's
	nd := 0
	for d := range nlo + 8 {
		var diff uint64
		if d < nlo {
			diff = diffLo >> (8 * d)
		} else {
			diff = diffHi >> (8 * (d - nlo))
		}
		if byte(diff) != 0 {
			digits[nd] = uint8(d)
			nd++
		}
	}
	count := counts.Get().(*[16][256]uint32)
	defer counts.Put(count)
	for _, d := range digits[:nd] {
		count[d] = [256]uint32{}
	}
	for i := range ord {
		lo, hi := ord[i].lo>>skip, ord[i].hi
		for _, d := range digits[:nd] {
			var v uint64
			if int(d) < nlo {
				v = lo >> (8 * d)
			} else {
				v = hi >> (8 * (int(d) - nlo))
			}
			count[d][byte(v)]++
		}
	}
	src, dst := ord, tmp[:n]
	for _, d8 := range digits[:nd] {
		d := int(d8)
		onLo := d < nlo
		var shift uint
		if onLo {
			shift = skip + uint(8*d)
		} else {
			shift = uint(8 * (d - nlo))
		}
		var pos [256]uint32
		var sum uint32
		for b, c := range count[d] {
			pos[b] = sum
			sum += c
		}
		if onLo {
			for _, o := range src {
				b := byte(o.lo >> shift)
				dst[pos[b]] = o
				pos[b]++
			}
		} else {
			for _, o := range src {
				b := byte(o.hi >> shift)
				dst[pos[b]] = o
				pos[b]++
			}
		}
		src, dst = dst, src
	}
	if &src[0] != &ord[0] {
		copy(ord, src)
	}
}
