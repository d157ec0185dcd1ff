package geo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The maxminddb-golang module has no writer, so the test writes a tiny
// IPv4 ASN database itself, following the MaxMind DB format spec (24-bit
// records, data section, metadata map).

type mmdbEnc struct{ bytes.Buffer }

// ctrl writes a control byte (sizes below 285 only, enough here).
func (e *mmdbEnc) ctrl(typ, size int) {
	sz := min(size, 29)
	if typ <= 7 {
		e.WriteByte(byte(typ<<5 | sz))
	} else {
		e.WriteByte(byte(sz))
		e.WriteByte(byte(typ - 7))
	}
	if size >= 29 {
		e.WriteByte(byte(size - 29))
	}
}

func (e *mmdbEnc) str(s string) { e.ctrl(2, len(s)); e.WriteString(s) }

func (e *mmdbEnc) uint(typ int, v uint64) {
	var b []byte
	for v > 0 {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
	}
	e.ctrl(typ, len(b))
	e.Write(b)
}

func asnRecordBytes(e *mmdbEnc, asn uint32, org string) {
	e.ctrl(7, 2)
	e.str("autonomous_system_number")
	e.uint(6, uint64(asn))
	e.str("autonomous_system_organization")
	e.str(org)
}

type entry struct {
	p   netip.Prefix
	asn uint32
	org string
}

func writeMMDB(t *testing.T, entries []entry) []byte {
	t.Helper()
	const empty, leaf = -1, -2
	type node struct {
		child [2]int
		data  [2]int
	}
	nodes := []node{{child: [2]int{empty, empty}}}
	var data mmdbEnc
	for _, en := range entries {
		off := data.Len()
		asnRecordBytes(&data, en.asn, en.org)
		a := en.p.Addr().As4()
		bits := binary.BigEndian.Uint32(a[:])
		n := 0
		for i := 0; i < en.p.Bits(); i++ {
			bit := int(bits >> (31 - i) & 1)
			if i == en.p.Bits()-1 {
				nodes[n].child[bit], nodes[n].data[bit] = leaf, off
				break
			}
			if nodes[n].child[bit] < 0 {
				nodes = append(nodes, node{child: [2]int{empty, empty}})
				nodes[n].child[bit] = len(nodes) - 1
			}
			n = nodes[n].child[bit]
		}
	}
	count := len(nodes)
	var out bytes.Buffer
	for _, nd := range nodes {
		for i := range 2 {
			v := count // empty
			switch {
			case nd.child[i] == leaf:
				v = count + 16 + nd.data[i]
			case nd.child[i] >= 0:
				v = nd.child[i]
			}
			out.Write([]byte{byte(v >> 16), byte(v >> 8), byte(v)})
		}
	}
	out.Write(make([]byte, 16))
	out.Write(data.Bytes())
	out.WriteString("\xab\xcd\xefMaxMind.com")
	var md mmdbEnc
	md.ctrl(7, 9)
	md.str("description")
	md.ctrl(7, 1)
	md.str("en")
	md.str("iotwatch test ASN database")
	md.str("node_count")
	md.uint(6, uint64(count))
	md.str("record_size")
	md.uint(5, 24)
	md.str("ip_version")
	md.uint(5, 4)
	md.str("database_type")
	md.str("Test-ASN")
	md.str("languages")
	md.ctrl(11, 0)
	md.str("binary_format_major_version")
	md.uint(5, 2)
	md.str("binary_format_minor_version")
	md.uint(5, 0)
	md.str("build_epoch")
	md.uint(9, 1763596800) // 2025-11-20
	out.Write(md.Bytes())
	return out.Bytes()
}

func TestAttribute(t *testing.T) {
	db := writeMMDB(t, []entry{
		{netip.MustParsePrefix("8.8.8.0/24"), 15169, "GOOGLE"},
		{netip.MustParsePrefix("93.184.216.0/24"), 15133, "EDGECAST"},
	})
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	if err := os.WriteFile(path, db, 0o644); err != nil {
		t.Fatal(err)
	}
	at, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	if err := at.mmdb.Verify(); err != nil {
		t.Fatalf("test database does not verify: %v", err)
	}
	cases := []struct {
		ip      string
		country string
		asn     uint32
		owner   string
	}{
		{"8.8.8.8", "US", 15169, "GOOGLE"},
		{"93.184.216.34", "", 15133, "EDGECAST"}, // country checked non-empty below
		{"9.9.9.9", "", 0, ""},
		{"192.168.1.1", "", 0, ""}, // private: no attribution
	}
	for _, tc := range cases {
		a := at.Attribute(netip.MustParseAddr(tc.ip))
		if a.ASN != tc.asn || a.Owner != tc.owner || (tc.country != "" && a.Country != tc.country) {
			t.Errorf("Attribute(%s) = %+v, want country %q AS%d %q", tc.ip, a, tc.country, tc.asn, tc.owner)
		}
		if a.CountryDB != CountryDB {
			t.Errorf("Attribute(%s).CountryDB = %q", tc.ip, a.CountryDB)
		}
		public := tc.ip != "192.168.1.1"
		if public && (a.OwnerDB != "Test-ASN 2025-11-20 (build 1763596800)" || a.Country == "") {
			t.Errorf("Attribute(%s) = %+v, want owner db recorded and a country", tc.ip, a)
		}
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("missing database accepted")
	}
	if _, err := NewFromBytes([]byte("garbage")); err == nil {
		t.Error("garbage database accepted")
	}
}

// TestConcurrentUse looks addresses up from several goroutines at once, as
// an ingest does (its producer calls Lookup, its detectors Attribute): every
// answer is the one a single goroutine gets (run with -race to check the
// sharing too). Their lookups are more than buildAfter: one of them builds
// the IPv4 table while the others look up (when no earlier test built it).
func TestConcurrentUse(t *testing.T) {
	at, err := NewFromBytes(writeMMDB(t, []entry{{netip.MustParsePrefix("8.8.8.0/24"), 15169, "GOOGLE"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	const n = 768 // addresses in and out of the owner database
	addr := func(i int) netip.Addr { i %= n; return netip.AddrFrom4([4]byte{8, 8, byte(i % 3 * 4), byte(i)}) }
	want := make([]Attribution, n)
	for i := range want {
		want[i] = at.Lookup(addr(i))
	}
	if want[8].Owner != "GOOGLE" || want[8].Country != "US" {
		t.Fatalf("Lookup(%s) = %+v, want GOOGLE in US", addr(8), want[8])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				a := addr(i + g)
				got := at.Lookup(a)
				if g%2 == 1 {
					got = at.Attribute(a)
				}
				if got != want[(i+g)%n] {
					errs <- fmt.Sprintf("goroutine %d: %s attributed %+v, want %+v", g, a, got, want[(i+g)%n])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if tab4.t.Load() == nil {
		t.Errorf("no IPv4 table after %d lookups: %v", tab4.slow.Load(), tab4.err)
	}
}

func TestCountryOnly(t *testing.T) {
	at, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	a := at.Attribute(netip.MustParseAddr("8.8.8.8"))
	if a.Country != "US" || a.OwnerDB != "" || a.ASN != 0 {
		t.Errorf("Attribute = %+v, want US without owner", a)
	}
}

func BenchmarkAttribute(b *testing.B) {
	at, _ := New("")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at.Attribute(netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1}))
		i++
	}
}
