package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func deref(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}

func TestBuildNumbers(t *testing.T) {
	st := openStore(t)
	runID := fillStore(t, st)
	r, err := Build(context.Background(), st, fixtureInputs(runID))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	ints := []struct {
		name      string
		got, want int
	}{
		{"devices", s.Devices, 10},
		{"services", s.Services, 16},
		{"devices_with_weak_credentials", s.DevicesWithWeakCredentials, 6},
		{"sampled_devices", s.SampledDevices, 11},
		{"credential_results", s.CredentialResults, 7},
		{"lockout_suspected_services", s.LockoutSuspected, 1},
		{"unknown_verdict_services", s.UnknownVerdicts, 1},
		{"vulnerable_devices", s.VulnerableDevices, 3},
		{"kev_devices", s.KEVDevices, 2},
		{"vuln_matches", s.VulnMatches, 5},
		{"distinct_cves", s.DistinctCVEs, 4},
		{"findings", s.Findings, 2},
		{"firmware_images", s.FirmwareImages, 1}, // one image (fw/archer.bin), whose component match and finding both name it,
		{"compromised_peak", s.CompromisedPeak, 6},
		{"archived_latest_year", s.ArchivedLatestYear, 2025},
		{"archived_latest", s.ArchivedLatest, 48000},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("summary.%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	floats := []struct {
		name      string
		got, want float64
	}{
		{"weak_password_share", s.WeakPasswordShare, 6.0 / 11},
		{"ci95.low", s.WeakPasswordCI95.Low, stats.Wilson(6, 11).Low},
		{"ci95.high", s.WeakPasswordCI95.High, stats.Wilson(6, 11).High},
		{"kev_share", s.KEVShare, 2.0 / 11},
		{"vulnerable_ci95.low", s.VulnerableCI95.Low, stats.Wilson(3, 11).Low},
		{"kev_ci95.high", s.KEVCI95.High, stats.Wilson(2, 11).High},
		{"compromised_per_day", s.CompromisedPerDay, 4},
		{"archived_growth", deref(s.ArchivedGrowth), 0.2},
		{"iot_share_latest", s.IoTShareLatest, 3000.0 / 48000},
	}
	for _, c := range floats {
		if !near(c.got, c.want) {
			t.Errorf("summary.%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if lo, hi := s.WeakPasswordCI95.Low, s.WeakPasswordCI95.High; !(lo < s.WeakPasswordShare && s.WeakPasswordShare < hi) {
		t.Errorf("ci95 [%v, %v] does not contain the share %v", lo, hi, s.WeakPasswordShare)
	}

	type gs struct {
		Key           string
		Devices, Weak int
	}
	strip := func(in []GroupShare) []gs {
		var out []gs
		for _, g := range in {
			out = append(out, gs{g.Key, g.Devices, g.Weak})
			if !near(g.Share, stats.Ratio(g.Weak, g.Devices)) || g.CI95 != stats.Wilson(g.Weak, g.Devices) {
				t.Errorf("group %s: share %v ci %v inconsistent with %d/%d", g.Key, g.Share, g.CI95, g.Weak, g.Devices)
			}
		}
		return out
	}
	w := r.WeakCredentials
	groupTests := []struct {
		name string
		got  []GroupShare
		want []gs
	}{
		{"vendor", w.ByVendor, []gs{{"Hikvision", 4, 3}, {"Dahua", 3, 1}, {"TP-Link", 2, 1}, {"Evil<script>alert(1)</script>", 1, 0}, {"unknown", 1, 1}}},
		{"device type", w.ByDeviceType, []gs{{"ip-camera", 5, 3}, {"dvr", 3, 1}, {"router", 2, 1}, {"unknown", 1, 1}}},
		{"protocol", w.ByProtocol, []gs{{"http", 10, 1}, {"telnet", 4, 4}, {"ssh", 2, 1}, {"mqtt", 1, 1}}},
		{"subnet", w.BySubnet, []gs{{"127.20.0.0/24", 11, 6}}},
	}
	for _, tc := range groupTests {
		if diff := cmp.Diff(tc.want, strip(tc.got)); diff != "" {
			t.Errorf("weak credentials by %s (-want +got):\n%s", tc.name, diff)
		}
	}
	if diff := cmp.Diff([]Count{{Key: "default-credential", Devices: 4}, {Key: "anonymous-access", Devices: 1}, {Key: "empty-password", Devices: 1}}, w.ByKind); diff != "" {
		t.Errorf("by kind (-want +got):\n%s", diff)
	}
	if got := w.TopPairs[0]; got.Username != "admin" || got.Devices != 2 || got.Password != "12***" {
		t.Errorf("top pair = %+v, want admin/12*** on 2 devices", got)
	}

	if diff := cmp.Diff([]Count{{"http", 10, 10}, {"telnet", 3, 3}, {"ssh", 2, 2}, {"mqtt", 1, 1}}, r.Inventory.ByProtocol); diff != "" {
		t.Errorf("inventory by protocol (-want +got):\n%s", diff)
	}
	if got := r.Inventory.ByVendor; len(got) != 4 || got[0] != (Count{Key: "Hikvision", Devices: 4}) {
		t.Errorf("inventory by vendor = %+v, want Hikvision 4 first and 4 vendors (address 12 had no service)", got)
	}

	var cves []string
	for _, v := range r.Vulnerabilities {
		cves = append(cves, v.CVE)
	}
	if diff := cmp.Diff([]string{"CVE-2021-36260", "CVE-2023-38408", "CVE-2022-30525"}, cves); diff != "" {
		t.Errorf("vulnerability order (-want +got):\n%s", diff)
	}
	if v := r.Vulnerabilities[0]; v.Devices != 2 || !v.KEV || v.Severity != "critical" {
		t.Errorf("top vulnerability = %+v, want 2 devices, KEV, critical", v)
	}
	if r.Firmware == nil || r.Firmware.ComponentCVEs != 1 || len(r.Firmware.Findings) != 1 {
		t.Errorf("firmware = %+v, want 1 component CVE and 1 finding", r.Firmware)
	}
	if a := r.VulnArchive; a == nil || len(a.Years) != 5 || a.Years[0].Year != 2022 || !a.Years[4].Partial ||
		a.Years[0].Growth != nil || !near(deref(a.Years[1].Growth), 4000.0/25000) || !near(deref(a.Years[1].IoTGrowth), 0.5) {
		t.Errorf("archive = %+v, want 2022..2026 sorted, growth 2023 = 16%%, IoT growth 50%%, 2026 partial", a)
	}
	if a := r.Assessment; a == nil || len(a.Provisions) != 4 {
		t.Fatalf("assessment = %+v", a)
	} else {
		var ids []string
		for _, p := range a.Provisions {
			ids = append(ids, p.Baseline+" "+p.ID)
		}
		if diff := cmp.Diff([]string{"etsi-en-303-645 5.1-1", "etsi-en-303-645 5.3-2", "etsi-en-303-645 5.10-1", "psti 1"}, ids); diff != "" {
			t.Errorf("provision order (-want +got):\n%s", diff)
		}
		if p := a.Provisions[1]; !near(p.Rate, 0.25) {
			t.Errorf("5.3-2 conformance = %v, want 0.25 (unknown excluded)", p.Rate)
		}
	}
	if len(r.Trends) != 2 || r.Trends[0].Devices != 4 || !near(deref(r.Trends[0].WeakPasswordShare), 0.25) ||
		r.Trends[1].Devices != 10 || r.Trends[1].WeakDevices != 6 || !near(deref(r.Trends[1].WeakPasswordShare), 6.0/11) {
		t.Errorf("trends = %+v, want run 1: 4 devices 25%%, run 2: 10 devices 6 weak 6/11", r.Trends)
	}
	if len(r.Absent) != 0 {
		t.Errorf("absent = %v, want every section present", r.Absent)
	}
}

func TestRunSelection(t *testing.T) {
	st := openStore(t)
	runID := fillStore(t, st)
	ctx := context.Background()
	tests := []struct {
		name        string
		in          Inputs
		runs        int
		devices     int
		weakDevices int
	}{
		{"latest by default", Inputs{}, 1, 10, 6},
		{"first run", Inputs{RunIDs: []int64{1}}, 1, 4, 1},
		{"both runs", Inputs{RunIDs: []int64{runID, 1, runID}}, 2, 10, 6},
		{"from", Inputs{From: at(5)}, 1, 10, 6},
		{"to", Inputs{To: at(5)}, 1, 4, 1},
		{"range", Inputs{From: at(0), To: at(30)}, 2, 10, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Build(ctx, st, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Runs) != tc.runs || r.Summary.Devices != tc.devices || r.Summary.DevicesWithWeakCredentials != tc.weakDevices {
				t.Errorf("runs %d devices %d weak %d, want %d %d %d", len(r.Runs), r.Summary.Devices,
					r.Summary.DevicesWithWeakCredentials, tc.runs, tc.devices, tc.weakDevices)
			}
		})
	}
	// A later run without services (an assessment) joins the default.
	later := &model.Run{Kind: "assess", StartedAt: at(40)}
	must(t, st.StartRun(ctx, later))
	// Its own conclusions (a nonconformity per failed provision, a record
	// per subject and baseline) are the assessment section's, not findings.
	must(t, st.SaveFindings(ctx, later.ID, []model.Finding{{Kind: "provision-fail", Subject: ipKey(1), Title: "5.1-1 fails"},
		{Kind: "nonconformity", Subject: ipKey(1), Severity: model.SeverityCritical, Title: "etsi-en-303-645 5.1-1: No universal default passwords"},
		{Kind: "assessment", Subject: ipKey(1), Severity: model.SeverityInfo, Title: "etsi-en-303-645 assessment"}}))
	r, err := Build(ctx, st, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Runs) != 2 || r.Runs[0].ID != runID || r.Runs[1].ID != later.ID || r.Summary.Devices != 10 || r.Summary.Findings != 3 {
		t.Errorf("default after an assessment run: runs %+v devices %d findings %d, want runs %d and %d, 10 devices, 3 findings",
			r.Runs, r.Summary.Devices, r.Summary.Findings, runID, later.ID)
	}
	for _, k := range r.Findings.ByKind {
		if k.Key == "nonconformity" || k.Key == "assessment" {
			t.Errorf("findings by kind count the assessment's %s (%d)", k.Key, k.Devices)
		}
	}
	if _, err := Build(ctx, st, Inputs{RunIDs: []int64{99}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: err = %v, want ErrNotFound", err)
	}
	if _, err := Build(ctx, st, Inputs{From: at(100)}); !errors.Is(err, ErrNoRuns) {
		t.Errorf("empty range: err = %v, want ErrNoRuns", err)
	}
	if _, err := Build(ctx, openStore(t), Inputs{}); !errors.Is(err, ErrNoRuns) {
		t.Errorf("empty store: err = %v, want ErrNoRuns", err)
	}
}

func TestAbsentSections(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	id := emptyRun(t, st)
	tests := []struct {
		name    string
		in      Inputs
		section string
		reason  string
	}{
		{"no providers", Inputs{}, SecCompromise, "no flow telemetry wired to the report"},
		{"no telemetry", Inputs{DailyCompromised: func(context.Context) ([]DayCount, error) { return nil, nil }}, SecCompromise, "no flow telemetry ingested"},
		{"flow error", Inputs{DailyCompromised: func(context.Context) ([]DayCount, error) { return nil, errBoom }}, SecCompromise, "flow detection unavailable: boom"},
		{"empty vuln db", Inputs{VulnStats: func(context.Context) (VulnStats, error) { return VulnStats{}, nil }}, SecVulnArchive, "vulnerability database is empty: no CVE records imported"},
		{"vuln db error", Inputs{VulnStats: func(context.Context) (VulnStats, error) { return VulnStats{}, errBoom }}, SecVulnArchive, "vulnerability database unavailable: boom"},
		{"no assessment", Inputs{Assessment: func(context.Context) (AssessmentSummary, error) { return AssessmentSummary{}, nil }}, SecAssessment, "no devices assessed against a baseline"},
		{"no audit", Inputs{}, SecWeakCredentials, "no credential audit results in the covered runs"},
		{"no scan", Inputs{}, SecInventory, "no open services stored in the covered runs"},
		{"no firmware", Inputs{}, SecFirmware, "no firmware analysed in the covered runs"},
		{"no trend", Inputs{}, SecTrends, "fewer than two runs with evidence: no trend yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.RunIDs = []int64{id}
			r, err := Build(ctx, st, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Absent[tc.section]; got != tc.reason {
				t.Errorf("absent[%s] = %q, want %q", tc.section, got, tc.reason)
			}
			if r.Compromise != nil || r.VulnArchive != nil || r.Assessment != nil || r.Firmware != nil {
				t.Errorf("a section without evidence is present: %+v", r)
			}
			if r.Summary.Devices != 0 || r.Summary.WeakPasswordShare != 0 {
				t.Errorf("summary = %+v, want zeros", r.Summary)
			}
			for _, f := range Formats {
				var b bytes.Buffer
				if err := r.Write(&b, f); err != nil {
					t.Fatalf("write %s: %v", f, err)
				}
				if f != "json" && !strings.Contains(b.String(), tc.reason) {
					t.Errorf("%s output does not say %q", f, tc.reason)
				}
			}
			var b bytes.Buffer
			r.WriteJSON(&b)
			var m map[string]any
			if err := json.Unmarshal(b.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"vulnerability_archive", "compromise", "assessment", "firmware"} {
				if _, ok := m[key]; ok {
					t.Errorf("json has %q without evidence", key)
				}
			}
		})
	}
}

// emptyRun records a run without evidence.
func emptyRun(t *testing.T, st *store.Store) int64 {
	r := &model.Run{Kind: "scan", StartedAt: at(0)}
	must(t, st.StartRun(context.Background(), r))
	return r.ID
}

func TestSecretsRedacted(t *testing.T) {
	st := openStore(t)
	runID := fillStore(t, st)
	for _, show := range []bool{false, true} {
		in := fixtureInputs(runID)
		in.ShowSecrets = show
		r, err := Build(context.Background(), st, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Formats {
			var b bytes.Buffer
			if err := r.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"xc3511", "vizxv", "12345"} {
				if got := strings.Contains(b.String(), secret); got != show {
					t.Errorf("show-secrets=%v: %s output contains %q: %v", show, f, secret, got)
				}
			}
		}
	}
}

func TestHTMLSafeAndSelfContained(t *testing.T) {
	st := openStore(t)
	r, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url(", "https://"} {
		if strings.Contains(strings.ToLower(h), bad) {
			t.Errorf("html contains %q: not escaped or not self-contained", bad)
		}
	}
	if n := strings.Count(h, "http://"); n != strings.Count(h, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("html references http:// outside SVG namespaces")
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `<svg class="chart"`, "54.5%", "CVE-2021-36260", "[", "Cam|era"} {
		if !strings.Contains(h, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if n := strings.Count(h, `<svg class="chart"`); n != 10 {
		t.Errorf("html has %d charts, want 10 (archive, compromise, uptake, destinations, 3 weak shares, protocols, conformance, trend)", n)
	}
	if !strings.Contains(h, "Chinanet &lt;script&gt;") || strings.Contains(h, "Chinanet <script>") {
		t.Errorf("html does not escape a network owner's name")
	}
	var md bytes.Buffer
	r.WriteMarkdown(&md)
	if strings.Contains(md.String(), "<script>") || !strings.Contains(md.String(), `Cam\|era`) {
		t.Errorf("markdown does not escape untrusted text")
	}
}

func TestCSVMatchesJSON(t *testing.T) {
	st := openStore(t)
	r, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v", err)
	}
	got := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) != 5 {
			t.Fatalf("row %v has %d cells", row, len(row))
		}
		got[strings.Join(row[:4], "/")] = row[4]
	}
	for key, want := range map[string]string{
		"summary///devices":                        "10",
		"summary///devices_with_weak_credentials":  "6",
		"summary///weak_password_share":            "0.5454545454545454",
		"weak_credentials/vendor/Hikvision/weak":   "3",
		"weak_credentials/protocol/telnet/devices": "4",
		"vulnerability_archive/year/2025/growth":   "0.2",
		"compromise/day/2026-11-23/devices":        "6",
		"assessment/provision/psti 1/pass":         "5",
		"trends/run/1/weak_password_share":         "0.25",
	} {
		if got[key] != want {
			t.Errorf("csv %s = %q, want %q", key, got[key], want)
		}
	}
	if csvSafe("=HYPERLINK(1)") != "'=HYPERLINK(1)" || csvSafe("-0.5") != "-0.5" {
		t.Errorf("csvSafe does not defuse formulas")
	}
}

// TestGolden compares every format with its golden file, on SQLite and
// (when IOTWATCH_TEST_PG names a server) PostgreSQL: the same evidence gives
// the same report, byte for byte, on either backend.
func TestGolden(t *testing.T) {
	for name, st := range backends.Stores(t) {
		t.Run(name, func(t *testing.T) {
			if *update && name != "sqlite" {
				t.Skip("golden files are written from SQLite")
			}
			golden(t, st)
		})
	}
}

func golden(t *testing.T, st *store.Store) {
	r, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := r.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "report."+f)
			if *update {
				must(t, os.WriteFile(path, b.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s differs from %s (-want +got):\n%s", f, path, diff)
			}
		})
	}
	var b bytes.Buffer
	if err := r.Write(&b, "pdf"); err == nil {
		t.Errorf("unknown format: no error")
	}
}

func TestCancelledProvider(t *testing.T) {
	st := openStore(t)
	runID := fillStore(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	in := fixtureInputs(runID)
	in.DailyCompromised = func(ctx context.Context) ([]DayCount, error) { cancel(); return nil, ctx.Err() }
	if _, err := Build(ctx, st, in); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRegion(t *testing.T) {
	st := openStore(t)
	runID := fillStore(t, st)
	tests := []struct {
		name   string
		region func(netip.Addr) string
		want   []string
	}{
		{"none wired", nil, nil},
		{"all unknown is left out", func(netip.Addr) string { return "" }, nil},
		{"by country", func(a netip.Addr) string {
			if a.As4()[3]%2 == 0 {
				return "DE"
			}
			return "FR"
		}, []string{"DE", "FR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Build(context.Background(), st, Inputs{RunIDs: []int64{runID}, Region: tc.region})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			n := 0
			for _, g := range r.WeakCredentials.ByRegion {
				got = append(got, g.Key)
				n += g.Devices
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("regions (-want +got):\n%s", diff)
			}
			if got != nil && n != r.Summary.SampledDevices {
				t.Errorf("regions cover %d devices, want %d", n, r.Summary.SampledDevices)
			}
		})
	}
}

func TestMeasuredZeroVersusNoAudit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		stages   []string
		reason   string
		card     string
		vulnNote string
	}{
		{nil, "no credential audit results in the covered runs", "<div class=\"n\">–</div>", "no vulnerability matches on devices in the covered runs"},
		{[]string{"scan", "audit", "vulns"}, reasonAuditClean, "<div class=\"n\">0.0%</div>", "vulnerability matching found no known vulnerabilities on the devices"},
	} {
		st := openStore(t)
		run := &model.Run{Kind: "scan", Stages: tc.stages, StartedAt: at(0)}
		must(t, st.StartRun(ctx, run))
		must(t, st.SaveServices(ctx, run.ID, []model.Service{{IP: ip(1), Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusSuccess}}))
		r, err := Build(ctx, st, Inputs{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Absent[SecWeakCredentials] != tc.reason || r.Absent[SecVulnerabilities] != tc.vulnNote {
			t.Errorf("stages %v: absent = %q / %q, want %q / %q", tc.stages, r.Absent[SecWeakCredentials], r.Absent[SecVulnerabilities], tc.reason, tc.vulnNote)
		}
		var b bytes.Buffer
		must(t, r.WriteHTML(&b))
		card := b.String()[strings.Index(b.String(), `id="card-weak"`):]
		if !strings.HasPrefix(card[strings.Index(card, "<div"):], tc.card) {
			t.Errorf("stages %v: weak card %.120q, want it to start with %q", tc.stages, card, tc.card)
		}
	}
}
