package store

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"iotwatch/internal/model"
)

// TestUpdatedUnitLosesItsVulnerability checks that a vulnerability an older
// scan matched on a port no longer counts once a newer scan saw that port
// and did not match it (the unit installed the fixing firmware, as the
// demo's D-Link DIR-645s do): the inventory listed every unit that had ever
// run the old firmware as KEV-vulnerable, 72 KEV devices on the dashboard's
// device list against the report's 49 after `make demo`. A re-match without
// a rescan still counts, and a timeout says nothing about the port.
func TestUpdatedUnitLosesItsVulnerability(t *testing.T) {
	const (
		router = "127.20.0.3" // updates between the scans
		camera = "127.20.0.4" // the same vulnerability on both scans
		gone   = "127.20.0.5" // times out on the second scan
	)
	old := model.VulnMatch{IP: netip.MustParseAddr(router), Port: 80, CVE: "CVE-2015-2051", KEV: true,
		CPE: "cpe:2.3:o:dlink:dir-645_firmware:1.03:*:*:*:*:*:*:*", CVSS: 9.8, Severity: model.SeverityCritical}
	cam := model.VulnMatch{IP: netip.MustParseAddr(camera), Port: 80, CVE: "CVE-2021-36260", KEV: true,
		CPE: "cpe:2.3:o:hikvision:ds-2cd2046g2-iu\\/sl_firmware:*:*:*:*:*:*:*:*", CVSS: 9.8, Severity: model.SeverityCritical}
	ssh := model.VulnMatch{IP: netip.MustParseAddr(gone), Port: 22, CVE: "CVE-2024-6387",
		CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", CVSS: 8.1, Severity: model.SeverityHigh}
	later := model.VulnMatch{IP: netip.MustParseAddr(router), Port: 80, CVE: "CVE-2019-10891",
		CPE: "cpe:2.3:o:dlink:dir-645_firmware:1.05b01:*:*:*:*:*:*:*", CVSS: 9.8, Severity: model.SeverityCritical}
	web := func(ip string) model.Service {
		return model.Service{IP: netip.MustParseAddr(ip), Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP, Status: model.StatusSuccess}
	}
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			record := func(kind string, stages []string, svcs []model.Service, ms ...model.VulnMatch) int64 {
				t.Helper()
				run := &model.Run{Kind: kind, Targets: []string{"127.20.0.0/24"}, Stages: stages}
				if err := s.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				if err := s.SaveServices(ctx, run.ID, svcs); err != nil {
					t.Fatal(err)
				}
				if err := s.SaveVulnMatches(ctx, run.ID, ms); err != nil {
					t.Fatal(err)
				}
				run.Status = model.RunComplete
				if err := s.FinishRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				return run.ID
			}
			scan := []string{"discovery", "handshake", "fingerprint", "vulns"}
			sshUp := svc(gone, 22, "")
			sshDown := sshUp
			sshDown.Status = model.StatusTimeout
			r1 := record("scan", scan, []model.Service{web(router), web(camera), sshUp}, old, cam, ssh)
			r2 := record("scan", scan, []model.Service{web(router), web(camera), sshDown}, cam)

			ev, err := s.LoadEvidence(ctx, []int64{r1, r2})
			if err != nil {
				t.Fatal(err)
			}
			cves := func(vs []model.VulnMatch) []string {
				var out []string
				for _, v := range vs {
					out = append(out, v.IP.String()+" "+v.CVE)
				}
				slices.Sort(out)
				return out
			}
			want := []string{camera + " " + cam.CVE, gone + " " + ssh.CVE}
			if got := cves(ev.Vulns); !slices.Equal(got, want) {
				t.Errorf("evidence of both scans: matches %q, want %q", got, want)
			}
			d, err := s.Device(ctx, netip.MustParseAddr(router))
			if err != nil {
				t.Fatal(err)
			}
			if d.KEV || d.Vulns != 0 {
				t.Errorf("updated router: kev=%v vulns=%d, want no vulnerability", d.KEV, d.Vulns)
			}
			if d, err := s.Device(ctx, netip.MustParseAddr(camera)); err != nil || !d.KEV || d.Vulns != 1 {
				t.Errorf("camera: %+v, %v: want its KEV vulnerability kept", d, err)
			}
			rec, err := s.DeviceRecord(ctx, netip.MustParseAddr(router))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Vulns) != 0 {
				t.Errorf("updated router's record lists %q", cves(rec.Vulns))
			}

			// A re-match without a rescan counts until the next scan.
			r3 := record("rematch", []string{"vulns"}, nil, later)
			if d, err := s.Device(ctx, netip.MustParseAddr(router)); err != nil || d.Vulns != 1 || d.KEV {
				t.Errorf("router after a re-match: %+v, %v: want its one new match", d, err)
			}
			ev, err = s.LoadEvidence(ctx, []int64{r1, r2, r3})
			if err != nil {
				t.Fatal(err)
			}
			want = []string{router + " " + later.CVE, camera + " " + cam.CVE, gone + " " + ssh.CVE}
			if got := cves(ev.Vulns); !slices.Equal(got, want) {
				t.Errorf("evidence with the re-match: matches %q, want %q", got, want)
			}
		})
	}
}
