package assess

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/declare"
	"iotwatch/internal/flow/mud"
	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// simulatedDay is the evidence a scan and an audit of the simulated fleet on
// one day would store, read from the simulator's truth: each device's
// services fingerprinted with its model and that day's firmware, and its
// weak credentials.
func simulatedDay(t *testing.T, day int) *simulate.Truth {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := simulate.Start(ctx, simulate.Options{Prefix: netip.MustParsePrefix("127.85.0.0/16"), Devices: 120, Seed: 7,
		Weak: 0.3, Empty: 0.05, Anonymous: 0.05, HighPorts: true, Day: day})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	defer f.Close()
	return f.Truth()
}

func saveDay(t *testing.T, st *store.Store, truth *simulate.Truth, at time.Time) {
	t.Helper()
	ctx := context.Background()
	run := &model.Run{Kind: "audit", Stages: []string{"scan", "audit"}, Status: model.RunComplete, StartedAt: at}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	var svcs []model.Service
	var creds []model.CredentialResult
	for _, d := range truth.Devices {
		ip := netip.MustParseAddr(d.IP)
		for _, s := range d.Services {
			svcs = append(svcs, model.Service{IP: ip, Port: s.Port, Transport: s.Transport, Protocol: s.Protocol, Status: model.StatusSuccess, Time: at,
				Fingerprint: &model.Fingerprint{Vendor: d.Vendor, Product: d.Model, Version: d.Firmware, DeviceType: d.DeviceType, Confidence: 0.9}})
		}
		for _, c := range d.Credentials {
			if c.Kind != simulate.KindStrong && c.Kind != model.KindSNMPCommunity && c.Kind != model.KindAnonymousAccess {
				creds = append(creds, model.CredentialResult{IP: ip, Port: c.Port, Protocol: c.Protocol, Username: c.Username, Password: c.Password,
					Kind: c.Kind, Time: at})
			}
		}
	}
	if err := st.SaveServices(ctx, run.ID, svcs); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCredentials(ctx, run.ID, creds); err != nil {
		t.Fatal(err)
	}
}

// TestDeclaredAgainstObserved builds a store from the simulated fleet on
// days 0, 1 and 3 (the D-Link DIR-645's update 1.05B01 comes out on day 1 and
// a quarter of its units never install it) and assesses the DIR-645 with a
// declaration the evidence contradicts (unique passwords, updates checked
// daily, data only to dlink.com) and one it agrees with (a universal
// password disclosed, updates every 30 days, the cloud host the flows saw
// declared), with the unit's firmware image holding a default account and
// a flows finding of an undeclared recipient: the first gets the contradictions with their evidence,
// as findings too, and a tier one step lower; the second none.
func TestDeclaredAgainstObserved(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	day0, day1, day3 := simulatedDay(t, 0), simulatedDay(t, 1), simulatedDay(t, 3)
	const model645 = "DIR-645"
	var units, weak, laggards []string
	for i, d := range day3.Devices {
		if d.Model != model645 {
			continue
		}
		units = append(units, d.IP)
		if d.Weak {
			weak = append(weak, d.IP)
		}
		if d.Firmware == day0.Devices[i].Firmware {
			laggards = append(laggards, d.IP)
		}
	}
	if len(units) < 3 || len(weak) == 0 || len(laggards) == 0 || len(laggards) == len(units) {
		t.Fatalf("fleet: %d DIR-645 units, %d weak, %d never updated: the test needs some of each", len(units), len(weak), len(laggards))
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	daily, monthly := 1, 30
	yes := true
	decl := func(scheme string, days *int, hosts ...string) *declare.Declaration {
		return &declare.Declaration{Source: "dir645-" + scheme + ".yaml", Product: declare.Product{Model: model645},
			Manufacturer: declare.Entity{Name: "D-Link", Country: "TW"},
			Support:      &declare.Support{EndDate: "2030-12-31"},
			Credentials:  &declare.Credentials{Scheme: scheme},
			Updates:      &declare.Updates{Automatic: &yes, CheckIntervalDays: days},
			Data:         &declare.Data{Recipients: []declare.Recipient{{Name: "D-Link cloud", Country: "TW", Hosts: hosts}}}}
	}
	for name, newDSN := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, newDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			saveDay(t, st, day0, start)
			saveDay(t, st, day1, start.Add(24*time.Hour))
			saveDay(t, st, day3, start.Add(3*24*time.Hour))
			// The DIR-645's firmware image ships its web account (as the
			// demo's does), and flows saw a unit send to a host the
			// declaration check did not find declared.
			fw := &model.Run{Kind: "firmware", Status: model.RunComplete, StartedAt: start}
			fl := &model.Run{Kind: "flows", Status: model.RunComplete, StartedAt: start.Add(3 * 24 * time.Hour)}
			for _, r := range []*model.Run{fw, fl} {
				if err := st.StartRun(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			err = st.SaveFindings(ctx, fw.ID, []model.Finding{{Kind: "firmware-default-password", Subject: "/fw/D-Link DIR-645 1.03.squashfs",
				Severity: model.SeverityCritical, Title: `account "admin" has a default password (md5crypt)`,
				Evidence: []model.Evidence{{Source: "firmware", Detail: "/etc/shadow", Data: map[string]any{"user": "admin"}}}}})
			if err != nil {
				t.Fatal(err)
			}
			err = st.SaveFindings(ctx, fl.ID, []model.Finding{{Kind: mud.KindUndeclaredRecipient, Subject: units[0], Severity: model.SeverityMedium,
				Title:    "data sent to undeclared recipient 198.51.100.7 (telemetry.example-cloud.net)",
				Evidence: []model.Evidence{{Source: "flows", Detail: "12 flows", Data: map[string]any{"peer": "198.51.100.7", "names": []string{"telemetry.example-cloud.net"}, "country": "US"}}}}})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := LoadEvidence(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.Versions) == 0 {
				t.Fatal("no versions loaded from the scans")
			}
			for _, tc := range []struct {
				decl *declare.Declaration
				want []string // sources of the contradictions
			}{
				{decl("unique-per-device", &daily, "dlink.com"), []string{SourceAudit, SourceFirmware, SourceFlows, SourceRescans}},
				{decl("universal", &monthly, "dlink.com", "example-cloud.net"), nil},
			} {
				ev.Declarations = []*declare.Declaration{tc.decl}
				opts := Options{Product: model645, Baselines: []string{"etsi-en-303-645"}, Now: start.Add(4 * 24 * time.Hour)}
				res, err := Assess(ctx, ev, opts)
				if err != nil {
					t.Fatal(err)
				}
				sr := res.Subjects[0]
				var got []string
				for _, c := range sr.Contradictions {
					got = append(got, c.Source)
					if len(c.Refs) == 0 || c.Observed == "" || c.Declared == "" {
						t.Errorf("%s: contradiction without evidence: %+v", tc.decl.Source, c)
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: contradictions from %v, want %v: %+v", tc.decl.Source, got, tc.want, sr.Contradictions)
				}
				// Without the declaration's contradictions the tier is one step higher.
				plain := tier2(sr.Counts, sr.Baselines)
				if tc.want != nil {
					if sr.Tier != lowerTier(plain) || sr.Tier == plain && plain != "E" || !strings.Contains(sr.TierReason, "contradicted") {
						t.Errorf("%s: tier %s (%s), want one below %s", tc.decl.Source, sr.Tier, sr.TierReason, plain)
					}
					for _, c := range sr.Contradictions {
						var ids []string
						for _, r := range c.Refs {
							ids = append(ids, r.ID)
						}
						switch c.Source {
						case SourceRescans:
							if !slices.Equal(ids, sortedIPs(laggards)) {
								t.Errorf("units behind: %v, truth %v", ids, sortedIPs(laggards))
							}
						case SourceAudit:
							if len(ids) < len(weak) {
								t.Errorf("weak credentials on %v, truth has %d weak units", ids, len(weak))
							}
						}
					}
					n := 0
					for _, f := range res.Findings() {
						if f.Kind == FindingContradiction && f.Subject == model645 {
							n++
						}
					}
					if n != len(tc.want) {
						t.Errorf("%d contradiction findings, want %d", n, len(tc.want))
					}
					// Saved as the assess run's findings, which the API serves
					// (/api/runs/{id}/findings).
					id, err := Save(ctx, st, res, []string{"product " + model645})
					if err != nil {
						t.Fatal(err)
					}
					fs, err := st.Findings(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					n = 0
					for _, f := range fs {
						if f.Kind == FindingContradiction && strings.Contains(f.Detail, "declared /") && len(f.Evidence) > 0 {
							n++
						}
					}
					if n != len(tc.want) {
						t.Errorf("%d contradiction findings stored, want %d", n, len(tc.want))
					}
				} else if sr.Tier != plain || strings.Contains(sr.TierReason, "contradicted") {
					t.Errorf("%s: tier %s (%s), want %s", tc.decl.Source, sr.Tier, sr.TierReason, plain)
				}
			}
		})
	}
}

// tier2 recomputes the tier from the provisions alone.
func tier2(c Counts, bls []BaselineResult) string {
	var critical []string
	for _, b := range bls {
		for _, p := range b.Provisions {
			if p.Outcome == Fail && slices.Contains(criticalRules, strings.Split(p.Rule, "+")[0]) {
				critical = append(critical, p.ID)
			}
		}
	}
	t, _ := tier(c, critical)
	return t
}

func sortedIPs(ips []string) []string {
	out := slices.Clone(ips)
	slices.SortFunc(out, func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) })
	return out
}
