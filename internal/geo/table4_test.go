package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/phuslu/iploc"
)

func addr4(p uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
}

// edgePoints are the IPv4 addresses where a table is most likely wrong:
// each side of every country range edge, /16 edge and address class edge,
// and random ones.
func edgePoints(starts []uint32, random int) []uint32 {
	var ps []uint32
	near := func(p uint32) { ps = append(ps, p-1, p, p+1) }
	for _, s := range starts {
		near(s)
	}
	for hi := range uint32(1 << 16) {
		near(hi << 16)
	}
	for _, b := range classBounds {
		near(b)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range random {
		ps = append(ps, r.Uint32())
	}
	return ps
}

// TestTable4 checks that Lookup with the IPv4 table (and Index4) answers
// what iploc's own search and the address class tests answer (lookup), at
// every edge and at random addresses, as IPv4 and as IPv4-mapped IPv6.
func TestTable4(t *testing.T) {
	tab := loadTable()
	if tab == nil {
		t.Fatalf("no IPv4 table: %v", tab4.err)
	}
	t.Logf("IPv4 table: %d range entries, %d attributions, %d bytes", len(tab.ents), len(tab.attrs), tab.size())
	at, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	owned, err := NewFromBytes(writeMMDB(t, []entry{
		{netip.MustParsePrefix("8.8.8.0/24"), 15169, "GOOGLE"},
		{netip.MustParsePrefix("10.1.0.0/16"), 64512, "PRIVATE"}, // never attributed
		{netip.MustParsePrefix("1.0.0.0/8"), 13335, "ONE"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer owned.Close()
	if _, ok := owned.Index4(0x08080808); ok {
		t.Error("Index4 answered for an attributor with an owner database")
	}
	starts := unsafe.Slice((*uint32)(unsafe.Pointer(&iplocStarts[0])), len(iplocStarts)/4)
	ps := edgePoints(starts, 200_000)
	seen := map[uint32]Attribution{}
	for k, p := range ps {
		a := addr4(p)
		want := at.lookup(a)
		if got := at.Lookup(a); got != want {
			t.Fatalf("Lookup(%s) = %+v, iploc says %+v", a, got, want)
		}
		if got := at.Lookup(netip.AddrFrom16(a.As16())); got != want {
			t.Fatalf("Lookup(%s) = %+v, iploc says %+v", netip.AddrFrom16(a.As16()), got, want)
		}
		n, ok := at.Index4(p)
		if !ok {
			t.Fatal("Index4 did not answer with the table built")
		}
		if got := at.Attribution4(n); got != want {
			t.Fatalf("Attribution4(Index4(%s)) = %+v, iploc says %+v", a, got, want)
		}
		if prev, ok := seen[n]; ok && prev != want {
			t.Fatalf("number %d is both %+v and %+v", n, prev, want)
		}
		seen[n] = want
		if k%16 == 0 {
			if got, want := owned.Lookup(a), owned.lookup(a); got != want {
				t.Fatalf("owner database: Lookup(%s) = %+v, iploc says %+v", a, got, want)
			}
		}
	}
	uniq := map[Attribution]bool{}
	for _, a := range tab.attrs {
		if uniq[a] {
			t.Errorf("attribution %+v numbered twice", a)
		}
		uniq[a] = true
	}
	if len(seen) != len(tab.attrs) {
		t.Errorf("%d of %d attributions met", len(seen), len(tab.attrs))
	}
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "10.1.2.3", "127.0.0.1", "169.254.1.1", "172.31.255.255", "192.168.0.1", "224.0.0.251", "239.255.255.255"} {
		if got := at.Lookup(netip.MustParseAddr(s)); got.Country != "" {
			t.Errorf("Lookup(%s) = %+v, want no country", s, got)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "240.0.0.1", "255.255.255.254", "172.32.0.1"} {
		a := netip.MustParseAddr(s)
		if got := at.Lookup(a); got.Country != iploc.IPCountry(a) || got.Country == "" {
			t.Errorf("Lookup(%s) = %+v, want iploc's %s", s, got, iploc.IPCountry(a))
		}
	}
	for _, s := range []string{"::1", "2001:4860:4860::8888", "fc00::1", "fe80::1", "2a00:1450:4001:80b::200e", "::"} {
		a := netip.MustParseAddr(s)
		if got, want := at.Lookup(a), at.lookup(a); got != want {
			t.Errorf("Lookup(%s) = %+v, iploc says %+v", s, got, want)
		}
	}
	if got := at.Lookup(netip.Addr{}); got != (Attribution{CountryDB: CountryDB}) {
		t.Errorf("Lookup(invalid) = %+v", got)
	}
}

// TestBuildTable4 builds tables from made-up range lists (ranges at the
// /16 and class edges, many in one /16, one at the last address) and
// compares each with a binary search of its list.
func TestBuildTable4(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	many := []uint32{0}
	for p := uint32(0x01020000); p < 0x01030000; p += 1 + r.Uint32N(40) {
		many = append(many, p)
	}
	cases := []struct {
		name   string
		starts []uint32
	}{
		{"one range", []uint32{0}},
		{"class edges", append([]uint32{0}, classBounds[1:]...)},
		{"/16 edges", []uint32{0, 0x01020000, 0x0102ffff, 0x01030000, 0x01030001, 0xfffeffff, 0xffff0000}},
		{"many in a /16", many},
		{"last address", []uint32{0, 0x7fffffff, 0xfffffffe, 0xffffffff}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codes := make([]byte, 0, 2*len(tc.starts))
			for i := range tc.starts {
				c := i % 5 // repeated and adjacent-equal codes
				if i%7 == 3 {
					c = (i - 1) % 5
				}
				codes = append(codes, 'A'+byte(c), 'Z')
			}
			tab, err := buildTable4(tc.starts, codes)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range edgePoints(tc.starts, 20_000) {
				i := 0
				for j := len(tc.starts); i < j; {
					h := (i + j) / 2
					if tc.starts[h] > p {
						j = h
					} else {
						i = h + 1
					}
				}
				want := ""
				if public4(p) {
					want = string(codes[2*i-2 : 2*i])
				}
				if got := tab.attrs[tab.find(p)]; got.Country != want || got.CountryDB != CountryDB {
					t.Fatalf("find(%s) = %+v, want %q", addr4(p), got, want)
				}
			}
		})
	}
	for _, bad := range []struct {
		starts []uint32
		codes  string
	}{
		{nil, ""},
		{[]uint32{1}, "US"},
		{[]uint32{0, 5}, "US"},
		{[]uint32{0, 9, 5}, "USDEFR"},
	} {
		if _, err := buildTable4(bad.starts, []byte(bad.codes)); err == nil {
			t.Errorf("buildTable4(%v, %q) accepted", bad.starts, bad.codes)
		}
	}
}

func BenchmarkLookup4(b *testing.B) {
	at, _ := New("")
	ps := make([]netip.Addr, 1<<16)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range ps {
		ps[i] = addr4(r.Uint32())
	}
	loadTable()
	b.Run("table", func(b *testing.B) {
		i := 0
		for b.Loop() {
			at.Lookup(ps[i&(len(ps)-1)])
			i++
		}
	})
	b.Run("iploc", func(b *testing.B) {
		i := 0
		for b.Loop() {
			at.lookup(ps[i&(len(ps)-1)])
			i++
		}
	})
	b.Run("index", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b := ps[i&(len(ps)-1)].As4()
			at.Index4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
			i++
		}
	})
}

func BenchmarkLoadTable4(b *testing.B) {
	for b.Loop() {
		if _, err := iplocTable(); err != nil {
			b.Fatal(err)
		}
	}
}
