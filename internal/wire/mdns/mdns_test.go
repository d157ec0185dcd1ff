package mdns

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// zone is a Chromecast-like responder written for the test (no capture).
var zone = Zone{Host: "Chromecast-Ultra-5a3f", Addr: netip.MustParseAddr("127.9.0.7"), Services: []Service{
	{Instance: "Chromecast-Ultra-5a3f0c.Living Room", Type: "_googlecast._tcp", Port: 8009,
		TXT: []string{"id=5a3f0c", "md=Chromecast Ultra", "fn=Living Room", "ve=05"}},
	{Instance: "Living Room", Type: "_googlezone._tcp", Port: 10001, TXT: []string{"id=5A3F"}},
}}

func ask(t *testing.T, id uint16, name string, qtype uint16) *Reply {
	t.Helper()
	q, err := Query(id, name, qtype)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Answer(q, zone)
	if err != nil || b == nil {
		t.Fatalf("answer %s: %v", name, err)
	}
	r, err := ParseReply(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != id || r.Question != strings.ToLower(mdns.Fqdn(name)) || r.Qtype != qtype {
		t.Fatalf("reply %d %q %d, want the query echoed", r.ID, r.Question, r.Qtype)
	}
	return r
}

func TestBrowse(t *testing.T) {
	var d Directory
	d.Add(ask(t, 1, ServicesName, TypePTR).Records)
	if got, want := d.Types(), []string{"_googlecast._tcp.local.", "_googlezone._tcp.local."}; !slices.Equal(got, want) {
		t.Fatalf("types %v, want %v", got, want)
	}
	d.Add(ask(t, 2, "_googlecast._tcp.local.", TypePTR).Records)
	insts := d.Instances("_googlecast._tcp.local.")
	if len(insts) != 1 {
		t.Fatalf("instances %v", insts)
	}
	if l := Label(insts[0], "_googlecast._tcp.local."); l != "Chromecast-Ultra-5a3f0c.Living Room" {
		t.Errorf("label %q (from %q)", l, insts[0])
	}
	// The PTR reply carried SRV, TXT and A as additional records.
	srv, ok, txt := d.Lookup(insts[0])
	if !ok || srv.Port != 8009 || srv.Host != "chromecast-ultra-5a3f.local." {
		t.Errorf("srv %+v %v", srv, ok)
	}
	if kv := KeyValues(txt); kv["md"] != "Chromecast Ultra" || kv["fn"] != "Living Room" {
		t.Errorf("txt %v", kv)
	}
	if a := d.Addr[srv.Host]; len(a) != 1 || a[0] != zone.Addr {
		t.Errorf("addresses %v", d.Addr)
	}
	// Asked one by one, SRV and TXT answer alone.
	if r := ask(t, 3, insts[0], TypeTXT); len(r.Records.TXT) != 1 || len(r.Records.SRV) != 0 {
		t.Errorf("TXT reply %+v", r.Records)
	}
	if r := ask(t, 4, "Chromecast-Ultra-5a3f.local.", TypeA); len(r.Records.Addr) != 1 {
		t.Errorf("A reply %+v", r.Records)
	}
	q, _ := Query(5, "_ipp._tcp.local.", TypePTR)
	if b, err := Answer(q, zone); b != nil || err != nil {
		t.Errorf("unknown type answered: %x %v", b, err)
	}
}

func TestQueryUnicast(t *testing.T) {
	b, err := Query(0x1234, "_services._dns-sd._udp.local", TypePTR)
	if err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if m.Response || m.RecursionDesired || len(m.Question) != 1 || m.Question[0].Qclass != mdns.ClassINET|1<<15 {
		t.Errorf("query %v", m)
	}
}

func TestParseReplyRejects(t *testing.T) {
	q, _ := Query(1, ServicesName, TypePTR)
	for name, b := range map[string][]byte{
		"query": q,
		"text":  []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"empty": nil,
		"huge":  make([]byte, MaxMessage+1),
	} {
		if _, err := ParseReply(b); !errors.Is(err, ErrNotReply) {
			t.Errorf("%s: %v, want ErrNotReply", name, err)
		}
	}
}

func TestDirectoryBounded(t *testing.T) {
	var d Directory
	for i := range MaxNames + 10 {
		d.addPTR(strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+".local.", "t")
		d.addTXT("i.local.", []string{strings.Repeat("k", i%200+1) + "=v"})
	}
	if len(d.PTR) > MaxNames || len(d.TXT["i.local."]) > MaxTargets {
		t.Errorf("kept %d names, %d TXT strings", len(d.PTR), len(d.TXT["i.local."]))
	}
}

func TestLabelAndKeyValues(t *testing.T) {
	for in, want := range map[string]string{
		`Living\ Room._airplay._tcp.local.`:         "Living Room",
		`HP\ LaserJet\ \(9A1B2C\)._ipp._tcp.local.`: "HP LaserJet (9A1B2C)",
		`a\.b\226\128\153s._airplay._tcp.local.`:    "a.b\u2019s",
		`other`:                                     "other",
	} {
		if got := Label(in, "_"+strings.SplitN(in, "._", 2)[len(strings.SplitN(in, "._", 2))-1]); got != want && in != "other" {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
	kv := KeyValues([]string{"MD=Eve Energy", "md=other", "flag", "=x", "ty=HP LaserJet Pro M404dn"})
	if kv["md"] != "Eve Energy" || kv["ty"] != "HP LaserJet Pro M404dn" || len(kv) != 3 {
		t.Errorf("KeyValues = %v", kv)
	}
}

func FuzzParseReply(f *testing.F) {
	for i, name := range []string{ServicesName, "_googlecast._tcp.local.", "Chromecast-Ultra-5a3f.local."} {
		qt := []uint16{TypePTR, TypePTR, TypeA}[i]
		q, _ := Query(uint16(i), name, qt)
		b, _ := Answer(q, zone)
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		var d Directory
		d.Add(r.Records)
		if len(d.PTR) > MaxNames || len(d.SRV) > MaxNames || len(d.TXT) > MaxNames || len(d.Addr) > MaxNames {
			t.Fatalf("unbounded directory")
		}
		for _, typ := range d.Types() {
			for _, inst := range d.Instances(typ) {
				_ = Label(inst, typ)
				_, _, txt := d.Lookup(inst)
				_ = KeyValues(txt)
			}
		}
	})
}
