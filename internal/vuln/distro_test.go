package vuln

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/distro"
	"iotwatch/internal/fingerprint"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
	"iotwatch/internal/vuln/version"
)

// distroDB is fixtureDB with the distribution advisories of
// testdata/distro imported.
func distroDB(t testing.TB) *DB {
	t.Helper()
	d := fixtureDB(t)
	files, _ := filepath.Glob("testdata/distro/*.json")
	if len(files) != 4 {
		t.Fatalf("distribution fixtures: %d files, want 4", len(files))
	}
	for _, f := range files {
		res, err := d.ImportFile(context.Background(), f, ImportOptions{})
		if err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
		if res.Advisories != 1 {
			t.Fatalf("import %s: %+v, want one distribution advisory", f, res)
		}
	}
	return d
}

func TestBackportDistroAdvisories(t *testing.T) {
	d := distroDB(t)
	ctx := context.Background()
	// The Alpine record's id is the CVE id: NVD's record must survive it.
	e, err := d.Record(ctx, "CVE-2024-6387")
	if err != nil || e.Source != "nvd" {
		t.Fatalf("CVE-2024-6387 stored as %+v, %v; want NVD's record", e, err)
	}
	tests := []struct {
		name      string
		fp        model.Fingerprint
		wantFixed bool
		advisory  string // one of the advisories that may be cited
	}{
		{"debian 12 patched banner", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1 Debian-2+deb12u10"}, true, "D"},
		{"debian 12 first fixed", model.Fingerprint{Product: "OpenSSH", Version: "1:9.2p1-2+deb12u3"}, true, "D"},
		{"debian 12 before the fix", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1 Debian-2+deb12u2"}, false, ""},
		{"debian, release unknown", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1 Debian-2"}, false, ""},
		{"ubuntu 22.04 patched", model.Fingerprint{Product: "OpenSSH", Version: "8.9p1 Ubuntu-3ubuntu0.10"}, true, "UBUNTU-CVE-2024-6387"},
		{"ubuntu 22.04 before", model.Fingerprint{Product: "OpenSSH", Version: "8.9p1 Ubuntu-3ubuntu0.6"}, false, ""},
		{"alpine 3.20 patched", model.Fingerprint{Product: "OpenSSH", Version: "9.7p1",
			Distro: model.Distro{Name: "alpine", Release: "3.20", Package: "openssh", Version: "9.7_p1-r4"}}, true, "CVE-2024-6387"},
		{"alpine 3.20 before", model.Fingerprint{Product: "OpenSSH", Version: "9.7p1",
			Distro: model.Distro{Name: "alpine", Release: "3.20", Package: "openssh", Version: "9.7_p1-r3"}}, false, ""},
		{"embedded, upstream only", model.Fingerprint{Product: "OpenSSH", Version: "9.2p1"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all, err := d.MatchFingerprintAll(ctx, tt.fp)
			if err != nil {
				t.Fatal(err)
			}
			m := find(all, "CVE-2024-6387")
			if m == nil {
				t.Fatalf("matches = %v, want CVE-2024-6387 (upstream 9.2p1 is affected)", cves(all))
			}
			if got := m.Status == "fixed"; got != tt.wantFixed {
				t.Fatalf("CVE-2024-6387 status %q (advisory %q), want fixed=%v", m.Status, m.Advisory, tt.wantFixed)
			}
			aff, err := d.MatchFingerprint(ctx, tt.fp)
			if err != nil {
				t.Fatal(err)
			}
			if (find(aff, "CVE-2024-6387") == nil) != tt.wantFixed {
				t.Errorf("MatchFingerprint = %v, want CVE-2024-6387 only when not fixed", cves(aff))
			}
			if !tt.wantFixed {
				return
			}
			if m.FixedIn == "" || !strings.HasPrefix(m.Advisory, tt.advisory) {
				t.Errorf("evidence = %q fixed in %q, want an advisory starting %q with its fixed version", m.Advisory, m.FixedIn, tt.advisory)
			}
		})
	}
	// Distribution versions never act as upstream ranges: OpenSSH 9.9p1
	// is not "below 1:9.2p1-2+deb12u3".
	ms, err := d.Match(ctx, "", "OpenSSH", "9.9p1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.Contains(m.CVE, "2024-6387") || strings.HasPrefix(m.CVE, "DSA-") {
			t.Errorf("OpenSSH 9.9p1 matched %s", m.CVE)
		}
	}
}

// A withdrawn distribution advisory removes its ranges.
func TestBackportWithdrawn(t *testing.T) {
	d := distroDB(t)
	ctx := context.Background()
	for _, id := range []string{"DSA-5724-1", "DEBIAN-CVE-2024-6387"} {
		w := `{"id":"` + id + `","modified":"2024-08-01T00:00:00Z","withdrawn":"2024-08-01T00:00:00Z",
			"affected":[{"package":{"ecosystem":"Debian:12","name":"openssh"}}]}`
		if _, err := d.Import(ctx, strings.NewReader(w), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := d.MatchFingerprintAll(ctx, model.Fingerprint{Product: "OpenSSH", Version: "9.2p1 Debian-2+deb12u10"})
	if err != nil {
		t.Fatal(err)
	}
	if m := find(all, "CVE-2024-6387"); m == nil || m.Status != "" {
		t.Errorf("after withdrawal: %+v, want CVE-2024-6387 affected again", m)
	}
}

// TestBackportRealSSHD reads the banner of this machine's sshd (a Debian
// package) and checks that its distribution package reaches the match.
func TestBackportRealSSHD(t *testing.T) {
	peer := testpeer.SSHD(t, testpeer.SSHDOptions{})
	want, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "openssh-server").Output()
	if err != nil {
		t.Skipf("dpkg-query: %v", err)
	}
	conn, err := net.DialTimeout("tcp", peer.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	software := strings.TrimSpace(strings.TrimPrefix(line, "SSH-2.0-"))
	e, err := fingerprint.New(fingerprint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fp := e.Identify("ssh", map[string]string{"ssh.software": software})
	if fp == nil {
		t.Fatalf("banner %q not identified", software)
	}
	wantVer := string(want)
	if i := strings.IndexByte(wantVer, ':'); i >= 0 {
		wantVer = wantVer[i+1:] // the banner has no epoch
	}
	if fp.Distro.Name != "debian" || fp.Distro.Package != "openssh" || fp.Distro.Version != wantVer {
		t.Fatalf("banner %q: distro %+v, want debian openssh %s", software, fp.Distro, wantVer)
	}
	d := distroDB(t)
	all, err := d.MatchFingerprintAll(context.Background(), *fp)
	if err != nil {
		t.Fatal(err)
	}
	m := find(all, "CVE-2024-6387")
	if m == nil {
		t.Fatalf("banner %q: matches %v, want CVE-2024-6387 (upstream %s)", software, cves(all), fp.Version)
	}
	// Debian 12 fixed it in 1:9.2p1-2+deb12u3; this machine's package is
	// newer or older, and the verdict must follow.
	fixed := exec.Command("dpkg", "--compare-versions", string(want), "ge", "1:9.2p1-2+deb12u3").Run() == nil
	if (m.Status == "fixed") != fixed {
		t.Errorf("banner %q: status %q, want fixed=%v", software, m.Status, fixed)
	}
}

// A package database (a firmware image's /var/lib/dpkg/status) gives the
// distribution package with its epoch: the backport applies the same way.
func TestBackportFromDpkgStatus(t *testing.T) {
	f, err := os.Open("../distro/testdata/dpkg-status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := distro.ParseStatus(f)
	if err != nil {
		t.Fatal(err)
	}
	var fp model.Fingerprint
	for _, p := range pkgs {
		if p.Name == "openssh-server" {
			fp = model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: version.Upstream(p.Version), Distro: distro.Installed("debian", "12", p)}
		}
	}
	if fp.Distro.Version != "1:9.2p1-2+deb12u10" {
		t.Fatalf("fingerprint %+v", fp)
	}
	d := distroDB(t)
	all, err := d.MatchFingerprintAll(context.Background(), fp)
	if err != nil {
		t.Fatal(err)
	}
	if m := find(all, "CVE-2024-6387"); m == nil || m.Status != "fixed" {
		t.Errorf("CVE-2024-6387 for the dpkg package: %+v, want fixed", m)
	}
}

// Alpine's secdb imports as distribution advisories: a package at or past
// the fixed revision is fixed with the secdb entry as evidence, one before
// it affected, and a CVE listed under version 0 never affected Alpine's
// package. A newer secdb file replaces what the older one said.
func TestBackportAlpineSecdb(t *testing.T) {
	d := fixtureDB(t)
	ctx := context.Background()
	res, err := d.ImportFile(ctx, "feed/testdata/alpine-secdb-v3.20-main.json", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Advisories != 3 {
		t.Fatalf("import: %+v, want 3 package advisories", res)
	}
	fp := func(v string) model.Fingerprint {
		return model.Fingerprint{Vendor: "OpenBSD", Product: "OpenSSH", Version: apkUpstream(v),
			Distro: model.Distro{Name: "alpine", Release: "3.20", Package: "openssh", Version: v}}
	}
	const id = "ALPINE-SECDB:v3.20:main:openssh"
	tests := []struct {
		version, cve, status, fixedIn string
	}{
		{"9.7_p1-r4", "CVE-2024-6387", "fixed", "9.7_p1-r4"},
		{"9.7_p1-r10", "CVE-2024-6387", "fixed", "9.7_p1-r4"}, // apk order: r10 after r4
		{"9.7_p1-r3", "CVE-2024-6387", "", ""},
		{"9.2_p1-r0", "CVE-2023-38408", "not_affected", ""}, // upstream 9.2p1 is affected
	}
	for _, tt := range tests {
		all, err := d.MatchFingerprintAll(ctx, fp(tt.version))
		if err != nil {
			t.Fatal(err)
		}
		m := find(all, tt.cve)
		if m == nil {
			t.Fatalf("%s: %v lack %s (upstream 9.7p1)", tt.version, cves(all), tt.cve)
		}
		if m.Status != tt.status || m.FixedIn != tt.fixedIn || (tt.status != "" && m.Advisory != id) {
			t.Errorf("%s %s: status %q advisory %q fixed in %q, want %q %q", tt.version, tt.cve, m.Status, m.Advisory, m.FixedIn, tt.status, tt.fixedIn)
		}
	}
	// The next secdb says the fix came in r5: r4 is affected again.
	newer := `{"distroversion":"v3.20","reponame":"main","packages":[{"pkg":{"name":"openssh","secfixes":{"9.7_p1-r5":["CVE-2024-6387"]}}}]}`
	if _, err := d.Import(ctx, strings.NewReader(newer), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	all, err := d.MatchFingerprintAll(ctx, fp("9.7_p1-r4"))
	if err != nil {
		t.Fatal(err)
	}
	if m := find(all, "CVE-2024-6387"); m == nil || m.Status != "" {
		t.Errorf("after the newer secdb: %+v, want CVE-2024-6387 affecting 9.7_p1-r4", m)
	}
	if all, err = d.MatchFingerprintAll(ctx, fp("9.2_p1-r0")); err != nil {
		t.Fatal(err)
	}
	if m := find(all, "CVE-2023-38408"); m == nil || m.Status != "" {
		t.Errorf("after the newer secdb (no version 0 entry): %+v, want CVE-2023-38408 affecting", m)
	}
}

// apkUpstream is the upstream OpenSSH version of an apk version (tests only).
func apkUpstream(v string) string {
	v = strings.Replace(v, "_p", "p", 1)
	return v[:strings.LastIndexByte(v, '-')]
}
