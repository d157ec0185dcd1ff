package stage_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
	"iotwatch/internal/vuln"
)

// TestScanStoresVulnerabilities (issue 13.4): `iotwatch scan` of a real
// OpenSSH daemon stores the vulnerabilities of what it identified, as the
// demo does, from the embedded seed database; `vulndb match --stored`
// re-matches the stored inventory as the re-match run `vulndb rematch` records.
func TestScanStoresVulnerabilities(t *testing.T) {
	sshd := testpeer.SSHD(t, testpeer.SSHDOptions{})
	for name, newDB := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db := newDB("vulns")
			runCLI(t, "--db", db, "--log-level", "warn", "scan", "127.0.0.1", "--ports", strconv.Itoa(sshd.Port)+"/ssh")
			ctx := context.Background()
			st, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			run, err := st.LatestRun(ctx, "scan", true)
			if err != nil {
				t.Fatal(err)
			}
			svcs, err := st.Services(ctx, run.ID)
			if err != nil || len(svcs) != 1 || svcs[0].Fingerprint == nil {
				t.Fatalf("scan stored %+v, %v; want one identified sshd", svcs, err)
			}
			fp := svcs[0].Fingerprint
			if fp.Product != "OpenSSH" || !strings.HasPrefix(fp.Version, "9.") {
				t.Skipf("the installed sshd is %s %s; the seed's OpenSSH CVEs are for 8.5p1–9.7p1", fp.Product, fp.Version)
			}
			ms, err := st.VulnMatches(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cves := cveIDs(ms); !slices.Contains(cves, "CVE-2024-6387") {
				t.Errorf("scan run %d stored matches %v, want CVE-2024-6387 (regreSSHion) for %s %s", run.ID, cves, fp.Product, fp.Version)
			}
			if !slices.Contains(run.Stages, "vulns") {
				t.Errorf("scan run stages = %v, want the vulns stage", run.Stages)
			}

			// What a new user then reads in the report.
			var rep struct {
				Summary struct {
					VulnerableDevices int `json:"vulnerable_devices"`
				} `json:"summary"`
			}
			if err := json.Unmarshal([]byte(runCLI(t, "--db", db, "report", "--format", "json")), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Summary.VulnerableDevices != 1 {
				t.Errorf("report after the scan: %d vulnerable devices, want 1", rep.Summary.VulnerableDevices)
			}

			out := runCLI(t, "--db", db, "--json", "vulndb", "match", "--stored")
			var listed []model.VulnMatch
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var m model.VulnMatch
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("vulndb match --stored: %v in %q", err, l)
				}
				listed = append(listed, m)
			}
			if cves := cveIDs(listed); !slices.Contains(cves, "CVE-2024-6387") || !slices.Contains(cves, "CVE-2023-38408") {
				t.Errorf("vulndb match --stored listed %v, want CVE-2024-6387 and CVE-2023-38408", cves)
			}
			for _, m := range listed {
				if m.IP.String() != "127.0.0.1" || int(m.Port) != sshd.Port {
					t.Errorf("match %s on %s:%d, want the scanned sshd", m.CVE, m.IP, m.Port)
				}
			}
			// match --stored is the re-match: a run of kind "rematch" whose
			// baseline is the scan's matches, so nothing changed; then
			// `vulndb rematch` compares with that run and finds nothing either.
			vr, err := st.LatestRun(ctx, vuln.RunKindRematch, true)
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := st.VulnMatches(ctx, vr.ID)
			if len(stored) != len(listed) {
				t.Errorf("rematch run %d stored %d matches, printed %d", vr.ID, len(stored), len(listed))
			}
			if !slices.Contains(vr.Targets, strconv.FormatInt(run.ID, 10)) || vr.Counts["new"]+vr.Counts["withdrawn"]+vr.Counts["fixed"] != 0 {
				t.Errorf("rematch run %+v, want scan %d as its baseline and no changes", vr, run.ID)
			}
			var rm vuln.RematchResult
			if err := json.Unmarshal([]byte(runCLI(t, "--db", db, "--json", "vulndb", "rematch")), &rm); err != nil {
				t.Fatal(err)
			}
			if rm.Run <= vr.ID || rm.Matches != len(listed) || len(rm.Changes) != 0 || rm.Services != 1 {
				t.Errorf("vulndb rematch after match --stored: %+v, want a new run with %d matches and no changes", rm, len(listed))
			}
		})
	}
}

func cveIDs(ms []model.VulnMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.CVE)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
