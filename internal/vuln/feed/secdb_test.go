package feed

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The constructed secdb file (testdata/README.md): one record per package
// with CVEs, every version key a range, CVEs found inside longer strings,
// other advisory ids and packages without fixes left out.
func TestReadSecdb(t *testing.T) {
	f, err := os.Open("testdata/alpine-secdb-v3.20-main.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, _, info, err := collect(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "alpine-secdb" || len(recs) != 3 {
		t.Fatalf("format %q, %d records, want alpine-secdb and 3 (openssh, busybox, gtk+3.0)", info.Format, len(recs))
	}
	byID := map[string]*Record{}
	for _, r := range recs {
		if !r.DistroOnly || r.Source != "alpine-secdb" {
			t.Errorf("%s: %+v, want a distribution-only secdb record", r.ID, r)
		}
		byID[r.ID] = r
	}
	ssh := byID["ALPINE-SECDB:v3.20:main:openssh"]
	if ssh == nil {
		t.Fatalf("no openssh record in %v", keys(byID))
	}
	want := map[string][]string{
		"9.7_p1-r4": {"CVE-2024-6387"},
		"9.6_p1-r0": {"CVE-2023-48795", "CVE-2023-51384", "CVE-2023-51385"},
		"0":         {"CVE-2023-38408"},
	}
	if len(ssh.Distro) != len(want) {
		t.Fatalf("openssh ranges %+v", ssh.Distro)
	}
	for _, d := range ssh.Distro {
		if d.Distro != "alpine" || d.Release != "3.20" || d.Package != "openssh" || d.Advisory != ssh.ID || d.Introduced != "" {
			t.Errorf("range %+v", d)
		}
		if !slices.Equal(d.CVEs, want[d.Fixed]) {
			t.Errorf("fixed in %s: %v, want %v", d.Fixed, d.CVEs, want[d.Fixed])
		}
	}
	bb := byID["ALPINE-SECDB:v3.20:main:busybox"]
	if bb == nil || len(bb.Distro) != 1 || bb.Distro[0].Fixed != "1.36.1-r29" {
		t.Errorf("busybox: %+v, want only the CVE range (XSA-000 is no CVE)", bb)
	}
	if g := byID["ALPINE-SECDB:v3.20:main:gtk_3.0"]; g == nil || g.Distro[0].Package != "gtk+3.0" {
		t.Errorf("gtk+3.0: %+v, want its record with the package name kept", g)
	}
}

// A real secdb file, when the shared fixtures have one (see
// internal/vuln/testdata/distro/README.md): every package parses, and
// OpenSSH's fix of CVE-2024-6387 is the revision the constructed fixture
// and testdata/distro/ALPINE-CVE-2024-6387.json assume.
func TestReadSecdbShared(t *testing.T) {
	p := filepath.Join(sharedVuln, "alpine-secdb", "v3.20-main.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("%s not present", p)
	}
	recs, _, info, err := collect(t, bytes.NewReader(data))
	if err != nil || info.Format != "alpine-secdb" || len(recs) < 100 {
		t.Fatalf("%s: %d records, format %q, %v", p, len(recs), info.Format, err)
	}
	for _, r := range recs {
		if r.ID != "ALPINE-SECDB:v3.20:main:openssh" {
			continue
		}
		for _, d := range r.Distro {
			if slices.Contains(d.CVEs, "CVE-2024-6387") {
				if d.Fixed != "9.7_p1-r4" {
					t.Errorf("secdb fixes CVE-2024-6387 in openssh %s; the fixtures say 9.7_p1-r4", d.Fixed)
				}
				return
			}
		}
	}
	t.Error("no openssh fix of CVE-2024-6387 in the secdb file")
}

func keys(m map[string]*Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func FuzzReadSecdb(f *testing.F) {
	if b, err := os.ReadFile("testdata/alpine-secdb-v3.20-main.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"distroversion":"v3.19","packages":[{"pkg":{"name":"x","secfixes":{"1-r0":["CVE-2020-1234 CVE-2020-12345"]}}}]}`))
	f.Add([]byte(`{"packages":null,"distroversion":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		old := MaxRecordBytes
		MaxRecordBytes = 1 << 20
		defer func() { MaxRecordBytes = old }()
		Read(context.Background(), bytes.NewReader(data), Handler{
			Record: func(r *Record) error {
				if !validID(r.ID) {
					t.Fatalf("invalid id handed on: %q", r.ID)
				}
				if r.Source != "alpine-secdb" {
					return nil
				}
				if !r.DistroOnly || len(r.Distro) == 0 {
					t.Fatalf("secdb record without ranges: %+v", r)
				}
				for _, d := range r.Distro {
					if d.Fixed == "" || d.Package == "" || d.Release == "" || len(d.CVEs) == 0 {
						t.Fatalf("incomplete secdb range: %+v", d)
					}
					for _, c := range d.CVEs {
						if !strings.HasPrefix(c, "CVE-") || !validID(c) {
							t.Fatalf("bad CVE id %q", c)
						}
					}
				}
				return nil
			},
			KEV:  func(*KEV) error { return nil },
			EPSS: func(*EPSS) error { return nil },
		})
	})
}
