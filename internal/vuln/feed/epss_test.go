package feed

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestReadEPSS(t *testing.T) {
	f, err := os.Open("../testdata/epss/epss_scores-2025-09-03.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []EPSS
	info, err := Read(context.Background(), f, Handler{EPSS: func(e *EPSS) error { got = append(got, *e); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "epss" || info.Records != 4 || info.Catalog != "v2025.03.14 2025-09-03" {
		t.Errorf("info = %+v", info)
	}
	want := EPSS{CVE: "CVE-1999-0001", Score: 0.0142, Percentile: 0.7991, Date: "2025-09-03", Model: "v2025.03.14"}
	if len(got) != 4 || got[0] != want {
		t.Errorf("rows = %+v, want first %+v", got, want)
	}
	// Older files have no comment line: without a date they are refused.
	if _, err := Read(context.Background(), strings.NewReader("cve,epss,percentile\nCVE-1999-0001,0.1,0.2\n"), Handler{EPSS: func(*EPSS) error { return nil }}); err == nil {
		t.Error("EPSS file without score_date accepted")
	}
}

func FuzzReadEPSS(f *testing.F) {
	f.Add([]byte("#model_version:v2025.03.14,score_date:2025-09-03T12:55:00Z\ncve,epss,percentile\nCVE-1999-0001,0.0142,0.7991\n"))
	f.Add([]byte("#model_version:v2023.03.01,score_date:2024-03-25T00:00:00+0000\ncve,epss,percentile\nCVE-2024-6387,0.6,0.98\r\nCVE-2023-1,0,1\n\n"))
	f.Add([]byte("cve,epss,percentile\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Read(context.Background(), bytes.NewReader(data), Handler{
			Record: func(*Record) error { return nil },
			KEV:    func(*KEV) error { return nil },
			EPSS: func(e *EPSS) error {
				if !strings.HasPrefix(e.CVE, "CVE-") || !validID(e.CVE) || !(e.Score >= 0 && e.Score <= 1) || !(e.Percentile >= 0 && e.Percentile <= 1) || len(e.Date) != 10 {
					t.Fatalf("bad EPSS row handed on: %+v", e)
				}
				return nil
			},
		})
	})
}
