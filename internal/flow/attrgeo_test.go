package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"iotwatch/internal/geo"
)

// geoPeers are peers of every kind: random IPv4 (public and not), IPv4
// from a few /24s (repeated peers), IPv4-mapped IPv6 and IPv6.
func geoPeers(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(7, 8))
	ps := make([]netip.Addr, n)
	for i := range ps {
		var b [4]byte
		v := r.Uint32()
		b = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		switch i % 10 {
		case 1:
			b[0], b[1] = 10, 1 // private
		case 2:
			b[0], b[1], b[2] = []byte{8, 93, 1}[i%3], 8, 8 // repeated peers
		case 3:
			ps[i] = netip.AddrFrom16(netip.AddrFrom4(b).As16()) // IPv4-mapped
			continue
		case 4:
			var s [16]byte
			s[0], s[1], s[2], s[15] = 0x20, 0x01, byte(i), byte(v)
			ps[i] = netip.AddrFrom16(s)
			continue
		}
		ps[i] = netip.AddrFrom4(b)
	}
	return ps
}

// TestAttrIndexGeo: an index that numbers IPv4 peers with the attributor's
// table (geo) gives every peer the number, and keeps the attribution list,
// of one that looks each peer up (before the table is built too).
func TestAttrIndexGeo(t *testing.T) {
	at, err := geo.New("")
	if err != nil {
		t.Fatal(err)
	}
	ps := geoPeers(50_000)
	want := newAttrIndex(at.Lookup)
	got := newAttrIndex(at.Lookup)
	got.geo = at
	for i, p := range ps {
		if i == len(ps)/4 {
			if err := geo.BuildTable4(); err != nil {
				t.Fatal(err)
			}
		}
		if i+readAhead < len(ps) {
			if p4, ok := v4(ps[i+readAhead]); ok {
				got.prefetch(p4)
			}
		}
		if g, w := got.attr(p), want.attr(p); g != w {
			t.Fatalf("peer %d %s: number %d, want %d", i, p, g, w)
		}
	}
	if len(got.attrs) != len(want.attrs) || len(got.attrs) < 50 {
		t.Fatalf("%d attributions, want %d (and some 200 countries)", len(got.attrs), len(want.attrs))
	}
	for i := range got.attrs {
		if got.attrs[i] != want.attrs[i] {
			t.Fatalf("attribution %d: %+v, want %+v", i, got.attrs[i], want.attrs[i])
		}
	}
	if len(got.geoNum) == 0 {
		t.Error("the table numbered no peer")
	}
}

// BenchmarkAttrIndex numbers the attributions of a producer's batches of
// random public IPv4 peers (every one new), as Pipeline.lookUp does: with
// the attributor's table's numbers (geo), or its Lookup's attributions.
func BenchmarkAttrIndex(b *testing.B) {
	at, err := geo.New("")
	if err != nil {
		b.Fatal(err)
	}
	if err := geo.BuildTable4(); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	peers := make([]netip.Addr, 1<<20)
	p4s := make([]uint32, len(peers))
	for i := range peers {
		p4s[i] = r.Uint32()
		peers[i] = netip.AddrFrom4([4]byte{byte(p4s[i] >> 24), byte(p4s[i] >> 16), byte(p4s[i] >> 8), byte(p4s[i])})
	}
	for _, mode := range []string{"lookup", "geo"} {
		b.Run(mode, func(b *testing.B) {
			x := newAttrIndex(at.Lookup)
			if mode == "geo" {
				x.geo = at
			}
			i := 0
			for b.Loop() {
				if j := (i + readAhead) & (len(peers) - 1); j%1024 >= readAhead {
					x.prefetch(p4s[j])
				}
				x.attr(peers[i&(len(peers)-1)])
				i++
			}
		})
	}
}
