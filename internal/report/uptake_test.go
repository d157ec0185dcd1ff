package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// TestUptake follows four cameras over three scans 10 and 20 days apart:
// two update to 5.5.0 before the second scan, one more before the third,
// one never. CVE-2021-36260 was matched on 5.4.0 at the first scan: half of
// its units ran a fixed version 10 days later. A router seen in one scan
// only says nothing of uptake.
func TestUptake(t *testing.T) {
	for name, st := range backends.Stores(t) {
		t.Run(name, func(t *testing.T) { uptakeCase(t, st) })
	}
}

func uptakeCase(t *testing.T, st *store.Store) {
	ctx := context.Background()
	day0 := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	cam := func(n int, ver string) model.Service {
		return model.Service{IP: ip(n), Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP, Status: model.StatusSuccess,
			Time: day0, Fingerprint: &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2032", Version: ver, DeviceType: "ip-camera", Confidence: 0.9}}
	}
	scans := []struct {
		days     int
		versions []string // of cameras 1..4
	}{
		{0, []string{"5.4.0", "5.4.0", "5.4.0", "5.4.0"}},
		{10, []string{"5.5.0", "5.5.0", "5.4.0", "5.4.0"}},
		{30, []string{"5.5.0", "5.5.0", "5.5.0", "5.4.0"}},
	}
	var last *model.Run
	for i, sc := range scans {
		run := &model.Run{Kind: "scan", Targets: []string{"127.20.0.0/24"}, StartedAt: day0.AddDate(0, 0, sc.days)}
		must(t, st.StartRun(ctx, run))
		var svcs []model.Service
		for j, v := range sc.versions {
			svcs = append(svcs, cam(j+1, v))
		}
		if i == 1 {
			svcs = append(svcs, model.Service{IP: ip(9), Port: 22, Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess, Time: day0,
				Fingerprint: &model.Fingerprint{Vendor: "MikroTik", Product: "RouterOS", Version: "6.49", DeviceType: "router", Confidence: 0.9}})
		}
		must(t, st.SaveServices(ctx, run.ID, svcs))
		if i == 0 {
			var ms []model.VulnMatch
			for n := 1; n <= 4; n++ {
				ms = append(ms, model.VulnMatch{IP: ip(n), Port: 80, CVE: "CVE-2021-36260", KEV: true, CVSS: 9.8, Severity: model.SeverityCritical,
					CPE: "cpe:2.3:o:hikvision:ds-2cd2032_firmware:5.4.0:*:*:*:*:*:*:*"})
			}
			must(t, st.SaveVulnMatches(ctx, run.ID, ms))
		}
		run.Status, run.EndedAt = model.RunComplete, run.StartedAt.Add(time.Minute)
		must(t, st.FinishRun(ctx, run))
		last = run
	}
	r, err := Build(ctx, st, Inputs{RunIDs: []int64{last.ID}})
	if err != nil {
		t.Fatal(err)
	}
	u := r.Uptake
	if u == nil {
		t.Fatalf("no uptake: %s", r.Absent[SecUptake])
	}
	if len(u.Scans) != 3 || len(u.Products) != 1 {
		t.Fatalf("scans %d, products %+v; want 3 scans and only the cameras", len(u.Scans), u.Products)
	}
	p := u.Products[0]
	if p.Vendor != "Hikvision" || p.Newest != "5.5.0" || p.Tracked != 4 || p.NeverUpdated != 1 {
		t.Errorf("product %s %s newest %s tracked %d never updated %d; want 5.5.0, 4, 1", p.Vendor, p.Product, p.Newest, p.Tracked, p.NeverUpdated)
	}
	type point struct {
		Units    int
		OnNewest float64
		Versions []Count
	}
	var got []point
	for _, pt := range p.Series {
		got = append(got, point{pt.Units, pt.OnNewest, pt.Versions})
	}
	want := []point{
		{4, 0, []Count{{Key: "5.4.0", Devices: 4}}},
		{4, 0.5, []Count{{Key: "5.5.0", Devices: 2}, {Key: "5.4.0", Devices: 2}}},
		{4, 0.75, []Count{{Key: "5.5.0", Devices: 3}, {Key: "5.4.0", Devices: 1}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if len(p.CVEs) != 1 {
		t.Fatalf("cves %+v, want CVE-2021-36260", p.CVEs)
	}
	c := p.CVEs[0]
	if c.CVE != "CVE-2021-36260" || !c.KEV || c.AffectedFirst != 4 || c.AffectedLast != 1 || c.HalfFixedDays == nil || *c.HalfFixedDays != 10 ||
		!c.FirstSeen.Equal(day0) || len(c.Affected) != 1 || c.Affected[0] != "5.4.0" {
		t.Errorf("cve uptake %+v (half fixed after %v days), want 4 affected, 1 left, half fixed after 10 days", c, c.HalfFixedDays)
	}
	// Rescans without a credential audit measure no weak-credential
	// share: the trend has none, and charts the devices found instead.
	if len(r.Trends) != 3 {
		t.Fatalf("trends %+v, want the three scans", r.Trends)
	}
	for _, tp := range r.Trends {
		if tp.WeakPasswordShare != nil {
			t.Errorf("run %d: weak share %v without an audit", tp.RunID, *tp.WeakPasswordShare)
		}
	}
	if chart := string(trendChart(r.Trends)); !strings.Contains(chart, "Devices found across runs") {
		t.Errorf("trend chart of unaudited scans: %.200s", chart)
	}
	var html strings.Builder
	if err := r.Write(&html, "html"); err != nil {
		t.Fatal(err)
	}
	if h := html.String(); !strings.Contains(h, "<td>10.0 days</td>") || strings.Contains(h, "%!") {
		t.Errorf("html: half fixed after 10 days not printed as such, or a formatting error: %q", h[strings.Index(h, `id="uptake"`):][:2000])
	}
}
