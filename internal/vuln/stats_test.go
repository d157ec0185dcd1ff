package vuln

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file; got:\n%s", name, got)
	}
}

func TestStatsGolden(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	for _, since := range []int{0, 2021} {
		s, err := d.Stats(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		golden(t, "stats-since-"+itoa(since)+".golden.json", append(b, '\n'))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestStatsArithmetic(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	// 2 CVEs in 2020 (1 IoT), 3 in 2021 (3 IoT), none in 2022, 1 in 2023.
	recs := []struct {
		id   string
		year int
		iot  bool
	}{
		{"CVE-2020-0001", 2020, true}, {"CVE-2020-0002", 2020, false},
		{"CVE-2021-0001", 2021, true}, {"CVE-2021-0002", 2021, true}, {"CVE-2021-0003", 2021, true},
		{"CVE-2023-0001", 2023, false},
		{"CVE-2023-0002", 2023, true}, // IoT by a keyword of its description: no maker
	}
	for _, r := range recs {
		rec := map[string]any{"id": r.id, "published": itoa(r.year)[0:4] + "-06-01T00:00:00.000", "lastModified": "2024-01-01T00:00:00.000",
			"vulnStatus": "Analyzed", "descriptions": []map[string]string{{"lang": "en", "value": "x"}}}
		switch {
		case r.id == "CVE-2023-0002":
			rec["descriptions"] = []map[string]string{{"lang": "en", "value": "A stack overflow in the web interface of a home router."}}
		case r.iot:
			rec["configurations"] = []map[string]any{{"nodes": []map[string]any{{"operator": "OR", "cpeMatch": []map[string]any{
				{"vulnerable": true, "criteria": "cpe:2.3:o:hikvision:cam_firmware:-:*:*:*:*:*:*:*"}}}}}}
		default:
			rec["configurations"] = []map[string]any{{"nodes": []map[string]any{{"operator": "OR", "cpeMatch": []map[string]any{
				{"vulnerable": true, "criteria": "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", "versionEndExcluding": "9.8"}}}}}}
		}
		b, _ := json.Marshal(rec)
		if _, err := d.Import(ctx, bytesReader(b), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := d.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 7 || s.IoT != 5 || s.IoTShare != 71.4 {
		t.Errorf("totals %d %d %.1f", s.Total, s.IoT, s.IoTShare)
	}
	if len(s.Years) != 4 {
		t.Fatalf("years = %+v, want 2020..2023 with the gap filled", s.Years)
	}
	y21 := s.Years[1]
	if *y21.Growth != 50 || *y21.IoTGrowth != 200 || y21.IoTShare != 100 {
		t.Errorf("2021 = %+v growth %v iot growth %v", y21, *y21.Growth, *y21.IoTGrowth)
	}
	if y22 := s.Years[2]; y22.CVEs != 0 || *y22.Growth != -100 {
		t.Errorf("2022 = %+v", y22)
	}
	if y23 := s.Years[3]; y23.Growth != nil || y23.IoT != 1 {
		t.Errorf("2023 growth after an empty year = %v, want none", *y23.Growth)
	}
	if len(s.TopVendors) != 2 || s.TopVendors[0] != (Count{"hikvision", 4}) {
		t.Errorf("top vendors = %+v", s.TopVendors)
	}
	// The maker ranking names makers and stacks only: the keyword CVE
	// counts in the IoT totals but is no maker.
	if len(s.TopIoT) != 1 || s.TopIoT[0] != (Count{"hikvision", 4}) {
		t.Errorf("top IoT makers = %+v, want hikvision 4 alone", s.TopIoT)
	}
}
