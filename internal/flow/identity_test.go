package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestLocal checks Local against the ranges it stands for, at each range's
// ends and beside them, on random IPv4 addresses, and on IPv6 ones (IPv4
// addresses mapped into IPv6 count as their IPv4 address for the private,
// loopback and link-local ranges, not for CGNAT).
func TestLocal(t *testing.T) {
	var ranges []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"} {
		ranges = append(ranges, netip.MustParsePrefix(s))
	}
	want := func(a netip.Addr) bool {
		for _, p := range ranges {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var addrs []netip.Addr
	for _, p := range ranges {
		first := p.Addr()
		b := first.As4()
		v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | (1<<(32-p.Bits()) - 1)
		last := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		addrs = append(addrs, first, first.Prev(), last, last.Next())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if rng.IntN(4) == 0 {
			b[0] = []byte{10, 172, 192, 127, 169, 100}[rng.IntN(6)]
		}
		addrs = append(addrs, netip.AddrFrom4(b))
	}
	n := 0
	for _, a := range addrs {
		if got := Local(a); got != want(a) {
			t.Fatalf("Local(%s) = %v, want %v", a, got, !got)
		}
		if Local(a) {
			n++
		}
		m := netip.AddrFrom16(a.As16())
		if got, w := Local(m), a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast(); got != w {
			t.Fatalf("Local(%s) = %v, want %v", m, got, w)
		}
	}
	if n < len(addrs)/10 {
		t.Fatalf("%d local addresses of %d", n, len(addrs))
	}
	for _, s := range []string{"fd00::1", "fe80::1", "::1", "2001:db8::1", "::"} {
		a := netip.MustParseAddr(s)
		if got, w := Local(a), a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast(); got != w {
			t.Errorf("Local(%s) = %v, want %v", s, got, w)
		}
	}
}

// TestOrientNoInventory compares Orient without an inventory (the networks
// alone decide) with Orient given an inventory that names none of the
// records' addresses, and with Orient of a nil identity, on random records
// between local and outside addresses, both families.
func TestOrientNoInventory(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() netip.Addr {
		switch rng.IntN(5) {
		case 0:
			return netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(4))})
		case 1:
			return netip.AddrFrom4([4]byte{100, byte(60 + rng.IntN(10)), 0, 1})
		case 2:
			return netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(4))})
		case 3:
			return netip.AddrFrom16([16]byte{0xfd, 15: byte(rng.IntN(3))})
		}
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(3))})
	}
	nets := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/30"), netip.MustParsePrefix("2001:db8::/126")}
	for _, tc := range []struct {
		name string
		set  func(*Identity)
	}{
		{"default networks", func(*Identity) {}},
		{"networks given", func(id *Identity) { id.SetNetworks(nets) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bare, named := &Identity{}, NewIdentity(nil)
			named.names[netip.MustParseAddr("192.0.2.200")] = "elsewhere"
			tc.set(bare)
			tc.set(named)
			kinds := map[[4]bool]int{}
			for i := range 20000 {
				r := Record{Src: pick(), Dst: pick(), SrcPort: []uint16{0, 53, 443, 50000}[rng.IntN(4)], DstPort: []uint16{0, 80, 8883, 40000}[rng.IntN(4)], Proto: 6}
				got, want := bare.Orient(&r), named.Orient(&r)
				if got != want {
					t.Fatalf("record %d %+v: Orient = %+v, with an inventory %+v", i, r, got, want)
				}
				if tc.name == "default networks" {
					var none *Identity
					if n := none.Orient(&r); n != got {
						t.Fatalf("record %d %+v: Orient = %+v, of nil %+v", i, r, got, n)
					}
				}
				kinds[[4]bool{got.Outbound, got.Internal, got.Transit, got.Device == r.Src}]++
			}
			if len(kinds) < 4 {
				t.Fatalf("only %d kinds of orientation: %v", len(kinds), kinds)
			}
		})
	}
}

// BenchmarkOrient orients a batch of 1,024 records from local IPv4
// devices to outside peers without an inventory (the pcap producer's case).
func BenchmarkOrient(b *testing.B) {
	id := &Identity{}
	recs := make([]Record, 1024)
	for i := range recs {
		recs[i] = Record{Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.AddrFrom4([4]byte{11 + byte(i%100), 1, 2, 3}), SrcPort: 40000, DstPort: 443}
	}
	ors := make([]Orientation, 0, len(recs))
	for b.Loop() {
		ors = ors[:0]
		for i := range recs {
			ors = append(ors, id.Orient(&recs[i]))
		}
	}
}
