package store

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"iotwatch/internal/model"
)

// TestLoadEvidence checks the one evidence loader: a resumed scan and the
// scan it continues are one logical run, each item is kept once from the
// newest run, and the stages that ran are told apart (a firmware run's
// "vulnerabilities" stage is not device vulnerability matching).
func TestLoadEvidence(t *testing.T) {
	for name, st := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			start := func(kind string, stages ...string) int64 {
				t.Helper()
				r := &model.Run{Kind: kind, Stages: stages}
				if err := st.StartRun(ctx, r); err != nil {
					t.Fatal(err)
				}
				r.Status = model.RunComplete
				if err := st.FinishRun(ctx, r); err != nil {
					t.Fatal(err)
				}
				return r.ID
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			scanA := start("scan", "discovery")
			must(st.SaveServices(ctx, scanA, []model.Service{svc("10.1.0.1", 22, ""), svc("10.1.0.2", 22, ""), svc("10.1.0.3", 22, "old")}))
			scanB := start("scan", "discovery") // resumes A
			must(st.SetRunParent(ctx, scanB, scanA))
			must(st.SaveServices(ctx, scanB, []model.Service{svc("10.1.0.3", 22, "new"), svc("::ffff:10.1.0.4", 22, ""), svc("10.1.0.5", 22, "")}))
			scanC := start("scan", "discovery") // resumes B
			must(st.SetRunParent(ctx, scanC, scanB))
			must(st.SaveServices(ctx, scanC, []model.Service{svc("10.1.0.6", 22, "")}))
			other := start("scan", "discovery") // an unrelated scan
			must(st.SaveServices(ctx, other, []model.Service{svc("10.9.0.1", 22, "")}))
			audit1 := start("audit", "scan", "audit")
			cred := model.CredentialResult{IP: netip.MustParseAddr("10.1.0.1"), Port: 22, Protocol: model.ProtoSSH,
				Username: "root", Password: "root", Kind: model.KindDefaultCredential, Attempts: 3}
			must(st.SaveCredentials(ctx, audit1, []model.CredentialResult{cred,
				{IP: netip.MustParseAddr("10.1.0.2"), Port: 22, Protocol: model.ProtoSSH, Kind: model.KindLockoutSuspected}}))
			audit2 := start("audit", "scan", "audit")
			cred.Attempts = 1
			must(st.SaveCredentials(ctx, audit2, []model.CredentialResult{cred}))
			fw := start("firmware", "unpack", "vulnerabilities")

			for _, ids := range [][]int64{{scanA}, {scanB}, {scanC}} {
				ev, err := st.LoadEvidence(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				var runs []int64
				for _, r := range ev.Runs {
					runs = append(runs, r.ID)
				}
				if want := []int64{scanA, scanB, scanC}; !slices.Equal(runs, want) {
					t.Errorf("runs of %v = %v, want the logical scan %v", ids, runs, want)
				}
				if len(ev.Services) != 6 {
					t.Errorf("services of %v: %d, want 6 (one per device and port)", ids, len(ev.Services))
				}
				for _, s := range ev.Services {
					if s.IP == netip.MustParseAddr("10.1.0.3") && (s.Fingerprint == nil || s.Fingerprint.Vendor != "new") {
						t.Errorf("10.1.0.3:22 = %+v, want the resumed scan's record", s.Fingerprint)
					}
					if s.IP.Is4In6() {
						t.Errorf("service address %s not unmapped", s.IP)
					}
				}
			}
			ev, err := st.LoadEvidence(ctx, []int64{audit1, audit2, fw})
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.Credentials) != 2 || ev.Credentials[0].Attempts != 1 || !ev.Credentials[1].LockoutSuspected {
				t.Errorf("credentials = %+v, want the newest record of the pair and the lockout record", ev.Credentials)
			}
			if !ev.Ran(StageAudit) || ev.Ran(StageVulns) || !ev.Ran(StageScan) || ev.Ran(StageFlows) {
				t.Errorf("ran audit %v, vulns %v, scan %v, flows %v; want true, false, true (inside the audits), false",
					ev.Ran(StageAudit), ev.Ran(StageVulns), ev.Ran(StageScan), ev.Ran(StageFlows))
			}
			if !RunRan(model.Run{Kind: "demo"}, StageVulns) || RunRan(model.Run{Kind: "firmware", Stages: []string{"vulnerabilities"}}, StageVulns) {
				t.Error("a demo run matches vulnerabilities; a firmware run's component matching is not device matching")
			}
			id, err := st.NewestScannedRun(ctx)
			if err != nil || id != other {
				t.Errorf("newest scanned run = %d, %v; want %d", id, err, other)
			}
			r, err := st.Run(ctx, scanC)
			if err != nil || r.Parent != scanB {
				t.Errorf("run %d parent = %d, %v; want %d", scanC, r.Parent, err, scanB)
			}
		})
	}
}
