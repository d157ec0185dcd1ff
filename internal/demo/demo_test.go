package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"

	"github.com/google/go-cmp/cmp"
)

// TestDemoMatchesTruth runs the whole pipeline on a small fleet over four
// simulated days and checks that the report's headline numbers, its patch
// uptake and its devices under control per day equal the simulator's
// ground truth, on SQLite and on PostgreSQL.
func TestDemoMatchesTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	for name, newDB := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) { demoMatchesTruth(t, newDB()) })
	}
}

func demoMatchesTruth(t *testing.T, db string) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := Run(ctx, st, Options{
		Devices: 120, Seed: 7, Prefix: netip.MustParsePrefix("127.31.0.0/16"), Days: 4,
		Weak: 0.3, Empty: 0.05, Anonymous: 0.05, Compromised: 0.1, OutDir: dir, HighPorts: os.Geteuid() != 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Devices []struct {
			IP   string `json:"ip"`
			Weak bool   `json:"weak"`
		} `json:"devices"`
		Summary struct {
			Devices           int     `json:"devices"`
			WeakDevices       int     `json:"devices_with_weak_credentials"`
			WeakPasswordShare float64 `json:"weak_password_share"`
		} `json:"summary"`
	}
	readJSON(t, filepath.Join(dir, "truth.json"), &truth)
	var rep struct {
		Summary struct {
			Devices     int     `json:"devices"`
			Services    int     `json:"services"`
			WeakDevices int     `json:"devices_with_weak_credentials"`
			WeakShare   float64 `json:"weak_password_share"`
			VulnMatches int     `json:"vuln_matches"`
			Vulnerable  int     `json:"vulnerable_devices"`
			KEVDevices  int     `json:"kev_devices"`
			FWImages    int     `json:"firmware_images"`
			PerDay      float64 `json:"compromised_per_day"`
		} `json:"summary"`
		WeakCredentials struct {
			Firmware struct {
				Credentials int `json:"credentials"`
				Images      []struct {
					Key string `json:"key"`
				} `json:"images"`
			} `json:"firmware_proven"`
		} `json:"weak_credentials"`
	}
	readJSON(t, filepath.Join(dir, "report.json"), &rep)
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Errorf("report.html: %v", err)
	}
	if truth.Summary.Devices != 120 || len(truth.Devices) != 120 {
		t.Fatalf("truth has %d devices, want 120", truth.Summary.Devices)
	}
	if truth.Summary.WeakDevices == 0 || truth.Summary.WeakDevices == 120 {
		t.Fatalf("truth has %d weak devices: the fleet does not exercise the audit", truth.Summary.WeakDevices)
	}
	if rep.Summary.Devices != truth.Summary.Devices {
		t.Errorf("report devices = %d, truth %d", rep.Summary.Devices, truth.Summary.Devices)
	}
	if rep.Summary.WeakDevices != truth.Summary.WeakDevices || rep.Summary.WeakShare != truth.Summary.WeakPasswordShare {
		t.Errorf("report weak = %d (share %v), truth %d (share %v)",
			rep.Summary.WeakDevices, rep.Summary.WeakShare, truth.Summary.WeakDevices, truth.Summary.WeakPasswordShare)
	}
	if sum.DevicesWithWeak != truth.Summary.WeakDevices || sum.WeakShare != sum.TruthWeakShare {
		t.Errorf("summary weak = %d (share %v), truth share %v", sum.DevicesWithWeak, sum.WeakShare, sum.TruthWeakShare)
	}
	checkBreakdowns(t, dir)
	if rep.Summary.Services == 0 || sum.Fingerprinted == 0 || rep.Summary.VulnMatches == 0 {
		t.Errorf("empty stage: services %d, fingerprinted %d, vulnerability matches %d",
			rep.Summary.Services, sum.Fingerprinted, rep.Summary.VulnMatches)
	}
	// The summary's vulnerability line and the report count alike: KEV
	// matches (one CVE on several ports) are not KEV devices.
	if sum.VulnMatches != rep.Summary.VulnMatches || sum.DevicesWithVulns != rep.Summary.Vulnerable ||
		sum.KEVDevices != rep.Summary.KEVDevices || sum.KEVDevices == 0 {
		t.Errorf("summary: %d matches on %d devices, KEV on %d; report: %d on %d, KEV on %d",
			sum.VulnMatches, sum.DevicesWithVulns, sum.KEVDevices, rep.Summary.VulnMatches, rep.Summary.Vulnerable, rep.Summary.KEVDevices)
	}
	// Telemetry: the botnet members of the synthetic captures are exactly
	// the devices the flow detectors count, day by day, and only weak
	// devices are among them.
	var tel TelemetryTruth
	readJSON(t, filepath.Join(dir, "telemetry.json"), &tel)
	if len(tel.Compromised) != 12 || sum.TruthCompromised != 12 {
		t.Errorf("telemetry truth: %d compromised (summary %d), want 12 (10%% of 120)", len(tel.Compromised), sum.TruthCompromised)
	}
	if len(tel.Days) != 4 || len(sum.TruthCompromisedPerDay) != 4 {
		t.Fatalf("telemetry truth: %d days (summary %v), want 4", len(tel.Days), sum.TruthCompromisedPerDay)
	}
	if diff := cmp.Diff(sum.TruthCompromisedPerDay, sum.CompromisedPerDay); diff != "" || sum.TruthCompromisedPerDay[0] == 0 || sum.TruthCompromisedPerDay[0] >= sum.TruthCompromisedPerDay[3] {
		t.Errorf("devices under control per day: report %v, truth %v; want equal and growing", sum.CompromisedPerDay, sum.TruthCompromisedPerDay)
	}
	// Every image analysed counts, not only those with a finding.
	if rep.Summary.FWImages != sum.FirmwareImages || sum.FirmwareImages == 0 {
		t.Errorf("report: %d firmware images, summary %d", rep.Summary.FWImages, sum.FirmwareImages)
	}
	// The assessment covers the flows runs: every device under control
	// fails "no harm to other networks" (CRA I 2 (i)), and the report counts
	// the alerts among its findings, as `iotwatch report` on the database
	// does (the demo assessed and reported its own run alone).
	checkHarm(t, st, tel.Compromised)
	var full struct {
		Findings struct {
			ByKind []struct {
				Key string `json:"key"`
			} `json:"by_kind"`
		} `json:"findings"`
	}
	readJSON(t, filepath.Join(dir, "report.json"), &full)
	if !slices.ContainsFunc(full.Findings.ByKind, func(k struct {
		Key string `json:"key"`
	}) bool {
		return k.Key == "scanning"
	}) {
		t.Errorf("report findings by kind %v: no flow alert (scanning)", full.Findings.ByKind)
	}
	mean := 0.0
	for _, n := range sum.TruthCompromisedPerDay {
		mean += float64(n) / 4
	}
	weak := map[string]bool{}
	for _, d := range truth.Devices {
		weak[d.IP] = d.Weak
	}
	for ip := range tel.Compromised {
		if !weak[ip] {
			t.Errorf("compromised device %s has no weak credential in the truth", ip)
		}
	}
	if sum.DevicesCompromised != sum.TruthCompromised || sum.CompromisedFound != sum.TruthCompromised || rep.Summary.PerDay != mean {
		t.Errorf("detected %d (found %d of %d; report %v per day, truth %v), want all and only the truth",
			sum.DevicesCompromised, sum.CompromisedFound, sum.TruthCompromised, rep.Summary.PerDay, mean)
	}
	// Patch uptake: the DIR-645 units on 1.05B01 each day, those never
	// updated and the days until half of them ran the fix of CVE-2015-2051,
	// as the report measured them from the rescans and as the truth has them.
	if sum.UptakeProduct != "D-Link DIR-645" || sum.UptakeUnits == 0 || len(sum.TruthUpdatedPerDay) != 4 ||
		sum.TruthUpdatedPerDay[0] != 0 || sum.TruthUpdatedPerDay[3] == 0 || sum.TruthNeverUpdated == 0 {
		t.Fatalf("uptake truth: %s, %d units, %v updated by day, %d never: want the DIR-645 updating on days 1-3, some never",
			sum.UptakeProduct, sum.UptakeUnits, sum.TruthUpdatedPerDay, sum.TruthNeverUpdated)
	}
	if diff := cmp.Diff(sum.TruthUpdatedPerDay, sum.UpdatedPerDay); diff != "" || sum.NeverUpdated != sum.TruthNeverUpdated {
		t.Errorf("uptake: report %v updated by day, %d never; truth %v, %d", sum.UpdatedPerDay, sum.NeverUpdated, sum.TruthUpdatedPerDay, sum.TruthNeverUpdated)
	}
	if sum.UptakeCVE != "CVE-2015-2051" || sum.HalfFixedDays == nil || sum.TruthHalfFixedDays == nil || *sum.HalfFixedDays != *sum.TruthHalfFixedDays {
		t.Errorf("half fixed: report %s after %v days, truth %v", sum.UptakeCVE, sum.HalfFixedDays, sum.TruthHalfFixedDays)
	}
	if sum.FirmwareImages == 0 || sum.FirmwareAccounts != sum.TruthFirmwareAccounts || sum.FirmwareKeys != sum.TruthFirmwareKeys || sum.TruthFirmwareKeys == 0 {
		t.Errorf("firmware: %d images, accounts %d of %d, keys %d of %d", sum.FirmwareImages, sum.FirmwareAccounts, sum.TruthFirmwareAccounts, sum.FirmwareKeys, sum.TruthFirmwareKeys)
	}
	// Defaults proven from firmware: the web password of the Hikvision
	// units is in no built-in list, only in their image's /etc/shadow.
	if sum.FirmwareOnlyCredentials != sum.TruthFirmwareOnly || sum.TruthFirmwareOnly == 0 || sum.FirmwareCredentials < sum.FirmwareOnlyCredentials {
		t.Errorf("firmware-proven credentials: %d, %d in no list, truth %d", sum.FirmwareCredentials, sum.FirmwareOnlyCredentials, sum.TruthFirmwareOnly)
	}
	// Declared versus observed: the DIR-645's declared unique passwords are
	// contradicted on exactly its weak units,
	// and its declared daily updates on the units that never update.
	if sum.ContradictedWeak != sum.TruthContradictedWeak || sum.TruthContradictedWeak == 0 || sum.Contradicted < sum.ContradictedWeak ||
		sum.ContradictedRescans != sum.TruthNeverUpdated || sum.TruthNeverUpdated == 0 {
		t.Errorf("declaration contradicted on %d devices, %d by the audit (truth %d), %d by rescans (truth %d never updated)",
			sum.Contradicted, sum.ContradictedWeak, sum.TruthContradictedWeak, sum.ContradictedRescans, sum.TruthNeverUpdated)
	}
	if rep.WeakCredentials.Firmware.Credentials != sum.FirmwareCredentials || len(rep.WeakCredentials.Firmware.Images) == 0 {
		t.Errorf("report: %+v firmware-proven credentials, summary %d", rep.WeakCredentials.Firmware, sum.FirmwareCredentials)
	}
	if sum.SharedKeyDevices != sum.TruthSharedKeyDevices || sum.TruthSharedKeyDevices == 0 ||
		sum.SharedCertDevices != sum.TruthSharedCertDevices || sum.TruthSharedCertDevices == 0 {
		t.Errorf("shared keys on %d devices, truth %d; shared certificates on %d, truth %d",
			sum.SharedKeyDevices, sum.TruthSharedKeyDevices, sum.SharedCertDevices, sum.TruthSharedCertDevices)
	}
	// Why they fell: every device under control is in the sample and had
	// the weak credential the truth gave it.
	if sum.FallInSample != sum.TruthCompromised || sum.FallWeak != sum.TruthFallWeak || sum.TruthFallWeak != sum.TruthCompromised {
		t.Errorf("why devices fall: %d of %d in the sample weak, truth %d of %d", sum.FallWeak, sum.FallInSample, sum.TruthFallWeak, sum.TruthCompromised)
	}
	want := []string{"rescans", "simulate", "scan", "firmware", "audit", "vulns", "flows", "assess", "report"}
	if len(sum.Stages) != len(want) {
		t.Errorf("stages = %v, want %v", sum.Stages, want)
	}
	r, err := st.Run(ctx, sum.RunID)
	if err != nil || r.Status != "complete" {
		t.Errorf("run %d = %+v, %v; want complete", sum.RunID, r, err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDemoRerun runs the demo of one day, then of four days, into one
// database, as `demo --days 1` followed by `make demo` does: the second
// run's patch uptake must still equal the truth. The report ordered scans
// by run id, so the first demo's scan (made today, all units on the old
// firmware) came before the second's back-dated days, and the fix was
// "half installed after no days".
func TestDemoRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet twice")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The third run repeats the second: its captures are the ones already
	// ingested, so its flows runs hold no alert of their own, and yet its
	// assessment sees the devices under control.
	for i, days := range []int{1, 4, 4} {
		dir := t.TempDir()
		var logs bytes.Buffer
		sum, err := Run(ctx, st, Options{
			Devices: 80, Seed: 7, Prefix: netip.MustParsePrefix("127.32.0.0/16"), Days: days,
			Weak: 0.3, Empty: 0.05, Anonymous: 0.05, Compromised: 0.1, OutDir: dir, HighPorts: os.Geteuid() != 0,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		})
		if err != nil {
			t.Fatal(err)
		}
		// At info the log shows the stages, not each credential the audit
		// found (hundreds of lines for a fleet).
		if l := logs.String(); !strings.Contains(l, "stage done") || strings.Contains(l, "credential accepted") {
			t.Errorf("run %d: the info log lacks the stages or lists credentials:\n%.600s", i+1, l)
		}
		var tel TelemetryTruth
		readJSON(t, filepath.Join(dir, "telemetry.json"), &tel)
		checkHarm(t, st, tel.Compromised)
		if sum.CompromisedFound != sum.TruthCompromised {
			t.Errorf("run %d: %d of %d devices under control found", i+1, sum.CompromisedFound, sum.TruthCompromised)
		}
		if days == 1 {
			continue // one scan: no uptake
		}
		if sum.TruthHalfFixedDays == nil || sum.HalfFixedDays == nil || *sum.HalfFixedDays != *sum.TruthHalfFixedDays ||
			!slices.Equal(sum.UpdatedPerDay, sum.TruthUpdatedPerDay) || sum.NeverUpdated != sum.TruthNeverUpdated {
			t.Errorf("run %d: uptake half fixed %v, per day %v, never %d; truth %v, %v, %d", i+1,
				ptrString(sum.HalfFixedDays), sum.UpdatedPerDay, sum.NeverUpdated, ptrString(sum.TruthHalfFixedDays), sum.TruthUpdatedPerDay, sum.TruthNeverUpdated)
		}
	}
}

// checkHarm: every device under control in the telemetry's truth fails "no
// harm to other networks" (CRA I 2 (i)) in the newest assessment.
func checkHarm(t *testing.T, st *store.Store, compromised map[string]string) {
	t.Helper()
	ctx := context.Background()
	assessed, err := st.LatestRun(ctx, "assess", true)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.Findings(ctx, assessed.ID)
	if err != nil {
		t.Fatal(err)
	}
	harm := map[string]bool{}
	for _, f := range fs {
		if f.Kind == "nonconformity" && strings.Contains(f.Title, "cra-I-2i") {
			harm[f.Subject] = true
		}
	}
	if len(compromised) == 0 {
		t.Error("no device under control in the telemetry's truth")
	}
	for ip := range compromised {
		if !harm[ip] {
			t.Errorf("compromised device %s does not fail cra-I-2i in the demo's assessment (run %d; %d devices do)", ip, assessed.ID, len(harm))
		}
	}
}

func ptrString(f *float64) string {
	if f == nil {
		return "none"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// TestAuditLogger: the demo's audit passes on warnings at info and
// everything at debug.
func TestAuditLogger(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		base, rec slog.Level
		want      bool
	}{
		{slog.LevelInfo, slog.LevelInfo, false},
		{slog.LevelInfo, slog.LevelWarn, true},
		{slog.LevelInfo, slog.LevelError, true},
		{slog.LevelWarn, slog.LevelInfo, false},
		{slog.LevelDebug, slog.LevelInfo, true},
		{slog.LevelDebug, slog.LevelDebug, true},
		{slog.LevelError, slog.LevelWarn, false},
	} {
		var b bytes.Buffer
		l := auditLogger(ctx, slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tc.base}))).With("stage", "audit")
		l.Log(ctx, tc.rec, "audit: credential accepted")
		if got := b.Len() > 0; got != tc.want {
			t.Errorf("base %v, record %v: logged %v, want %v", tc.base, tc.rec, got, tc.want)
		}
	}
}
