package flow

import (
	"cmp"
	"slices"
)

// radixSortOrd sorts packed keys by hi, then by lo's bits from skip up (the
// bits below skip hold an index and are not compared), keeping keys equal in
// those bits in their order. It is a least-significant-digit radix sort of
// 8-bit digits: one pass counts every digit, then each digit in which the
// keys differ moves them once (keys that share their device's or protocol's
// bytes skip those passes). tmp must be as long as ord.
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
	nlo := int(64-skip+7) / 8 // digits of lo, then 8 of hi
	var count [16][256]uint32
	for i := range ord {
		lo, hi := ord[i].lo>>skip, ord[i].hi
		for d := range nlo {
			count[d][byte(lo>>(8*d))]++
		}
		for d := range 8 {
			count[nlo+d][byte(hi>>(8*d))]++
		}
	}
	src, dst := ord, tmp[:n]
	first := ord[0]
	for d := range nlo + 8 {
		onLo := d < nlo
		shift := uint(8 * (d - nlo))
		v := first.hi
		if onLo {
			shift, v = skip+uint(8*d), first.lo
		}
		if count[d][byte(v>>shift)] == uint32(n) {
			continue // every key has this digit
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
