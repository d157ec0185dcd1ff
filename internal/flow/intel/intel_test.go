package intel

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestLoadFormats(t *testing.T) {
	cases := []struct {
		file  string
		n     int
		addrs []string
		names []string
	}{
		{"testdata/bad.txt", 4, []string{"203.0.113.66", "198.51.100.7"}, []string{"cnc.evil.example", "x.cnc.evil.example", "hxxp-style.defanged.example"}},
		{"testdata/bad.csv", 3, []string{"192.0.2.99", "2001:db8::bad"}, []string{"dl.bad.example"}},
		{"testdata/bundle.stix.json", 5, []string{"203.0.113.77", "192.0.2.10", "192.0.2.11"}, []string{"botnet.example", "loader.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			s := &Set{}
			n, err := s.Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.n {
				t.Errorf("loaded %d indicators, want %d", n, tc.n)
			}
			for _, a := range tc.addrs {
				if _, ok := s.MatchAddr(netip.MustParseAddr(a)); !ok {
					t.Errorf("address %s not matched", a)
				}
			}
			for _, nm := range tc.names {
				if _, ok := s.MatchName(nm); !ok {
					t.Errorf("name %s not matched", nm)
				}
			}
			if _, ok := s.MatchAddr(netip.MustParseAddr("8.8.8.8")); ok {
				t.Error("8.8.8.8 matched")
			}
			if _, ok := s.MatchName("example"); ok {
				t.Error("bare TLD matched")
			}
		})
	}
	s := &Set{}
	s.Load("testdata/bundle.stix.json")
	if ind, _ := s.MatchAddr(netip.MustParseAddr("203.0.113.77")); ind.Label != "Mirai C2" || !strings.HasPrefix(ind.Source, "indicator--") {
		t.Errorf("STIX indicator provenance = %+v", ind)
	}
}

func TestBadInput(t *testing.T) {
	s := &Set{}
	for _, in := range []string{`{"type":"bundle","objects":[{"type":"malware","id":"x"}]}`, `{"type":`, `[1,2`} {
		if _, err := s.Read(strings.NewReader(in), FormatAuto, "x"); err == nil {
			t.Errorf("Read(%q) accepted", in)
		}
	}
	if _, err := s.Load("testdata/missing"); err == nil {
		t.Error("missing file accepted")
	}
	// A file with garbage in it is refused, naming the file and the line.
	for file, want := range map[string]string{
		"testdata/garbage.txt": "indicators testdata/garbage.txt: line 1: ",
		"testdata/garbage.csv": "indicators testdata/garbage.csv: line 4: \"not an address\"",
	} {
		_, err := (&Set{}).Load(file)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrFormat) {
			t.Errorf("Load(%s) = %v, want an error starting %q", file, err, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, p := range []string{"testdata/bad.txt", "testdata/bad.csv", "testdata/bundle.stix.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &Set{}
		n, _ := s.Read(strings.NewReader(string(data)), FormatAuto, "fuzz")
		if n > s.Len()+1<<20 || n < 0 {
			t.Fatalf("n=%d len=%d", n, s.Len())
		}
	})
}
