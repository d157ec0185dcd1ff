package vuln

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln/cpe"
)

const sharedVuln = "../../../shared/data/vuln"

func openDB(t testing.TB) *DB {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iotwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixtureDB imports the shared NVD records and KEV catalogue.
func fixtureDB(t testing.TB) *DB {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	if len(files) == 0 {
		t.Skip("shared fixtures not present")
	}
	d := openDB(t)
	ctx := context.Background()
	for _, f := range append(files, filepath.Join(sharedVuln, "kev.json")) {
		if _, err := d.ImportFile(ctx, f, ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	return d
}

func cves(ms []model.VulnMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.CVE)
	}
	return out
}

func find(ms []model.VulnMatch, id string) *model.VulnMatch {
	for i := range ms {
		if ms[i].CVE == id {
			return &ms[i]
		}
	}
	return nil
}

func TestMatchProducts(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	tests := []struct {
		name                 string
		vendor, product, ver string
		device               string
		want, notWant        []string
	}{
		{"openssh 9.2p1", "", "OpenSSH", "9.2p1", "", []string{"CVE-2024-6387", "CVE-2023-38408"}, nil},
		{"openssh 9.8p1 patched", "", "OpenSSH", "9.8p1", "", nil, []string{"CVE-2024-6387", "CVE-2023-38408"}},
		{"openssh 9.8 without p-level is listed", "", "openssh", "9.8", "", []string{"CVE-2024-6387"}, []string{"CVE-2023-38408"}},
		{"openssh 9.3p2 fixed 38408", "openbsd", "openssh", "9.3p2", "", []string{"CVE-2024-6387"}, []string{"CVE-2023-38408"}},
		{"openssh 9.3p1 listed", "", "openssh", "9.3p1", "", []string{"CVE-2024-6387", "CVE-2023-38408"}, nil},
		{"openssh 8.5p1 exact criterion", "", "openssh", "8.5p1", "", []string{"CVE-2024-6387", "CVE-2023-38408"}, nil},
		{"openssh 8.4p1 before regression", "", "openssh", "8.4p1", "", []string{"CVE-2023-38408"}, []string{"CVE-2024-6387"}},
		{"openssh 4.3p2 before 4.4", "", "openssh", "4.3p2", "", []string{"CVE-2024-6387"}, nil},
		{"openssh debian package version", "", "OpenSSH", "1:9.2p1-2+deb12u3", "", []string{"CVE-2024-6387"}, nil},
		{"openssh banner version", "", "OpenSSH", "8.5p1 Debian-2+deb11u3", "", []string{"CVE-2024-6387", "CVE-2023-38408"}, nil},
		{"dnsmasq 2.77", "", "dnsmasq", "2.77", "", []string{"CVE-2017-14491", "CVE-2017-14492", "CVE-2017-14493", "CVE-2020-25681"}, nil},
		{"dnsmasq 2.78", "", "dnsmasq", "2.78", "", []string{"CVE-2020-25681"}, []string{"CVE-2017-14491"}},
		{"dnsmasq 2.90", "", "dnsmasq", "2.90", "", nil, []string{"CVE-2017-14491", "CVE-2020-25681"}},
		{"curl 7.88.1", "", "curl", "7.88.1", "", []string{"CVE-2023-38545", "CVE-2023-38546", "CVE-2023-27533"}, nil},
		{"curl 8.4.0", "", "curl", "8.4.0", "", nil, []string{"CVE-2023-38545", "CVE-2023-38546"}},
		{"openssl 1.0.2q", "", "OpenSSL", "1.0.2q", "", []string{"CVE-2022-0778"}, nil},
		{"openssl 1.0.2zd fixed", "", "openssl", "1.0.2zd", "", nil, []string{"CVE-2022-0778"}},
		{"openssl 1.1.1m", "", "openssl", "1.1.1m", "", []string{"CVE-2022-0778"}, nil},
		{"openssl 1.1.1n fixed", "", "openssl", "1.1.1n", "", nil, []string{"CVE-2022-0778"}},
		{"openssl 3.0.10", "", "openssl", "3.0.10", "", nil, []string{"CVE-2022-0778"}},
		{"busybox 1.35.0", "", "BusyBox", "1.35.0", "", []string{"CVE-2022-28391", "CVE-2022-48174"}, nil},
		{"busybox 1.36.1", "", "busybox", "1.36.1", "", []string{"CVE-2022-48174"}, []string{"CVE-2022-28391"}},
		{"busybox 1.37.0", "", "busybox", "1.37.0", "", nil, []string{"CVE-2022-48174"}},
		{"mosquitto 2.0.11", "", "mosquitto", "2.0.11", "", []string{"CVE-2021-34434", "CVE-2023-28366"}, nil},
		{"mosquitto 2.0.18", "", "Mosquitto", "2.0.18", "", nil, []string{"CVE-2021-34434", "CVE-2023-28366"}},
		{"net-snmp 5.9.3", "", "Net-SNMP", "5.9.3", "", []string{"CVE-2022-44792"}, nil},
		{"vsftpd", "", "vsftpd", "3.0.3", "", []string{"CVE-2021-3618"}, nil},
		{"hikvision camera", "Hikvision", "DS-2CD2026G2-IU/SL", "V5.5.0 build 210628", "camera", []string{"CVE-2021-36260"}, nil},
		{"tp-link archer ax21 1.1.3", "TP-Link", "Archer AX21", "1.1.3", "router", []string{"CVE-2023-1389"}, nil},
		{"tp-link archer ax21 1.1.4", "TP-Link", "Archer AX21", "1.1.4", "router", nil, []string{"CVE-2023-1389"}},
		{"tenda ac15", "Tenda", "AC15", "15.03.05.19", "router", []string{"CVE-2020-10987"}, nil},
		{"tenda ac15 other build", "Tenda", "AC15", "15.03.05.20", "router", nil, []string{"CVE-2020-10987"}},
		{"zyxel usg flex 100w", "Zyxel", "USG FLEX 100W", "5.21", "firewall", []string{"CVE-2022-30525"}, nil},
		{"d-link spelling", "D-Link", "DIR-645", "1.03", "router", []string{"CVE-2015-2051"}, nil},
		{"realtek sdk", "", "Realtek SDK", "3.4.11", "", []string{"CVE-2021-35394"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := d.MatchFingerprint(ctx, model.Fingerprint{Vendor: tt.vendor, Product: tt.product, Version: tt.ver, DeviceType: tt.device})
			if err != nil {
				t.Fatal(err)
			}
			got := cves(ms)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("%s %s: missing %s; got %v", tt.product, tt.ver, w, got)
				}
			}
			for _, n := range tt.notWant {
				if slices.Contains(got, n) {
					t.Errorf("%s %s: unexpected %s", tt.product, tt.ver, n)
				}
			}
		})
	}
}

func TestMatchDetails(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	ms, err := d.MatchFingerprint(ctx, model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", Version: "V5.5.0", DeviceType: "camera"})
	if err != nil {
		t.Fatal(err)
	}
	m := find(ms, "CVE-2021-36260")
	if m == nil {
		t.Fatalf("no CVE-2021-36260 in %v", cves(ms))
	}
	if !m.KEV || m.KEVDue != "2022-01-24" {
		t.Errorf("KEV = %v due %q, want true 2022-01-24", m.KEV, m.KEVDue)
	}
	if m.CVSS != 9.8 || m.Severity != model.SeverityCritical || m.CVSSVector == "" {
		t.Errorf("cvss %v %q severity %v", m.CVSS, m.CVSSVector, m.Severity)
	}
	if len(m.CWEs) == 0 || m.CWEs[0] != "CWE-78" {
		t.Errorf("cwes = %v, want CWE-78", m.CWEs)
	}
	if m.Product != "DS-2CD2026G2-IU/SL" || m.Summary == "" {
		t.Errorf("product %q summary %q", m.Product, m.Summary)
	}
	if ms[0].CVE != "CVE-2021-36260" {
		t.Errorf("KEV match should sort first, got %s", ms[0].CVE)
	}

	ms, err = d.MatchFingerprint(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"})
	if err != nil {
		t.Fatal(err)
	}
	if m := find(ms, "CVE-2024-6387"); m == nil || m.KEV || m.CVSS != 8.1 || m.Severity != model.SeverityHigh {
		t.Errorf("CVE-2024-6387 = %+v", m)
	}
}

func TestMatchCPE(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	tests := []struct {
		cpe     string
		want    []string
		notWant []string
	}{
		{"cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", []string{"CVE-2024-6387", "CVE-2023-38408"}, nil},
		{"cpe:2.3:a:openbsd:openssh:9.2p1", []string{"CVE-2024-6387"}, nil},
		{"cpe:2.3:a:openbsd:openssh:9.8:p1:*:*:*:*:*:*", nil, []string{"CVE-2024-6387"}},
		{"cpe:2.3:a:*:openssh:9.2p1", []string{"CVE-2024-6387"}, nil},
		{"cpe:/a:thekelleys:dnsmasq:2.77", []string{"CVE-2017-14491"}, nil},
		{"cpe:2.3:a:haxx:libcurl:7.88.1", []string{"CVE-2023-38545"}, nil},
		{"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:-:*:*:*:*:*:*:*", []string{"CVE-2021-36260"}, nil},
		{"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:5.5.0", []string{"CVE-2021-36260"}, nil},
		// Platforms ("running on", vulnerable=false) are conditions, not vulnerable products.
		{"cpe:2.3:h:hikvision:ds-2cd2026g2-iu\\/sl:-:*:*:*:*:*:*:*", nil, []string{"CVE-2021-36260"}},
		{"cpe:2.3:h:dlink:dir-645:a1", nil, []string{"CVE-2015-2051"}},
		{"cpe:2.3:h:tp-link:archer_ax21:-", nil, []string{"CVE-2023-1389"}},
		// Unknown version does not match versioned criteria.
		{"cpe:2.3:a:openbsd:openssh:*", nil, []string{"CVE-2024-6387"}},
		// Distribution CPEs listed as vulnerable do match.
		{"cpe:2.3:o:fedoraproject:fedora:37", []string{"CVE-2023-38408", "CVE-2023-38545"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.cpe, func(t *testing.T) {
			ms, err := d.MatchCPE(ctx, tt.cpe)
			if err != nil {
				t.Fatal(err)
			}
			got := cves(ms)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s; got %v", w, got)
				}
			}
			for _, n := range tt.notWant {
				if slices.Contains(got, n) {
					t.Errorf("unexpected %s", n)
				}
			}
		})
	}
	if _, err := d.MatchCPE(ctx, "not a cpe"); err == nil {
		t.Error("MatchCPE of garbage: no error")
	}
}

// A known hardware platform that is not the listed one defeats the match.
func TestPlatformKnownOther(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	fw := cpe.MustParse("cpe:2.3:o:tp-link:archer_ax21_firmware:1.1.3")
	ms, err := d.matchKnown(ctx, []cpe.Name{fw, cpe.MustParse("cpe:2.3:h:tp-link:archer_ax21:-")}, model.VulnMatch{})
	if err != nil || find(ms, "CVE-2023-1389") == nil {
		t.Errorf("firmware on its listed hardware: %v, %v", cves(ms), err)
	}
	ms, err = d.matchKnown(ctx, []cpe.Name{fw, cpe.MustParse("cpe:2.3:h:tp-link:archer_c7:-")}, model.VulnMatch{})
	if err != nil || find(ms, "CVE-2023-1389") != nil {
		t.Errorf("firmware on other hardware must not match: %v, %v", cves(ms), err)
	}
	ms, err = d.matchKnown(ctx, []cpe.Name{fw}, model.VulnMatch{})
	if err != nil || find(ms, "CVE-2023-1389") == nil {
		t.Errorf("firmware with unknown hardware (platform assumed): %v, %v", cves(ms), err)
	}
}

func TestEnsureSeed(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	if err := d.EnsureSeed(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := d.Count(ctx)
	k, _ := d.KEVCount(ctx)
	if n != 30 || k != 1404 {
		t.Fatalf("seed: %d CVEs, %d KEV; want 30, 1404", n, k)
	}
	if err := d.EnsureSeed(ctx); err != nil { // second call: no-op
		t.Fatal(err)
	}
	if n2, _ := d.Count(ctx); n2 != 30 {
		t.Errorf("after second EnsureSeed: %d", n2)
	}
	ms, err := d.MatchFingerprint(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"})
	if err != nil || find(ms, "CVE-2024-6387") == nil {
		t.Errorf("seeded match: %v %v", cves(ms), err)
	}
}

func TestImportIdempotentAndIncremental(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	f := filepath.Join(sharedVuln, "nvd", "CVE-2024-6387.json")
	res, err := d.ImportFile(ctx, f, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || res.Inserted+res.Updated != 0 {
		t.Errorf("re-import: %+v, want 1 unchanged", res)
	}
	// A newer lastModified replaces the record; an older one does not.
	data, _ := os.ReadFile(f)
	newer := replace(data, `"lastModified": "2024-07-09T06:15:03.513"`, `"lastModified": "2025-01-01T00:00:00.000"`)
	newer = replace(newer, `"baseScore": 8.1`, `"baseScore": 9.9`)
	res, err = d.Import(ctx, bytesReader(newer), ImportOptions{})
	if err != nil || res.Updated != 1 {
		t.Fatalf("newer: %+v %v", res, err)
	}
	e, err := d.Record(ctx, "cve-2024-6387")
	if err != nil || e.CVSS3.Score != 9.9 {
		t.Fatalf("after update: %+v %v", e, err)
	}
	res, err = d.Import(ctx, bytesReader(data), ImportOptions{})
	if err != nil || res.Unchanged != 1 {
		t.Errorf("older: %+v %v", res, err)
	}
	// Matching sees the update (caches are dropped).
	ms, _ := d.Match(ctx, "", "openssh", "9.2p1")
	if m := find(ms, "CVE-2024-6387"); m == nil || m.CVSS != 9.9 {
		t.Errorf("match after update: %+v", m)
	}
	// A rejected record removes the id.
	rej := replace(newer, `"vulnStatus": "Modified"`, `"vulnStatus": "Rejected"`)
	res, err = d.Import(ctx, bytesReader(rej), ImportOptions{})
	if err != nil || res.Rejected != 1 {
		t.Fatalf("rejected: %+v %v", res, err)
	}
	if _, err := d.Record(ctx, "CVE-2024-6387"); err == nil {
		t.Error("rejected record still stored")
	}
}

func TestImportTruncatedCommitsPrefixAndSaysSo(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	if len(files) < 3 {
		t.Skip("fixtures")
	}
	var page []byte
	page = append(page, `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[`...)
	for i, f := range files[:3] {
		b, _ := os.ReadFile(f)
		if i > 0 {
			page = append(page, ',')
		}
		page = append(page, `{"cve":`...)
		page = append(page, b...)
		page = append(page, '}')
	}
	cut := page[:len(page)-200]
	res, err := d.Import(ctx, bytesReader(cut), ImportOptions{BatchSize: 1})
	if err == nil {
		t.Fatal("truncated import: no error")
	}
	if res.Records != 2 {
		t.Errorf("records committed = %d, want 2 (err %v)", res.Records, err)
	}
	t.Log(err)
}

func TestClassifyIoTOnFixtures(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	want := map[string]bool{
		"CVE-2021-36260": true,  // Hikvision cameras
		"CVE-2023-1389":  true,  // TP-Link router firmware
		"CVE-2017-14491": true,  // dnsmasq, an embedded stack
		"CVE-2022-28391": true,  // BusyBox
		"CVE-2021-35394": true,  // Realtek SDK
		"CVE-2023-28366": true,  // Mosquitto
		"CVE-2024-6387":  false, // OpenSSH: general purpose
		"CVE-2023-38545": false, // curl
		"CVE-2022-0778":  false, // OpenSSL
	}
	for id, w := range want {
		e, err := d.Record(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if e.IoT != w {
			t.Errorf("%s IoT = %v (%s), want %v", id, e.IoT, e.IoTReason, w)
		}
	}
}

func TestMatchServices(t *testing.T) {
	d := fixtureDB(t)
	ip := netip.MustParseAddr("127.0.0.5")
	svcs := []model.Service{
		{IP: ip, Port: 22, Protocol: model.ProtoSSH, Fingerprint: &model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: "9.2p1", Confidence: 0.9}},
		{IP: ip, Port: 53, Protocol: "dns", Fingerprint: &model.Fingerprint{Product: "dnsmasq", Version: "2.77"}},
		{IP: ip, Port: 80, Protocol: model.ProtoHTTP},
	}
	ms, err := d.MatchServices(context.Background(), svcs)
	if err != nil {
		t.Fatal(err)
	}
	m := find(ms, "CVE-2024-6387")
	if m == nil || m.IP != ip || m.Port != 22 || m.Product != "OpenSSH" || m.Version != "9.2p1" {
		t.Errorf("ssh match = %+v", m)
	}
	if m := find(ms, "CVE-2017-14491"); m == nil || m.Port != 53 {
		t.Errorf("dnsmasq match = %+v", m)
	}
}

// An OSV advisory aliasing a CVE that matched too is reported once, as the CVE.
func TestMatchDropsAliases(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	osv := `{"schema_version":"1.6.0","id":"GHSA-aaaa-bbbb-cccc","modified":"2024-07-02T00:00:00Z","aliases":["CVE-2024-6387"],
		"summary":"regreSSHion","affected":[{"package":{"ecosystem":"Bitnami","name":"openssh"},
		"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"8.5"},{"fixed":"9.8"}]}]}]}`
	if _, err := d.Import(ctx, bytesReader([]byte(osv)), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, err := d.Match(ctx, "", "openssh", "9.2p1")
	if err != nil {
		t.Fatal(err)
	}
	if find(ms, "CVE-2024-6387") == nil || find(ms, "GHSA-aaaa-bbbb-cccc") != nil {
		t.Errorf("matches = %v, want the CVE and not its OSV alias", cves(ms))
	}
	// Without the CVE's own match, the advisory stands.
	ms, err = d.MatchCPE(ctx, "cpe:2.3:a:*:openssh:8.5p2")
	if err != nil {
		t.Fatal(err)
	}
	if find(ms, "GHSA-aaaa-bbbb-cccc") == nil {
		t.Errorf("matches = %v, want the OSV advisory", cves(ms))
	}
}

// Duplicates and rejections inside one batch resolve by lastModified, in order.
func TestImportDuplicatesInOneBatch(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	rec := func(lm string, score float64, status string) string {
		return `{"cve":{"id":"CVE-2024-0001","published":"2024-01-01T00:00:00.000","lastModified":"` + lm + `","vulnStatus":"` + status +
			`","descriptions":[{"lang":"en","value":"x"}],"metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N","baseScore":` +
			itoa(int(score)) + `}}]}}}`
	}
	page := func(items ...string) []byte {
		return []byte(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[` + strings.Join(items, ",") + `]}`)
	}
	res, err := d.Import(ctx, bytesReader(page(rec("2024-01-02T00:00:00.000", 5, "Analyzed"), rec("2024-03-01T00:00:00.000", 9, "Modified"), rec("2024-02-01T00:00:00.000", 7, "Modified"))), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Record(ctx, "CVE-2024-0001")
	if err != nil || e.CVSS3.Score != 9 || res.Unchanged != 1 {
		t.Fatalf("after duplicates: %+v %v (result %+v)", e, err, res)
	}
	if _, err := d.Import(ctx, bytesReader(page(rec("2024-04-01T00:00:00.000", 8, "Modified"), rec("2024-05-01T00:00:00.000", 0, "Rejected"))), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Record(ctx, "CVE-2024-0001"); err == nil {
		t.Error("record rejected later in the batch is still stored")
	}
}

// TestMatchFingerprintsConcurrent: matching many fingerprints concurrently
// on fresh caches gives, in order, what one-by-one matching gives.
func TestMatchFingerprintsConcurrent(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	var fps []model.Fingerprint
	for _, p := range []model.Fingerprint{{Product: "OpenSSH"}, {Product: "dnsmasq"}, {Product: "curl"}, {Product: "OpenSSL"}, {Product: "BusyBox"},
		{Product: "mosquitto"}, {Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", DeviceType: "camera"}, {Vendor: "TP-Link", Product: "Archer AX21", DeviceType: "router"}} {
		for _, v := range []string{"9.2p1", "2.77", "7.88.1", "1.0.2q", "1.35.0", "2.0.11", "V5.5.0", "1.1.3", "9.8p1"} {
			p.Version = v
			fps = append(fps, p)
		}
	}
	var want [][]string
	for _, fp := range fps {
		ms, err := d.MatchFingerprint(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, cves(ms))
	}
	if slices.IndexFunc(want, func(c []string) bool { return len(c) > 0 }) < 0 {
		t.Fatal("no fingerprint matched anything")
	}
	fresh, err := Open(ctx, d.st) // empty caches, same database
	if err != nil {
		t.Fatal(err)
	}
	got, err := fresh.MatchFingerprints(ctx, fps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fps {
		if got[i].Err != nil || !slices.Equal(cves(got[i].Matches), want[i]) {
			t.Errorf("%s %s: %v (%v), want %v", fps[i].Product, fps[i].Version, cves(got[i].Matches), got[i].Err, want[i])
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	other, err := Open(ctx, d.st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.MatchFingerprints(cctx, fps); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}
