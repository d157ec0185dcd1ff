package vuln

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/vex"
)

const testVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.invalid/vex/site-1",
  "author": "site operator",
  "timestamp": "2026-12-01T00:00:00Z",
  "statements": [
    {"vulnerability": {"name": "CVE-2024-6387"}, "products": [{"@id": "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
     "impact_statement": "sshd runs with LoginGraceTime 0."},
    {"vulnerability": {"name": "CVE-2023-38408"}, "products": [{"@id": "pkg:generic/openssh@9.3p1"}], "status": "under_investigation"},
    {"vulnerability": {"name": "CVE-2023-38408"}, "products": [{"@id": "192.0.2.10"}], "status": "fixed", "statement": "agent forwarding disabled"}
  ]
}`

func TestVEXAppliedToMatches(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	sts, err := vex.Read(strings.NewReader(testVEX))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.ImportVEX(ctx, sts); err != nil || n != 3 {
		t.Fatalf("ImportVEX = %d, %v; want 3", n, err)
	}
	fp92 := model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"}
	all, err := d.MatchFingerprintAll(ctx, fp92)
	if err != nil {
		t.Fatal(err)
	}
	m := find(all, "CVE-2024-6387")
	if m == nil || m.Status != "not_affected" || m.Justification != "vulnerable_code_not_in_execute_path" || m.Advisory != "VEX https://example.invalid/vex/site-1" {
		t.Fatalf("CVE-2024-6387 on 9.2p1 = %+v, want not_affected with the statement as evidence", m)
	}
	aff, _ := d.MatchFingerprint(ctx, fp92)
	if find(aff, "CVE-2024-6387") != nil || find(aff, "CVE-2023-38408") == nil {
		t.Errorf("9.2p1 affected by %v, want CVE-2023-38408 and not CVE-2024-6387", cves(aff))
	}
	// Another version is not what the statement is about.
	aff, _ = d.MatchFingerprint(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.1p1"})
	if find(aff, "CVE-2024-6387") == nil {
		t.Errorf("9.1p1 affected by %v, want CVE-2024-6387 (the statement names 9.2p1)", cves(aff))
	}
	// under_investigation annotates and still counts.
	aff, _ = d.MatchFingerprint(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.3p1"})
	if m := find(aff, "CVE-2023-38408"); m == nil || m.Status != "under_investigation" {
		t.Errorf("9.3p1 CVE-2023-38408 = %+v, want it counted, under investigation", m)
	}
	// A statement about a device applies to that device only.
	svc := func(ip string) model.Service {
		return model.Service{IP: netip.MustParseAddr(ip), Port: 22, Fingerprint: &fp92}
	}
	out, err := d.MatchServices(ctx, []model.Service{svc("192.0.2.10"), svc("192.0.2.11")})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{}
	for _, m := range out {
		by[m.IP.String()] = append(by[m.IP.String()], m.CVE)
	}
	has := func(ip, id string) bool { return strings.Contains(strings.Join(by[ip], " "), id) }
	if has("192.0.2.10", "CVE-2023-38408") || !has("192.0.2.11", "CVE-2023-38408") {
		t.Errorf("device statement: matches %v, want CVE-2023-38408 on .11 only", by)
	}
	// Re-importing the document replaces its statements.
	if n, err := d.ImportVEX(ctx, sts[:1]); err != nil || n != 1 {
		t.Fatalf("re-import = %d, %v", n, err)
	}
	aff, _ = d.MatchFingerprint(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.3p1"})
	if m := find(aff, "CVE-2023-38408"); m == nil || m.Status != "" {
		t.Errorf("after replacing the document: %+v, want no status", m)
	}
}

// VEX written for firmware findings reads back with the same verdicts.
func TestVEXDocumentForFirmware(t *testing.T) {
	ms := []model.VulnMatch{
		{Subject: "fw.bin:/bin/busybox", CPE: "cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*", CVE: "CVE-2022-48174"},
		{Subject: "fw.bin:/usr/sbin/dnsmasq", CPE: "cpe:2.3:a:thekelleys:dnsmasq:2.85:*:*:*:*:*:*:*", CVE: "CVE-2022-48174"},
		{Subject: "fw.bin:/usr/sbin/sshd", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", CVE: "CVE-2024-6387",
			Status: "fixed", Advisory: "DSA-5724-1", FixedIn: "1:9.2p1-2+deb12u3"},
		{Subject: "fw.bin:/usr/sbin/sshd", CPE: "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", CVE: "CVE-2023-38408",
			Status: "not_affected", Justification: "vulnerable_code_not_present", Advisory: "VEX x"},
	}
	var b strings.Builder
	if err := vex.WriteOpenVEX(&b, VEXDocument("urn:iotwatch:run:7:vex", "iotwatch", ms)); err != nil {
		t.Fatal(err)
	}
	sts, err := vex.Read(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	got := map[string]string{}
	for _, s := range sts {
		got[s.Product+" "+s.Vulnerability] = s.Status + " " + s.Justification
	}
	want := map[string]string{
		"cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:* CVE-2022-48174":  "affected ",
		"cpe:2.3:a:thekelleys:dnsmasq:2.85:*:*:*:*:*:*:* CVE-2022-48174": "affected ",
		"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:* CVE-2024-6387":     "fixed ",
		"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:* CVE-2023-38408":    "not_affected vulnerable_code_not_present",
	}
	if len(got) != len(want) {
		t.Fatalf("statements %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}
