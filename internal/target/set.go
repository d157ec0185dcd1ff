package target

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// MaxAddresses bounds the size of one scan space (addresses × ports) so that
// a typo such as ::/0 is an error and not an endless scan.
const MaxAddresses = 1 << 40

// Range is an inclusive interval of addresses of one family.
type Range struct{ Lo, Hi netip.Addr }

// Size returns the number of addresses in r, saturating at math.MaxUint64.
func (r Range) Size() uint64 {
	d, ok := distance(r.Lo, r.Hi)
	if !ok || d == math.MaxUint64 {
		return math.MaxUint64
	}
	return d + 1
}

// Set is a set of addresses kept as sorted, disjoint, merged ranges, with
// explicit (address, port) pairs beside it (from zmap/masscan output) and the
// names of hosts given by name.
type Set struct {
	ranges []Range
	cum    []uint64 // cum[i] = number of addresses in ranges[:i+1]
	// Pairs are explicit endpoints, scanned on their own port only.
	Pairs []netip.AddrPort
	// Names maps addresses resolved from host names back to the name.
	Names map[netip.Addr]string
}

// Ranges returns the set's ranges in order.
func (s *Set) Ranges() []Range { return slices.Clone(s.ranges) }

// Len returns the number of addresses in the set (pairs not included).
func (s *Set) Len() uint64 {
	if len(s.cum) == 0 {
		return 0
	}
	return s.cum[len(s.cum)-1]
}

// At returns the i-th address of the set in ascending order.
func (s *Set) At(i uint64) netip.Addr {
	k := sort.Search(len(s.cum), func(j int) bool { return s.cum[j] > i })
	if k == len(s.cum) {
		return netip.Addr{}
	}
	base := uint64(0)
	if k > 0 {
		base = s.cum[k-1]
	}
	return addAddr(s.ranges[k].Lo, i-base)
}

// Contains reports whether a is in the set's ranges.
func (s *Set) Contains(a netip.Addr) bool {
	a = a.Unmap()
	k := sort.Search(len(s.ranges), func(j int) bool { return s.ranges[j].Hi.Compare(a) >= 0 })
	return k < len(s.ranges) && s.ranges[k].Lo.Compare(a) <= 0
}

// add inserts r without normalising; call normalize afterwards.
func (s *Set) add(r Range) { s.ranges = append(s.ranges, r) }

// normalize sorts and merges the ranges and recomputes the index.
func (s *Set) normalize() error {
	slices.SortFunc(s.ranges, func(a, b Range) int { return a.Lo.Compare(b.Lo) })
	out := s.ranges[:0]
	for _, r := range s.ranges {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Hi.Is4() == r.Lo.Is4() && (last.Hi.Compare(r.Lo) >= 0 || (last.Hi.Next().IsValid() && last.Hi.Next() == r.Lo)) {
				if r.Hi.Compare(last.Hi) > 0 {
					last.Hi = r.Hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	s.ranges = out
	s.cum = s.cum[:0]
	var total uint64
	for _, r := range s.ranges {
		sz := r.Size()
		if sz > MaxAddresses || total+sz > MaxAddresses {
			return fmt.Errorf("target space larger than %d addresses: %s-%s", uint64(MaxAddresses), r.Lo, r.Hi)
		}
		total += sz
		s.cum = append(s.cum, total)
	}
	return nil
}

// Exclude removes every address covered by the prefixes, and pairs in them.
func (s *Set) Exclude(pfx []netip.Prefix) {
	for _, p := range pfx {
		p = p.Masked()
		lo, hi := p.Addr(), lastAddr(p)
		var out []Range
		for _, r := range s.ranges {
			if r.Lo.Is4() != lo.Is4() || r.Hi.Compare(lo) < 0 || r.Lo.Compare(hi) > 0 {
				out = append(out, r)
				continue
			}
			if r.Lo.Compare(lo) < 0 {
				out = append(out, Range{r.Lo, lo.Prev()})
			}
			if r.Hi.Compare(hi) > 0 {
				out = append(out, Range{hi.Next(), r.Hi})
			}
		}
		s.ranges = out
	}
	s.Pairs = slices.DeleteFunc(s.Pairs, func(ap netip.AddrPort) bool { return inAny(ap.Addr(), pfx) })
	_ = s.normalize() // removing addresses cannot exceed the limit
}

// Intersect keeps only the addresses covered by the prefixes (an allowlist).
func (s *Set) Intersect(pfx []netip.Prefix) error {
	var keep []Range
	for _, p := range pfx {
		p = p.Masked()
		lo, hi := p.Addr(), lastAddr(p)
		for _, r := range s.ranges {
			if r.Lo.Is4() != lo.Is4() || r.Hi.Compare(lo) < 0 || r.Lo.Compare(hi) > 0 {
				continue
			}
			nr := r
			if lo.Compare(nr.Lo) > 0 {
				nr.Lo = lo
			}
			if hi.Compare(nr.Hi) < 0 {
				nr.Hi = hi
			}
			keep = append(keep, nr)
		}
	}
	s.ranges = keep
	s.Pairs = slices.DeleteFunc(s.Pairs, func(ap netip.AddrPort) bool { return !inAny(ap.Addr(), pfx) })
	return s.normalize()
}

func inAny(a netip.Addr, pfx []netip.Prefix) bool {
	for _, p := range pfx {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixList reads a block or allow list in zmap's format: one address
// or CIDR per line; "#" starts a comment; blank lines are ignored.
func ParsePrefixList(r io.Reader) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if f := strings.Fields(line); len(f) > 0 {
			line = f[0]
		}
		p, err := parsePrefix(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read prefix list: %w", err)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: IPv4-mapped", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// distance returns hi-lo when it fits in 64 bits.
func distance(lo, hi netip.Addr) (uint64, bool) {
	if lo.Is4() {
		l, h := lo.As4(), hi.As4()
		return uint64(be32(h[:])) - uint64(be32(l[:])), true
	}
	l, h := lo.As16(), hi.As16()
	lh, ll := be64(l[:8]), be64(l[8:])
	hh, hl := be64(h[:8]), be64(h[8:])
	if hh == lh {
		return hl - ll, true
	}
	if hh == lh+1 && hl < ll {
		return hl - ll, true // wraps correctly in uint64
	}
	return 0, false
}

// addAddr returns a+n within a's family (no overflow check: callers stay in range).
func addAddr(a netip.Addr, n uint64) netip.Addr {
	if a.Is4() {
		b := a.As4()
		v := be32(b[:]) + uint32(n)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := a.As16()
	hi, lo := be64(b[:8]), be64(b[8:])
	nlo := lo + n
	if nlo < lo {
		hi++
	}
	var o [16]byte
	put64(o[:8], hi)
	put64(o[8:], nlo)
	return netip.AddrFrom16(o)
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func be64(b []byte) uint64 {
	return uint64(be32(b[:4]))<<32 | uint64(be32(b[4:]))
}
func put64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// ErrEmpty reports a scan space with nothing in it.
var ErrEmpty = errors.New("no targets left to scan")
