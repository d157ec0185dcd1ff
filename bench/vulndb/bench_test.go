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

const fixtureDir = "../../../shared/data/vuln/nvd"

func openBenchDB(b *testing.B) *vuln.DB {
	b.Helper()
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "iotwatch.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	d, err := vuln.Open(context.Background(), st)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func TestWriteFeed(t *testing.T) {
	fx, err := loadFixtures(fixtureDir)
	if err != nil {
		t.Skip(err)
	}
	var buf bytes.Buffer
	if _, err := writeFeed(&buf, fx, 500); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, _ := vuln.Open(context.Background(), st)
	res, err := d.Import(context.Background(), &buf, vuln.ImportOptions{})
	if err != nil || res.Inserted != 500 {
		t.Fatalf("import of generated feed: %+v %v", res, err)
	}
	ms, err := d.MatchFingerprint(context.Background(), model.Fingerprint{Vendor: "openbsd-s1", Product: "openssh-s1", Version: "9.2p1"})
	if err != nil || len(ms) == 0 {
		t.Errorf("synthetic product match: %v %v", ms, err)
	}
}

// BenchmarkImport measures import throughput in records/s.
func BenchmarkImport(b *testing.B) {
	fx, err := loadFixtures(fixtureDir)
	if err != nil {
		b.Skip(err)
	}
	for _, n := range []int{2000} {
		var feed bytes.Buffer
		if _, err := writeFeed(&feed, fx, n); err != nil {
			b.Fatal(err)
		}
		b.Run("records="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(feed.Len()))
			for b.Loop() {
				b.StopTimer()
				d := openBenchDB(b)
				b.StartTimer()
				if _, err := d.Import(context.Background(), bytes.NewReader(feed.Bytes()), vuln.ImportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkMatch measures the latency of one fingerprint match (warm caches).
func BenchmarkMatch(b *testing.B) {
	d := matchDB(b, 3000)
	for _, tc := range []struct {
		name string
		fp   model.Fingerprint
	}{
		{"product=openssh", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"}},
		{"product=hikvision", model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", Version: "V5.5.0", DeviceType: "camera"}},
		{"product=unknown", model.Fingerprint{Product: "nothing", Version: "1.0"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.MatchFingerprint(context.Background(), tc.fp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// matchDB is a database with n synthesised records.
func matchDB(b *testing.B, n int) *vuln.DB {
	b.Helper()
	fx, err := loadFixtures(fixtureDir)
	if err != nil {
		b.Skip(err)
	}
	var feed bytes.Buffer
	if _, err := writeFeed(&feed, fx, n); err != nil {
		b.Fatal(err)
	}
	d := openBenchDB(b)
	if _, err := d.Import(context.Background(), &feed, vuln.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	return d
}
