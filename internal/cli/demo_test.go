package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/demo"
)

func runDemoCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), append([]string{"--log-level", "warn"}, args...), &out, &errOut)
	return out.String(), err
}

func TestDemoCommand(t *testing.T) {
	dir := t.TempDir()
	out, err := runDemoCmd(t, "--db", filepath.Join(dir, "iw.db"), "--json", "demo",
		"--devices", "40", "--seed", "3", "--prefix", "127.34.0.0/16", "--out", dir)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	var sum struct {
		Devices         int     `json:"devices"`
		TruthDevices    int     `json:"truth_devices"`
		WeakShare       float64 `json:"weak_password_share"`
		TruthWeakShare  float64 `json:"truth_weak_password_share"`
		DevicesWithWeak int     `json:"devices_with_weak_credentials"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	if sum.Devices != 40 || sum.TruthDevices != 40 || sum.DevicesWithWeak == 0 || sum.WeakShare != sum.TruthWeakShare {
		t.Errorf("summary = %+v, want 40 devices and the truth's weak share", sum)
	}
	// Every file the help names is there (it named a telemetry.pcap the
	// demo never wrote: it writes a capture a day).
	named := regexp.MustCompile(`[a-z0-9-]+\.(html|json|pcap)`).FindAllString(newDemoCmd(&globals{}).Long, -1)
	if len(named) < 5 {
		t.Fatalf("demo --help names %v: want its output files", named)
	}
	for _, f := range append(named, "report.html", "report.json", "truth.json", "firmware") {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
}

func TestDemoBadInput(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"demo", "--prefix", "10.0.0.0/8"}, "loopback prefix", 2},
		{[]string{"demo", "--prefix", "127.33.0.0/30", "--devices", "9"}, "--devices 9", 2},
		{[]string{"demo", "--weak", "0.9", "--empty", "0.2"}, "must not exceed 1", 2},
		{[]string{"demo", "--devices", "x"}, "invalid argument", 2},
		{[]string{"demo", "--days", "0"}, "--days 0", 2},
		{[]string{"--db", filepath.Join(notDir, "iw.db"), "demo", "--devices", "2", "--prefix", "127.33.0.0/24"}, "iw.db", 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if args[0] != "--db" {
				args = append([]string{"--db", filepath.Join(dir, "ok.db")}, args...)
			}
			_, err := runDemoCmd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit code = %d, want %d", got, tt.code)
			}
		})
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDemoSummaryGolden prints the summary of a four-day demo (the numbers
// of make demo's) and compares it with testdata/demo-summary.golden: every
// measured number beside its ground truth, devices under control per day
// and patch uptake included. -update rewrites the file.
func TestDemoSummaryGolden(t *testing.T) {
	half, truthHalf := 2.0, 2.0
	s := &demo.Summary{
		RunID: 4, Duration: 21*time.Second + 400*time.Millisecond, Days: 4,
		Stages:  []string{"rescans", "simulate", "scan", "firmware", "audit", "vulns", "flows", "assess", "report"},
		Devices: 500, TruthDevices: 500, Services: 1617, Fingerprinted: 1397,
		DevicesWithWeak: 200, WeakShare: 0.4, TruthWeakShare: 0.4,
		VulnMatches: 154, DevicesWithVulns: 92, KEVMatches: 57, KEVDevices: 49,
		TelemetryRecords: 155120, DevicesCompromised: 25, TruthCompromised: 25, CompromisedFound: 25,
		CompromisedPerDay: []int{6, 12, 18, 25}, TruthCompromisedPerDay: []int{6, 12, 18, 25},
		FallInSample: 25, FallWeak: 25, TruthFallWeak: 25,
		FirmwareImages: 24, FirmwareFindings: 23, FirmwareAccounts: 20, TruthFirmwareAccounts: 20, FirmwareKeys: 2, TruthFirmwareKeys: 2,
		FirmwareCredentials: 151, FirmwareOnlyCredentials: 20, TruthFirmwareOnly: 20,
		Contradicted: 31, ContradictedWeak: 13, TruthContradictedWeak: 13, ContradictedRescans: 8,
		UptakeProduct: "D-Link DIR-645", UptakeFirmware: "1.05B01", UptakeUnits: 31,
		UpdatedPerDay: []int{0, 9, 19, 23}, TruthUpdatedPerDay: []int{0, 9, 19, 23}, NeverUpdated: 8, TruthNeverUpdated: 8,
		UptakeCVE: "CVE-2015-2051", HalfFixedDays: &half, TruthHalfFixedDays: &truthHalf,
		SharedKeyDevices: 66, TruthSharedKeyDevices: 66, SharedCertDevices: 31, TruthSharedCertDevices: 31,
		ReportHTML: "demo-out/report.html", ReportJSON: "demo-out/report.json", TruthFile: "demo-out/truth.json",
	}
	// One of each: every noun in the singular ("1 days" was printed).
	one, oneDay := *s, 1.0
	one.Days, one.Devices, one.TruthDevices, one.DevicesWithWeak, one.VulnMatches, one.DevicesWithVulns = 1, 1, 1, 1, 1, 1
	one.KEVMatches, one.KEVDevices, one.TelemetryRecords, one.DevicesCompromised, one.TruthCompromised = 1, 1, 1, 1, 1
	one.CompromisedFound, one.CompromisedPerDay, one.TruthCompromisedPerDay = 1, []int{1}, []int{1}
	one.FirmwareImages, one.FirmwareFindings, one.FirmwareAccounts, one.TruthFirmwareAccounts, one.FirmwareKeys, one.TruthFirmwareKeys = 1, 1, 1, 1, 1, 1
	one.FirmwareCredentials, one.Contradicted, one.UptakeUnits, one.SharedKeyDevices = 1, 1, 1, 1
	one.UpdatedPerDay, one.TruthUpdatedPerDay, one.HalfFixedDays, one.TruthHalfFixedDays = []int{1}, []int{1}, &oneDay, nil
	for name, s := range map[string]*demo.Summary{"demo-summary.golden": s, "demo-summary-one.golden": &one} {
		var out bytes.Buffer
		printDemoSummary(&globals{out: &out}, s)
		path := filepath.Join("testdata", name)
		if *updateGolden {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("summary differs from %s (go test -run DemoSummaryGolden -update rewrites it):\n got:\n%s\nwant:\n%s", path, out.String(), want)
		}
	}
}
