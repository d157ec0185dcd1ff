package vuln

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/model"
)

// TestRematch stores a scan with matches, then changes the data three ways
// (a distribution advisory fixes one CVE, NVD rejects another, a new
// advisory appears) and re-matches without a rescan.
func TestRematch(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	st := d.st
	scan := &model.Run{Kind: "scan", Targets: []string{"192.0.2.0/30"}}
	if err := st.StartRun(ctx, scan); err != nil {
		t.Fatal(err)
	}
	fp := model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: "9.2p1", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*",
		Distro: model.Distro{Name: "debian", Release: "12", Package: "openssh", Version: "9.2p1-2+deb12u10"}}
	svcs := []model.Service{{IP: netip.MustParseAddr("192.0.2.10"), Port: 22, Transport: model.TCP, Protocol: "ssh", Status: model.StatusSuccess, Fingerprint: &fp}}
	if err := st.SaveServices(ctx, scan.ID, svcs); err != nil {
		t.Fatal(err)
	}
	base, err := d.MatchServices(ctx, svcs)
	if err != nil {
		t.Fatal(err)
	}
	if find(base, "CVE-2024-6387") == nil || find(base, "CVE-2023-38408") == nil {
		t.Fatalf("baseline %v, want CVE-2024-6387 and CVE-2023-38408", cves(base))
	}
	if err := st.SaveVulnMatches(ctx, scan.ID, base); err != nil {
		t.Fatal(err)
	}
	if err := st.EndRun(ctx, scan, nil); err != nil {
		t.Fatal(err)
	}

	// Nothing changed yet: a re-match finds no difference.
	res, err := d.Rematch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Matches != len(base) || res.Services != 1 {
		t.Fatalf("unchanged data: %+v, want no changes and %d matches", res, len(base))
	}

	if _, err := d.ImportFile(ctx, filepath.Join("testdata/distro", "DSA-5724-1.json"), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rejected := `{"id":"CVE-2023-38408","sourceIdentifier":"cve@mitre.org","published":"2023-07-20T03:15:10.170","lastModified":"2030-01-01T00:00:00.000",
		"vulnStatus":"Rejected","descriptions":[{"lang":"en","value":"** REJECT ** test"}]}`
	added := `{"schema_version":"1.6.0","id":"IOTW-2026-0001","modified":"2026-12-01T00:00:00Z","summary":"test advisory",
		"affected":[{"package":{"ecosystem":"Bitnami","name":"openssh"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"9.0"},{"fixed":"9.9"}]}]}]}`
	for _, doc := range []string{rejected, added} {
		if _, err := d.Import(ctx, strings.NewReader(doc), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = d.Rematch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CVE-2024-6387": ChangeFixed, "CVE-2023-38408": ChangeWithdrawn, "IOTW-2026-0001": ChangeNew}
	if len(res.Changes) != len(want) || res.New != 1 || res.Withdrawn != 1 || res.Fixed != 1 {
		t.Fatalf("changes %+v, want %v", res.Changes, want)
	}
	for _, c := range res.Changes {
		if want[c.CVE] != c.Change || c.Subject != "192.0.2.10" || c.Port != 22 {
			t.Errorf("change %+v, want %s on 192.0.2.10:22", c, want[c.CVE])
		}
		if c.Change == ChangeFixed && !strings.Contains(c.Detail, "DSA-5724-1") {
			t.Errorf("fixed without the advisory as evidence: %+v", c)
		}
	}
	stored, err := d.RematchChanges(ctx, res.Run)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored changes %+v, %v", stored, err)
	}
	run, err := st.Run(ctx, res.Run)
	if err != nil || run.Kind != RunKindRematch || run.Status != model.RunComplete || run.Counts["fixed"] != 1 {
		t.Errorf("run %+v, %v", run, err)
	}
	ms, err := st.VulnMatches(ctx, res.Run)
	if err != nil || find(ms, "IOTW-2026-0001") == nil || find(ms, "CVE-2024-6387") != nil {
		t.Errorf("re-match run's matches %v, %v", cves(ms), err)
	}
	// The next re-match compares with this one: nothing new.
	res, err = d.Rematch(ctx)
	if err != nil || len(res.Changes) != 0 {
		t.Errorf("second re-match: %+v, %v; want no changes", res, err)
	}
}

func TestRematchNothingStored(t *testing.T) {
	d := openDB(t)
	if _, err := d.Rematch(context.Background()); err == nil {
		t.Error("re-match of an empty store succeeded")
	}
}

// TestRematchInventory: the re-match covers the whole stored inventory,
// not only the newest scan, and compares each endpoint with what the
// newest run that identified it said.
func TestRematchInventory(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	st := d.st
	scan := func(ip, version string) int64 {
		t.Helper()
		r := &model.Run{Kind: "scan", Targets: []string{ip}}
		if err := st.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		fp := model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: version}
		svcs := []model.Service{{IP: netip.MustParseAddr(ip), Port: 22, Transport: model.TCP, Protocol: "ssh", Status: model.StatusSuccess, Fingerprint: &fp}}
		ms, err := d.MatchServices(ctx, svcs)
		if err == nil {
			err = st.SaveServices(ctx, r.ID, svcs)
		}
		if err == nil {
			err = st.SaveVulnMatches(ctx, r.ID, ms)
		}
		if err := st.EndRun(ctx, r, err); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	a := scan("192.0.2.1", "9.2p1")
	b := scan("192.0.2.2", "9.2p1")
	res, err := d.Rematch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Services != 2 || len(res.Changes) != 0 || len(res.Compared) != 2 || res.Compared[0] != a || res.Compared[1] != b {
		t.Fatalf("two scans: %+v, want both services, runs %d and %d compared, no changes", res, a, b)
	}
	if got := len(res.Changes); got != 0 {
		t.Fatalf("changes %+v", res.Changes)
	}
	// 192.0.2.1 is upgraded and scanned again: its newest run's matches
	// are the baseline, so the older scan's CVE-2024-6387 is not "withdrawn".
	c := scan("192.0.2.1", "9.9p1")
	res, err = d.Rematch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Services != 2 || len(res.Changes) != 0 || !slices.Equal(res.Compared, []int64{b, c}) {
		t.Fatalf("after the rescan: %+v, want runs %d and %d compared and no changes", res, b, c)
	}
	ms, err := st.VulnMatches(ctx, res.Run)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.CVE == "CVE-2024-6387" && m.IP.String() != "192.0.2.2" {
			t.Errorf("CVE-2024-6387 on %s, want it only on 192.0.2.2 (192.0.2.1 runs 9.9p1 now)", m.IP)
		}
	}
	if find(ms, "CVE-2024-6387") == nil {
		t.Errorf("re-match lost 192.0.2.2's CVE-2024-6387: %v", cves(ms))
	}
}
