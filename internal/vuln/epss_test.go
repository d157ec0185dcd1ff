package vuln

import (
	"context"
	"errors"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/feed"
)

func TestEPSSImportHistoryAndRanking(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	fp := model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"}
	before, err := d.MatchFingerprint(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	// Without EPSS, CVSS orders them: CVE-2023-38408 (9.8) before CVE-2024-6387 (8.1).
	if i, j := index(before, "CVE-2023-38408"), index(before, "CVE-2024-6387"); i < 0 || j < 0 || i > j {
		t.Fatalf("before EPSS: order %v, want CVE-2023-38408 before CVE-2024-6387", cves(before))
	}
	// The newer file first: importing an older day afterwards keeps the
	// newer score as the current one, and both days in the history.
	for _, f := range []string{"testdata/epss/epss_scores-2025-09-04.csv.gz", "testdata/epss/epss_scores-2025-09-03.csv.gz"} {
		res, err := d.ImportFile(ctx, f, ImportOptions{})
		if err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
		if res.Format != "epss" || res.EPSS == 0 || res.Inserted != 0 {
			t.Fatalf("import %s: %+v, want EPSS rows only", f, res)
		}
	}
	after, err := d.MatchFingerprint(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	i, j := index(after, "CVE-2023-38408"), index(after, "CVE-2024-6387")
	if i < 0 || j < 0 || j > i {
		t.Fatalf("after EPSS: order %v, want CVE-2024-6387 (EPSS 0.61) before CVE-2023-38408 (EPSS 0.05)", cves(after))
	}
	if m := after[j]; m.EPSS != 0.6101 || m.EPSSDate != "2025-09-04" {
		t.Errorf("CVE-2024-6387 EPSS %v on %q, want 0.6101 on 2025-09-04 (the newer file)", m.EPSS, m.EPSSDate)
	}
	for k := 1; k < len(after); k++ {
		if Rank(after[k], after[k-1]) {
			t.Errorf("matches not ranked KEV > EPSS > CVSS at %d: %+v before %+v", k, after[k-1], after[k])
		}
	}
	hist, err := d.EPSSHistory(ctx, "cve-2024-6387")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Date != "2025-09-03" || hist[0].Score != 0.6049 || hist[1].Score != 0.6101 {
		t.Errorf("history = %+v, want 2025-09-03 0.6049 then 2025-09-04 0.6101", hist)
	}
	files, err := d.EPSSFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Date != "2025-09-04" || files[0].Model != "v2025.03.14" || files[1].Records != 4 {
		t.Errorf("files = %+v", files)
	}
}

func TestRank(t *testing.T) {
	ms := []model.VulnMatch{
		{CVE: "A", CVSS: 10},
		{CVE: "B", CVSS: 5, EPSS: 0.2},
		{CVE: "C", CVSS: 4, KEV: true},
		{CVE: "D", CVSS: 9.8, EPSS: 0.1},
		{CVE: "E", CVSS: 2, EPSS: 0.9, KEV: true},
	}
	want := "E C B D A"
	sorted := append([]model.VulnMatch(nil), ms...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if Rank(sorted[j], sorted[i]) {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	if got := strings.Join(cves(sorted), " "); got != want {
		t.Errorf("ranked %s, want %s", got, want)
	}
}

func TestEPSSBadFiles(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"score above 1", "#model_version:v1,score_date:2025-01-01T00:00:00Z\ncve,epss,percentile\nCVE-2024-1,1.5,0.9\n"},
		{"not a number", "#model_version:v1,score_date:2025-01-01T00:00:00Z\ncve,epss,percentile\nCVE-2024-1,NaN,0.9\n"},
		{"no date", "#model_version:v1\ncve,epss,percentile\nCVE-2024-1,0.5,0.9\n"},
		{"bad id", "#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\nX'; DROP,0.5,0.9\n"},
		{"wrong header", "#model_version:v1,score_date:2025-01-01\ncve,score\nCVE-2024-1,0.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDB(t)
			_, err := d.Import(context.Background(), strings.NewReader(tt.in), ImportOptions{})
			if !errors.Is(err, feed.ErrEPSS) {
				t.Errorf("err = %v, want ErrEPSS", err)
			}
		})
	}
}

func index(ms []model.VulnMatch, id string) int {
	for i := range ms {
		if ms[i].CVE == id {
			return i
		}
	}
	return -1
}
