package label

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"

	"iotwatch/internal/assess"
	"iotwatch/internal/declare"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// stores returns a new SQLite store and, when IOTWATCH_TEST_PG names a
// server, a new PostgreSQL one.
func stores(t *testing.T) map[string]*store.Store { return backends.Stores(t) }

// TestNotCheckedIsNotAPass follows a D-Link DIR-645 1.03 (CVE-2015-2051 is
// in CISA's KEV catalogue) through scan + audit, a firmware analysis of some
// other image, then vulnerability matching: CRA "no known exploited
// vulnerabilities" is unknown and the label says "not checked" until the
// device's vulnerabilities were matched, then it fails with the CVE. A
// default password the maker declares absent but nobody tested is "not
// tested" on the label, never "none accepted".
func TestNotCheckedIsNotAPass(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dlink := model.Service{IP: ipAddr("10.7.0.1"), Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP, Status: model.StatusSuccess,
				Fingerprint: &model.Fingerprint{Vendor: "D-Link", Product: "DIR-645", Version: "1.03", DeviceType: "router",
					CPE: "cpe:2.3:h:dlink:dir-645:*:*:*:*:*:*:*:*", Confidence: 0.9}}
			record := func(kind string, stages []string, save func(id int64) error) {
				t.Helper()
				r := &model.Run{Kind: kind, Stages: stages}
				if err := st.StartRun(ctx, r); err != nil {
					t.Fatal(err)
				}
				if err := save(r.ID); err != nil {
					t.Fatal(err)
				}
				r.Status = model.RunComplete
				if err := st.FinishRun(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			record("audit", []string{"scan", "audit"}, func(id int64) error { return st.SaveServices(ctx, id, []model.Service{dlink}) })
			record("firmware", []string{"unpack", "components", "vulnerabilities"}, func(id int64) error {
				return st.SaveVulnMatches(ctx, id, []model.VulnMatch{{Subject: "other.bin:busybox", CVE: "CVE-2022-48174", CPE: "cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*"}})
			})
			kev := func() (assess.ProvisionResult, string) {
				t.Helper()
				ev, err := assess.LoadEvidence(ctx, st)
				if err != nil {
					t.Fatal(err)
				}
				res, err := assess.Assess(ctx, ev, assess.Options{Device: dlink.IP, Baselines: []string{assess.BaselineCRA}})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := Render(&buf, res, "text", Options{}); err != nil {
					t.Fatal(err)
				}
				for _, p := range res.Subjects[0].Baselines[0].Provisions {
					if p.ID == "cra-I-2a" {
						return p, buf.String()
					}
				}
				t.Fatal("no cra-I-2a")
				return assess.ProvisionResult{}, ""
			}
			p, text := kev()
			if p.Outcome != assess.Unknown || !strings.Contains(text, "[??] Known exploited vulnerabilities   not checked") {
				t.Errorf("after scan + audit: cra-I-2a %s (%s); label:\n%s\nwant unknown and \"not checked\"", p.Outcome, p.Reason, text)
			}
			record("demo", []string{"vulns"}, func(id int64) error {
				if err := st.SaveServices(ctx, id, []model.Service{dlink}); err != nil {
					return err
				}
				return st.SaveVulnMatches(ctx, id, []model.VulnMatch{{IP: dlink.IP, Port: 80, CVE: "CVE-2015-2051", CVSS: 9.8, KEV: true,
					CPE: "cpe:2.3:o:dlink:dir-645_firmware:1.03:*:*:*:*:*:*:*"}})
			})
			p, text = kev()
			if p.Outcome != assess.Fail || !strings.Contains(p.Reason, "CVE-2015-2051") || !strings.Contains(text, "[!!] Known exploited vulnerabilities   1: CVE-2015-2051") {
				t.Errorf("after vulnerability matching: cra-I-2a %s (%s); label:\n%s\nwant fail with CVE-2015-2051", p.Outcome, p.Reason, text)
			}
		})
	}
}

// TestDeclaredPasswordNotTested checks the label of a device whose maker
// declares unique passwords but which no audit tested.
func TestDeclaredPasswordNotTested(t *testing.T) {
	a := ipAddr("10.7.0.2")
	d, err := declare.Parse([]byte(`{"schema_version":"1","product":{"model":"HUB-9"},"manufacturer":{"name":"Acme","country":"GB"},
		"credentials":{"scheme":"unique-per-device"}}`), "hub.json")
	if err != nil {
		t.Fatal(err)
	}
	ev := assess.Evidence{
		Runs:         []model.Run{{ID: 1, Kind: "scan", Stages: []string{"discovery"}}},
		Assets:       []model.Asset{{IP: a, Vendor: "Acme", Product: "HUB-9"}},
		Services:     []model.Service{{IP: a, Port: 22, Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess}},
		Declarations: []*declare.Declaration{d},
	}
	res, err := assess.Assess(context.Background(), ev, assess.Options{Device: a})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, res, "text", Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[??] Default password                  not tested (maker declares none)") {
		t.Errorf("label:\n%s\nwant the default password \"not tested\"", buf.String())
	}
}

func ipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
