package report

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"iotwatch/internal/stats"
)

// TestInsight checks the insight sections against the fixture, counted by
// hand: devices 1, 3 and 7 of the 11 sampled devices (and one device outside
// the sample) were under unauthorized control; device 2 was attacked on its
// web server.
func TestInsight(t *testing.T) {
	st := openStore(t)
	r, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	f := r.Fall
	if f == nil {
		t.Fatalf("no fall section: %v", r.Absent[SecFall])
	}
	if f.Compromised != 4 || f.InSample != 3 || f.Others != 8 {
		t.Errorf("compromised %d, in sample %d, others %d; want 4, 3, 8", f.Compromised, f.InSample, f.Others)
	}
	got := map[string][2]int{}
	for _, x := range f.Reasons {
		got[x.Key] = [2]int{x.Devices, x.Others}
		if x.CI95 != stats.Wilson(x.Devices, f.InSample) || x.OthersCI95 != stats.Wilson(x.Others, f.Others) {
			t.Errorf("%s: intervals %v %v", x.Key, x.CI95, x.OthersCI95)
		}
	}
	want := map[string][2]int{
		reasonWeak:                   {2, 4}, // 1, 3 | 2, 5, 8, 12
		"default password on telnet": {2, 2}, // 1, 3 | 2, 12
		"default password on http":   {1, 0},
		reasonKEV:                    {1, 1}, // 1 | 2
		reasonCleartext:              {3, 7}, // every device with an open web server but 12
		reasonNone:                   {0, 0},
		reasonFirmware:               {0, 0}, // no image names a fixture model
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if f.Reasons[0].Key != reasonCleartext {
		t.Errorf("first reason %q, want the most common", f.Reasons[0].Key)
	}
	vendors := map[string][2]int{}
	for _, g := range f.ByVendor {
		vendors[g.Key] = [2]int{g.Devices, g.Weak}
	}
	if diff := cmp.Diff(map[string][2]int{"Hikvision": {2, 2}, "Dahua": {1, 0}}, vendors); diff != "" {
		t.Errorf("by vendor (-want +got):\n%s", diff)
	}
	if len(f.Devices) != 4 || f.Devices[3].Device != ip(40) || f.Devices[3].InSample {
		t.Fatalf("devices %+v, want 4 with 127.20.0.40 last and outside the sample", f.Devices)
	}
	d1 := f.Devices[0]
	if d1.Device != ip(1) || len(d1.Days) != 2 || len(d1.Evidence) == 0 {
		t.Errorf("device 1: %+v", d1)
	}
	for _, e := range d1.Evidence {
		if strings.Contains(e, "12345") {
			t.Errorf("evidence %q shows a secret", e)
		}
	}

	type row struct {
		CVE                          string
		Units, Compromised, Attacked int
		KEV                          bool
	}
	var risk []row
	for _, x := range r.Risk {
		risk = append(risk, row{x.CVE, x.Units, x.Compromised, x.Attacked, x.KEV})
	}
	wantRisk := []row{
		{"CVE-2021-36260", 2, 1, 1, true},
		{"CVE-2023-38408", 1, 0, 0, false}, // CVSS 9.8 before 7.5
		{"CVE-2022-30525", 1, 0, 0, false},
	}
	if diff := cmp.Diff(wantRisk, risk, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("risk (-want +got):\n%s", diff)
	}
}

// TestInsightAbsent: without alerts wired, or with none, both sections say
// why they are absent.
func TestInsightAbsent(t *testing.T) {
	st := openStore(t)
	in := fixtureInputs(fillStore(t, st))
	in.Alerts = nil
	r, err := Build(context.Background(), st, in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fall != nil || r.Risk != nil || r.Absent[SecFall] == "" || r.Absent[SecRisk] == "" {
		t.Errorf("unwired: fall %v risk %v absent %q %q", r.Fall, r.Risk, r.Absent[SecFall], r.Absent[SecRisk])
	}
	in.Alerts = func(context.Context) ([]AlertRow, error) { return nil, nil }
	if r, err = Build(context.Background(), st, in); err != nil {
		t.Fatal(err)
	}
	if r.Fall != nil || r.Absent[SecFall] == "" {
		t.Errorf("no alerts: fall %v absent %q", r.Fall, r.Absent[SecFall])
	}
	if len(r.Risk) != 3 || r.Risk[0].Compromised != 0 {
		t.Errorf("no alerts: risk %+v, want the three CVEs without exploitation seen", r.Risk)
	}
}

// TestSharedKeys: the fixture's two DVRs with SSH serve one host key whose
// private half is in fw/archer.bin; no other service presents a key.
func TestSharedKeys(t *testing.T) {
	st := openStore(t)
	r, err := Build(context.Background(), st, fixtureInputs(fillStore(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	k := r.SharedKeys
	if k == nil {
		t.Fatalf("no shared keys: %s", r.Absent[SecSharedKeys])
	}
	if k.KeyedDevices != 2 || k.Sharing != 2 || k.FromFirmware != 2 || len(k.Keys) != 1 {
		t.Fatalf("shared keys %+v, want 2 keyed devices sharing one key found in firmware", k)
	}
	want := SharedKey{Kind: "ssh-host-key", Type: "ssh-rsa", Fingerprint: sharedHostKey, Devices: []netip.Addr{ip(5), ip(6)},
		Products: []string{"Dahua DH-XVR5108"}, Images: []string{"fw/archer.bin"}}
	if diff := cmp.Diff(want, k.Keys[0], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("key (-want +got):\n%s", diff)
	}
}
