package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

func TestWriteEPSS(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := vuln.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Import(context.Background(), bytes.NewReader(writeEPSS(1000, "2025-09-03")), vuln.ImportOptions{})
	if err != nil || res.EPSS != 1000 {
		t.Fatalf("import of generated EPSS file: %+v %v", res, err)
	}
}

// BenchmarkImportEPSS measures a full EPSS file import (about 300,000
// rows a day), into an empty database and over the previous day's scores.
func BenchmarkImportEPSS(b *testing.B) {
	for _, n := range []int{300000} {
		day1, day2 := writeEPSS(n, "2025-09-03"), writeEPSS(n, "2025-09-04")
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				d := openBenchDB(b)
				b.StartTimer()
				for _, f := range [][]byte{day1, day2} {
					if _, err := d.Import(context.Background(), bytes.NewReader(f), vuln.ImportOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(2*b.N), "s/file")
		})
	}
}

// BenchmarkMatchWithIntel is BenchmarkMatch with a full day of EPSS scores
// (300,000 rows) and the distribution advisories loaded, for a Debian
// banner (backport check) and an upstream version.
func BenchmarkMatchWithIntel(b *testing.B) {
	d := matchDB(b, 3000)
	ctx := context.Background()
	if _, err := d.Import(ctx, bytes.NewReader(writeEPSS(300000, "2025-09-03")), vuln.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	advisories, _ := filepath.Glob("../../internal/vuln/testdata/distro/*.json")
	for _, f := range advisories {
		if _, err := d.ImportFile(ctx, f, vuln.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		fp   model.Fingerprint
	}{
		{"product=openssh", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"}},
		{"product=openssh-debian", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1 Debian-2+deb12u10"}},
		{"product=hikvision", model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", Version: "V5.5.0", DeviceType: "camera"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.MatchFingerprint(ctx, tc.fp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestWriteAdvisories(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := vuln.Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fx := [][]byte{[]byte(`{"id":"CVE-2024-6387","x":"cpe:2.3:a:openbsd:openssh:9.2"}`), []byte(`{"id":"CVE-2017-14491"}`)}
	if _, err := writeAdvisories(&buf, fx, 300, 1000); err != nil {
		t.Fatal(err)
	}
	res, err := d.Import(context.Background(), &buf, vuln.ImportOptions{})
	if err != nil || res.Advisories != 300 {
		t.Fatalf("import of generated advisories: %+v %v", res, err)
	}
}
