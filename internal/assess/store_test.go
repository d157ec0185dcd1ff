package assess

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// TestStoreRoundTrip stores the fixture evidence, loads it back with
// LoadEvidence, assesses it and saves the result as an "assess" run.
func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "iotwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fx := fixture(t)
	run := func(kind string) int64 {
		r := &model.Run{Kind: kind, Status: model.RunComplete}
		if err := st.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	scan, audit, vuln, fw, flows := run("scan"), run("audit"), run("vuln"), run("firmware"), run("flows")
	// Services carry the fingerprints that build the asset inventory.
	svcs := fx.Services
	for i := range svcs {
		for _, a := range fx.Assets {
			if a.IP == svcs[i].IP {
				if svcs[i].Fingerprint == nil {
					svcs[i].Fingerprint = &model.Fingerprint{}
				}
				svcs[i].Fingerprint.Vendor, svcs[i].Fingerprint.Product, svcs[i].Fingerprint.CPE = a.Vendor, a.Product, a.CPE
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.SaveServices(ctx, scan, svcs))
	must(st.SaveServices(ctx, audit, svcs)) // the audit scans what it audits
	must(st.SaveCredentials(ctx, audit, fx.Credentials))
	must(st.SaveVulnMatches(ctx, vuln, fx.Vulns))
	must(st.SaveFindings(ctx, fw, fx.Findings[:2]))
	must(st.SaveFindings(ctx, flows, fx.Findings[2:]))

	ev, err := LoadEvidence(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Runs) != 5 || len(ev.Services) != len(fx.Services) || len(ev.Credentials) != 2 || len(ev.Vulns) != 1 || len(ev.Findings) != 3 || len(ev.Assets) != 3 {
		t.Fatalf("loaded runs %d services %d creds %d vulns %d findings %d assets %d",
			len(ev.Runs), len(ev.Services), len(ev.Credentials), len(ev.Vulns), len(ev.Findings), len(ev.Assets))
	}
	res, err := Assess(ctx, ev, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// Evidence read back from the store decides exactly as the fixture does.
	got, _ := json.MarshalIndent(res, "", "  ")
	want, err := os.ReadFile("testdata/golden/all-devices-no-declaration.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != string(want) {
		t.Error("assessment of stored evidence differs from testdata/golden/all-devices-no-declaration.json")
	}
	p := outcome(t, res.Subjects[0], BaselineETSI, "5.1-1")
	if res.Subjects[0].Subject.ID != "10.0.0.11" || p.Outcome != Fail {
		t.Errorf("first subject %s 5.1-1 = %s, want 10.0.0.11 fail", res.Subjects[0].Subject.ID, p.Outcome)
	}
	id, err := Save(ctx, st, res, []string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Run(ctx, id)
	if err != nil || r.Kind != RunKindAssess || r.Status != model.RunComplete || r.Counts["fail"] == 0 {
		t.Fatalf("assess run = %+v, %v", r, err)
	}
	fs, err := st.Findings(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var nonconf, summaries int
	for _, f := range fs {
		switch f.Kind {
		case findingNonconformity:
			nonconf++
		case findingAssessment:
			summaries++
			rec, ok := ParseRecord(f)
			if !ok || rec.Outcomes["5.1-1"] == "" && rec.Outcomes["psti-1"] == "" && rec.Outcomes["cra-I-2a"] == "" && rec.Outcomes["norm:sbom"] == "" && rec.Outcomes["logical-access"] == "" {
				t.Errorf("assessment finding %q has no readable record: %+v", f.Title, rec)
			}
		}
	}
	if want := len(res.Subjects) * len(res.Baselines); summaries != want || nonconf == 0 {
		t.Errorf("stored %d summaries (want %d) and %d nonconformities", summaries, want, nonconf)
	}
	// A second load skips the assess run, so results do not feed on themselves.
	ev2, err := LoadEvidence(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev2.Runs) != 5 || len(ev2.Findings) != 3 {
		t.Errorf("reload: %d runs, %d findings; want 5, 3", len(ev2.Runs), len(ev2.Findings))
	}
	// Run does load, assess and save in one call.
	res2, id2, err := Run(ctx, st, RunOptions{Options: Options{Device: netip.MustParseAddr("10.0.0.20"), Now: now}, Targets: []string{"10.0.0.20"}})
	if err != nil || id2 <= id || len(res2.Subjects) != 1 {
		t.Errorf("Run = %v subjects, run %d, %v", len(res2.Subjects), id2, err)
	}
	// Explicit run ids select only those runs.
	ev3, err := LoadEvidence(ctx, st, scan)
	if err != nil || len(ev3.Runs) != 1 || len(ev3.Credentials) != 0 {
		t.Errorf("LoadEvidence(scan) = %d runs %d creds, %v", len(ev3.Runs), len(ev3.Credentials), err)
	}
}
