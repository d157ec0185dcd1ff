package dns

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply packs a reply to a CHAOS TXT question with the given answers.
func reply(t testing.TB, id uint16, name string, rcode int, answers ...mdns.RR) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.Id, m.Response, m.Rcode = id, true, rcode
	m.Question = []mdns.Question{{Name: name, Qtype: mdns.TypeTXT, Qclass: mdns.ClassCHAOS}}
	m.Answer = answers
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func txt(name string, s ...string) mdns.RR {
	return &mdns.TXT{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeTXT, Class: mdns.ClassCHAOS}, Txt: s}
}

func TestParseReply(t *testing.T) {
	q, err := Query(7, VersionBind)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []byte
		rcode   string
		txt     []string
		wantErr bool
	}{
		{name: "dnsmasq version.bind", in: readFile(t, "dnsmasq-2.90-version.bind.bin"), rcode: "NOERROR", txt: []string{"dnsmasq-2.90"}},
		{name: "dnsmasq version.server", in: readFile(t, "dnsmasq-2.90-version.server.bin"), rcode: "NOTIMP"},
		{name: "class IN question", in: readFile(t, "dnsmasq-2.90-version.bind-class-IN.bin"), wantErr: true},
		{name: "split strings", in: reply(t, 7, "VERSION.BIND.", mdns.RcodeSuccess, txt("version.bind.", "unbound ", "1.17.1")),
			rcode: "NOERROR", txt: []string{"unbound 1.17.1"}},
		{name: "other names ignored", in: reply(t, 7, "version.bind.", mdns.RcodeSuccess, txt("hostname.bind.", "router"), txt("version.bind.", "9.18.24")),
			rcode: "NOERROR", txt: []string{"9.18.24"}},
		{name: "refused", in: reply(t, 7, "version.bind.", mdns.RcodeRefused), rcode: "REFUSED"},
		{name: "truncated", in: readFile(t, "dnsmasq-2.90-version.bind.bin")[:40], wantErr: true},
		{name: "garbage", in: []byte("SSH-2.0-OpenSSH_9.2p1\r\n"), wantErr: true},
		{name: "empty", in: nil, wantErr: true},
		{name: "a query", in: q, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseReply(tt.in)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrNotReply) {
					t.Fatalf("ParseReply = %+v, %v; want ErrNotReply", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tt.rcode || !slices.Equal(r.TXT, tt.txt) || r.Name != VersionBind && r.Name != VersionServer {
				t.Errorf("ParseReply = %+v, want rcode %s txt %q", r, tt.rcode, tt.txt)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	b, err := Query(0x6977, "version.bind")
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes dnsmasq's reply echoes in its question section.
	want := []byte("iw\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03")
	if !bytes.Equal(b, want) {
		t.Errorf("Query = %q, want %q", b, want)
	}
}

// TestAnswer checks the server side against the client side.
func TestAnswer(t *testing.T) {
	texts := map[string]string{VersionBind: "dnsmasq-2.78"}
	for _, tt := range []struct {
		name, rcode string
		txt         []string
	}{{VersionBind, "NOERROR", []string{"dnsmasq-2.78"}}, {VersionServer, "REFUSED", nil}} {
		q, _ := Query(42, tt.name)
		b, err := Answer(q, texts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReply(b)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != 42 || r.Name != tt.name || r.Rcode != tt.rcode || !slices.Equal(r.TXT, tt.txt) {
			t.Errorf("%s: %+v, want %s %q", tt.name, r, tt.rcode, tt.txt)
		}
	}
	if _, err := Answer(readFile(t, "dnsmasq-2.90-version.bind.bin"), texts); err == nil {
		t.Error("Answer to a reply: want error")
	}
}

func TestFrame(t *testing.T) {
	msg := readFile(t, "dnsmasq-2.90-version.bind.bin")
	got, err := ReadFrame(bytes.NewReader(Frame(msg)))
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("ReadFrame(Frame(m)) = %q, %v", got, err)
	}
	for _, bad := range [][]byte{{0}, {0, 5, 1, 2, 3, 4, 5}, {0, 40, 1, 2}} {
		if _, err := ReadFrame(bytes.NewReader(bad)); err == nil {
			t.Errorf("ReadFrame(%q): want error", bad)
		}
	}
}

// FuzzParseReply feeds replies from the network: no panic, and an accepted
// reply says what it answered.
func FuzzParseReply(f *testing.F) {
	for _, name := range []string{"dnsmasq-2.90-version.bind.bin", "dnsmasq-2.90-version.server.bin",
		"dnsmasq-2.90-hostname.bind.bin", "dnsmasq-2.90-version.bind-class-IN.bin"} {
		f.Add(readFile(f, name))
	}
	f.Add(reply(f, 1, "version.bind.", 0, txt("version.bind.", "9.18.24-1-Debian"), txt("version.bind.", "x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			if !errors.Is(err, ErrNotReply) {
				t.Fatalf("error %v does not wrap ErrNotReply", err)
			}
			return
		}
		if r.Name == "" || r.Rcode == "" {
			t.Fatalf("accepted reply without question or rcode: %+v", r)
		}
		if len(b) < 12 {
			t.Fatalf("accepted %d bytes, shorter than a header", len(b))
		}
	})
}

// FuzzAnswer feeds queries from the network to the server side: no panic,
// and every answer is a reply the client side accepts or rejects cleanly.
func FuzzAnswer(f *testing.F) {
	for _, name := range []string{VersionBind, VersionServer, HostnameBind} {
		q, err := Query(1, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(q)
	}
	f.Add(readFile(f, "dnsmasq-2.90-version.bind.bin"))
	texts := map[string]string{VersionBind: "dnsmasq-2.78"}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := Answer(b, texts)
		if err != nil {
			return
		}
		r, err := ParseReply(resp)
		if err == nil && r.Rcode == "NOERROR" && (r.Name != VersionBind || !slices.Equal(r.TXT, []string{"dnsmasq-2.78"})) {
			t.Fatalf("answered %+v", r)
		}
		if err != nil && !errors.Is(err, ErrNotReply) {
			t.Fatal(err)
		}
	})
}
