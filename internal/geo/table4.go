package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/phuslu/iploc"
)

// The IPv4 country attributions, flattened into one table (table4) built
// from iploc's own range list: iploc.IPCountry is a binary search over 296k
// sorted range starts (19 steps, most of them cache misses when a flow
// ingest looks a million random peers up), and Lookup adds the address
// class tests and builds the Attribution. The table answers the same for
// every IPv4 address in one or two cache lines.
//
// iploc keeps its list unexported: ip4bin holds the range starts (uint32 in
// the machine's byte order, sorted) and ip4txt each range's country (2
// bytes). They are read in place (no copy); the table is checked against
// iploc.IPCountry when built, and Lookup keeps iploc's answer if the list
// does not have the expected shape (a new iploc version that changed it;
// one that renamed it leaves these empty). TestTable4 fails then.

//go:linkname iplocStarts github.com/phuslu/iploc.ip4bin
var iplocStarts []byte

//go:linkname iplocCodes github.com/phuslu/iploc.ip4txt
var iplocCodes []byte

// table4 maps an IPv4 address to the number of its attribution (attrs).
// l1, indexed by the address's top 16 bits, holds either uniform|number,
// when the whole /16 has one attribution, or the offset in ents of the
// /16's ranges: ents[off] is their count n, ents[off+1:off+1+n] the ranges,
// each the low 16 bits of its first address << 16 | its number, sorted (the
// first starts at 0).
type table4 struct {
	l1    [1 << 16]uint32
	ents  []uint32
	attrs []Attribution // by number; 0 is no country (not a public address)
}

const uniform = 1 << 31

// find returns the number of p's attribution.
func (t *table4) find(p uint32) uint32 {
	e := t.l1[p>>16]
	if e&uniform != 0 {
		return e &^ uniform
	}
	n := t.ents[e]
	r := t.ents[e+1 : e+1+n]
	key := p<<16 | 0xffff
	i, j := 1, len(r) // r[0] ≤ key
	for i < j {
		h := int(uint(i+j) >> 1)
		if r[h] > key {
			j = h
		} else {
			i = h + 1
		}
	}
	return r[i-1] & 0xffff
}

// size is the table's memory in bytes.
func (t *table4) size() int {
	return int(unsafe.Sizeof(t.l1)) + 4*cap(t.ents) + len(t.attrs)*int(unsafe.Sizeof(Attribution{}))
}

// classBounds are the IPv4 addresses where Lookup's address class tests
// (IsGlobalUnicast && !IsPrivate) may change: 0.0.0.0, 10/8, 127/8,
// 169.254/16, 172.16/12, 192.168/16, 224/4 and 255.255.255.255 are not
// attributed. The tests themselves decide each piece's class.
var classBounds = []uint32{
	0, 1,
	10 << 24, 11 << 24,
	127 << 24, 128 << 24,
	169<<24 | 254<<16, 169<<24 | 255<<16,
	172<<24 | 16<<16, 172<<24 | 32<<16,
	192<<24 | 168<<16, 192<<24 | 169<<16,
	224 << 24, 240 << 24,
	0xffffffff,
}

func public4(p uint32) bool {
	a := netip.AddrFrom4([4]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
	return a.IsGlobalUnicast() && !a.IsPrivate()
}

// buildTable4 builds the table from a country range list: range i starts
// at starts[i] (sorted, the first at 0) and is in the country
// codes[2i:2i+2].
func buildTable4(starts []uint32, codes []byte) (*table4, error) {
	if len(starts) == 0 || starts[0] != 0 || len(codes) != 2*len(starts) {
		return nil, fmt.Errorf("country ranges: %d starts, %d code bytes", len(starts), len(codes))
	}
	t := &table4{attrs: []Attribution{{CountryDB: CountryDB}}}
	tooMany := false
	num := new([1 << 16]uint16) // by the code's 2 bytes: number, 0 when not met yet
	code := func(i int) uint32 {
		c := uint16(codes[2*i])<<8 | uint16(codes[2*i+1])
		if num[c] == 0 {
			if len(t.attrs) > 0xffff {
				tooMany = true
				return 0
			}
			num[c] = uint16(len(t.attrs))
			t.attrs = append(t.attrs, Attribution{Country: string(codes[2*i : 2*i+2]), CountryDB: CountryDB})
		}
		return uint32(num[c])
	}
	// The pieces, where the country or the address class changes (adjacent
	// ones of one attribution merged), go in as they come: each /16 gets,
	// when one starts inside it, the number that covers its start (last) and
	// those that start in it.
	last := uint32(0)
	k, open := uint32(0), false // the /16 being filled, whether it has ranges
	t.ents = make([]uint32, 0, len(starts)+len(starts)/16)
	closeTo := func(hi uint32) { // the /16s before hi are done
		for ; k < hi; k++ {
			if open {
				h := t.l1[k]
				t.ents[h] = uint32(len(t.ents)) - h - 1
				open = false
			} else {
				t.l1[k] = uniform | last
			}
		}
	}
	ci, bi := 0, 0
	cur, pub := code(0), false
	for {
		var p uint32
		switch {
		case ci < len(starts) && (bi == len(classBounds) || starts[ci] <= classBounds[bi]):
			p = starts[ci]
		case bi < len(classBounds):
			p = classBounds[bi]
		default:
			return nil, errors.New("country ranges: no end") // unreachable
		}
		for ci < len(starts) && starts[ci] == p {
			cur = code(ci)
			ci++
		}
		for bi < len(classBounds) && classBounds[bi] == p {
			pub = public4(p) // the same until the next bound
			bi++
		}
		if ci < len(starts) && starts[ci] < p {
			return nil, fmt.Errorf("country ranges: start %d out of order", ci)
		}
		n := uint32(0)
		if pub {
			n = cur
		}
		if n != last {
			closeTo(p >> 16)
			if p&0xffff != 0 {
				if !open {
					t.l1[k] = uint32(len(t.ents))
					t.ents = append(t.ents, 0, last)
					open = true
				}
				t.ents = append(t.ents, p<<16|n)
			}
			last = n
		}
		if ci == len(starts) && bi == len(classBounds) {
			break
		}
	}
	if tooMany {
		return nil, fmt.Errorf("country ranges: more than %d countries", 0xffff)
	}
	closeTo(1 << 16)
	return t, nil
}

// iplocTable builds the table from iploc's list, checking it first.
func iplocTable() (*table4, error) {
	if len(iplocStarts) < 4 || len(iplocStarts)%4 != 0 {
		return nil, fmt.Errorf("iploc %s: IPv4 list of %d bytes", iploc.Version, len(iplocStarts))
	}
	starts := unsafe.Slice((*uint32)(unsafe.Pointer(&iplocStarts[0])), len(iplocStarts)/4)
	t, err := buildTable4(starts, iplocCodes)
	if err != nil {
		return nil, fmt.Errorf("iploc %s: %w", iploc.Version, err)
	}
	// iploc's own answers at a sample of range edges.
	step := max(1, len(starts)/256)
	for i := 0; i < len(starts); i += step {
		for _, p := range []uint32{starts[i], starts[i] - 1, starts[i] + 1} {
			if !public4(p) {
				continue
			}
			a := netip.AddrFrom4([4]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
			if got, want := t.attrs[t.find(p)].Country, iploc.IPCountry(a); got != want {
				return nil, fmt.Errorf("iploc %s: table says %s for %s, iploc %s", iploc.Version, got, a, want)
			}
		}
	}
	return t, nil
}

// buildAfter is how many IPv4 lookups go to iploc before the table is
// built: building it (about 3 ms) costs what it saves on some 40,000
// lookups (70 ns each), which a small input would not make up for. Waiting
// for about that many bounds the loss on any input to the build's cost.
const buildAfter = 1 << 15

var tab4 struct {
	t    atomic.Pointer[table4] // nil until built (or when it cannot be)
	slow atomic.Int64           // lookups made without it
	once sync.Once
	err  error // why it cannot be
}

// table returns the IPv4 table, or nil while IPv4 lookups should go to
// iploc (counting those lookups).
func table() *table4 {
	if t := tab4.t.Load(); t != nil {
		return t
	}
	if tab4.slow.Add(1) < buildAfter {
		return nil
	}
	return loadTable()
}

// BuildTable4 builds the IPv4 table now (Lookup builds it after buildAfter
// IPv4 lookups), for a caller that will look many addresses up from the
// start. It returns why there is no table, if so: Lookup then keeps asking
// iploc.
func BuildTable4() error {
	if loadTable() == nil {
		return tab4.err
	}
	return nil
}

// loadTable builds the table once and returns it (nil if it cannot be).
func loadTable() *table4 {
	tab4.once.Do(func() {
		t, err := iplocTable()
		tab4.err = err
		if err == nil {
			tab4.t.Store(t)
		}
	})
	return tab4.t.Load()
}
