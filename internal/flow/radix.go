package flow

import (
	"cmp"
	"slices"
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
	var count [16][256]uint32
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
