package affiliation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustLoad(t testing.TB, name string) *List {
	t.Helper()
	l, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoad(t *testing.T) {
	fcc := mustLoad(t, "fcc-covered.csv")
	if got, want := len(fcc.Entries), 8; got != want {
		t.Fatalf("entries = %d, want %d", got, want)
	}
	hik := fcc.Entries[3]
	if hik.Source != "fcc-covered" || hik.Date != "2021-03-12" || len(hik.Aliases) != 2 || hik.Country != "CN" {
		t.Errorf("entry = %+v", hik)
	}
	cert := mustLoad(t, "cert-list.json")
	if cert.Name != "CERT watch list" || cert.Entries[0].Date != "2026-01-15" || cert.Entries[1].Date != "2025-06-01" {
		t.Errorf("json list = %+v", cert)
	}
}

func TestLoadScreeningListShape(t *testing.T) {
	// Column layout of the US Consolidated Screening List CSV; the row is made up.
	l := mustLoad(t, "csl-shape.csv")
	e := l.Entries[0]
	if e.Name != "Example Vision Technology Co. Ltd." || e.Source != "Entity List (EL) - Bureau of Industry and Security" ||
		e.Date != "2020-06-05" || len(e.Aliases) != 2 || e.Aliases[1] != "EV Tech" {
		t.Errorf("entry = %+v", e)
	}
	if hits := Screen([]Subject{{Name: "EV Tech Ltd"}}, []*List{l}, Options{}); len(hits) != 1 {
		t.Errorf("alias hits = %d, want 1", len(hits))
	}
}

func TestParseCSLJSON(t *testing.T) {
	l, err := ParseJSON([]byte(`{"total":1,"results":[{"name":"Example Vision Technology Co. Ltd.","alt_names":["EV Tech"],
		"source":"Entity List (EL) - Bureau of Industry and Security","start_date":"2020-06-05","programs":["EAR"]}]}`), "csl")
	if err != nil {
		t.Fatal(err)
	}
	e := l.Entries[0]
	if e.Source != "Entity List (EL) - Bureau of Industry and Security" || e.Date != "2020-06-05" || e.Aliases[0] != "EV Tech" || e.Note != "EAR" {
		t.Errorf("entry = %+v", e)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src string }{
		{"no name column", "company_id,country\n1,CN\n"},
		{"empty", ""},
		{"header only", "name,country\n"},
		{"bad json", `{"entities": [`},
		{"json no entities", `{"name": "x"}`},
		{"json wrong type", `{"entities": "Huawei"}`},
		{"not utf8", "name\n\xff\xfe\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if len(tt.src) > 0 && (tt.src[0] == '{' || tt.src[0] == '[') {
				_, err = ParseJSON([]byte(tt.src), "x")
			} else {
				_, err = ParseCSV([]byte(tt.src), "x")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestScreen(t *testing.T) {
	lists := []*List{mustLoad(t, "fcc-covered.csv"), mustLoad(t, "cert-list.json")}
	tests := []struct {
		name      string
		subject   Subject
		wantEntry string // "" for no hit
		wantKind  string
	}{
		{"full legal name vs alias", Subject{Role: RoleManufacturer, Name: "Hangzhou Hikvision Digital Technology Co., Ltd."}, "Hangzhou Hikvision Digital Technology Company", MatchExact},
		{"distinctive words only", Subject{Role: RoleManufacturer, Name: "Hikvision Digital Technology (Shenzhen)"}, "Hangzhou Hikvision Digital Technology Company", MatchNormalized},
		{"short name", Subject{Role: RoleManufacturer, Name: "Hikvision"}, "Hangzhou Hikvision Digital Technology Company", MatchExact},
		{"case and punctuation", Subject{Role: RoleParent, Name: "ZTE Corp."}, "ZTE Corporation", MatchExact},
		{"subsidiary containment", Subject{Role: RoleRecipient, Name: "China Telecom (Americas) Corporation Ltd"}, "China Telecom (Americas) Corp", MatchExact},
		{"generic-only list name contained", Subject{Role: RoleRecipient, Name: "China Mobile International USA Inc. Cloud"}, "China Mobile International USA Inc.", MatchContains},
		{"typo", Subject{Role: RoleSupplier, Name: "Hikvison Digital"}, "Hangzhou Hikvision Digital Technology Company", MatchFuzzy},
		{"accent folding", Subject{Role: RoleSupplier, Name: "Dahuá Technology"}, "Dahua Technology Company", MatchExact},
		{"alias from json list", Subject{Role: RoleManufacturer, Name: "ExampleCam Ltd"}, "Shenzhen Example Surveillance Electronics Co., Ltd.", MatchExact},
		{"subject alias", Subject{Role: RoleSupplier, Name: "Quectel", Aliases: []string{"Quectel Wireless Solutions Co., Ltd."}}, "Quectel Wireless Solutions", MatchExact},
		{"unrelated", Subject{Role: RoleManufacturer, Name: "Example Cameras Ltd."}, "", ""},
		{"shares only generic words", Subject{Role: RoleManufacturer, Name: "Hangzhou Digital Technology Co."}, "", ""},
		{"shares one distinctive word only", Subject{Role: RoleRecipient, Name: "Mobile Data Inc"}, "", ""},
		{"short words are not fuzzed", Subject{Role: RoleManufacturer, Name: "ZTF"}, "", ""},
		{"empty name", Subject{Role: RoleManufacturer, Name: " ,. "}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := Screen([]Subject{tt.subject}, lists, Options{})
			if tt.wantEntry == "" {
				if len(hits) > 0 {
					t.Fatalf("got hits %+v, want none", hits)
				}
				return
			}
			if len(hits) == 0 {
				t.Fatalf("got no hit, want %q", tt.wantEntry)
			}
			h := hits[0]
			if h.Entry.Name != tt.wantEntry || h.Kind != tt.wantKind {
				t.Errorf("got %q (%s %.2f), want %q (%s)", h.Entry.Name, h.Kind, h.Score, tt.wantEntry, tt.wantKind)
			}
			f := h.Finding("IPC-2000")
			if f.Kind != "entity-list-match" || f.Subject != "IPC-2000" || f.Evidence[0].Detail == "" {
				t.Errorf("finding = %+v", f)
			}
		})
	}
}

func TestJaroWinkler(t *testing.T) {
	tests := []struct {
		a, b string
		lo   float64
		hi   float64
	}{
		{"martha", "marhta", 0.96, 0.962},
		{"hikvision", "hikvision", 1, 1},
		{"abc", "xyz", 0, 0},
		{"dixon", "dicksonx", 0.81, 0.82},
	}
	for _, tt := range tests {
		if got := jaroWinkler(tt.a, tt.b); got < tt.lo || got > tt.hi {
			t.Errorf("jaroWinkler(%q,%q) = %.4f, want in [%v,%v]", tt.a, tt.b, got, tt.lo, tt.hi)
		}
	}
}

func BenchmarkScreen(b *testing.B) {
	l := mustLoad(b, "fcc-covered.csv")
	subjects := []Subject{{Name: "Hangzhou Hikvision Digital Technology Co., Ltd."}, {Name: "Example Cameras Ltd."}, {Name: "Amazon Web Services"}}
	b.ReportAllocs()
	for b.Loop() {
		Screen(subjects, []*List{l}, Options{})
	}
}

func FuzzParseList(f *testing.F) {
	for _, n := range []string{"fcc-covered.csv", "cert-list.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name\taliases\nA\tB|C\n"))
	f.Add([]byte(`[{"name":"x"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte, string) (*List, error){ParseCSV, ParseJSON} {
			l, err := parse(b, "fuzz")
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("error %v does not wrap ErrFormat", err)
				}
				continue
			}
			if len(l.Entries) == 0 {
				t.Fatal("list without entries accepted")
			}
			Screen([]Subject{{Name: "Hikvision"}, {Name: string(b)}}, []*List{l}, Options{})
		}
	})
}

func TestScreenLegalNameAgainstShortListing(t *testing.T) {
	l, err := ParseCSV([]byte("name,date\nHikvision,2022-11-25\n"), "FCC Covered List")
	if err != nil {
		t.Fatal(err)
	}
	hits := Screen([]Subject{{Role: RoleManufacturer, Name: "Hangzhou Hikvision Digital Technology Co., Ltd."}}, []*List{l}, Options{})
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want 1", len(hits))
	}
	if h := hits[0]; h.Kind != MatchNormalized || h.Entry.Source != "FCC Covered List" || h.Entry.Date != "2022-11-25" {
		t.Errorf("hit = %+v", h)
	}
}

func TestSBOMSuppliers(t *testing.T) {
	b, err := os.ReadFile("testdata/firmware.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := SBOMSuppliers(b, "firmware.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subs {
		names = append(names, s.Name)
		if s.Role != RoleSupplier {
			t.Errorf("role %q", s.Role)
		}
	}
	want := []string{"Example Cameras Ltd.", "busybox", "Hangzhou Hikvision Digital Technology Co., Ltd.", "Hikvision", "OpenSSL Software Foundation"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("suppliers = %q, want %q", names, want)
	}
	hits := Screen(subs, []*List{mustLoad(t, "fcc-covered.csv")}, Options{})
	if len(hits) != 2 || hits[0].Entry.Name != "Hangzhou Hikvision Digital Technology Company" {
		t.Errorf("hits = %+v, want the two Hikvision names", hits)
	}
	for _, bad := range []string{`{"bomFormat":"SPDX"}`, `{"components": 5}`, `<bom><components><component>`, ``} {
		if _, err := SBOMSuppliers([]byte(bad), "bad"); !errors.Is(err, ErrFormat) {
			t.Errorf("SBOMSuppliers(%q) err = %v, want ErrFormat", bad, err)
		}
	}
}

func FuzzSBOMSuppliers(f *testing.F) {
	b, err := os.ReadFile("testdata/firmware.cdx.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component type="library"><supplier><name>X</name></supplier><name>a</name></component></components></bom>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		subs, err := SBOMSuppliers(b, "fuzz")
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}
		for _, s := range subs {
			if strings.TrimSpace(s.Name) == "" {
				t.Fatal("empty supplier name")
			}
		}
	})
}

// BenchmarkScreenLargeList screens 100 distinct names against a 3,000-entry
// list (the size of the Commerce Entity List).
func BenchmarkScreenLargeList(b *testing.B) {
	l := &List{Name: "synthetic"}
	for i := range 3000 {
		l.Entries = append(l.Entries, Entry{Name: fmt.Sprintf("Shenzhen Company%04d Electronics Co., Ltd.", i), Aliases: []string{fmt.Sprintf("Brand%04d", i)}})
	}
	var subjects []Subject
	for i := range 100 {
		subjects = append(subjects, Subject{Name: fmt.Sprintf("Maker%03d Technology Inc.", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		NewScreener([]*List{l}, Options{}).Screen(subjects)
	}
}
