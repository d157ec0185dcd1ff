package stage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"iotwatch/internal/firmware"
	"iotwatch/internal/firmware/fwtest"
	"iotwatch/internal/model"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
	"iotwatch/internal/vuln"
)

// TestFirmwareDistroBackport (issue 18): a firmware image built on Debian 12
// (os-release and a dpkg status naming openssh-server from source openssh)
// has its packages matched with Debian's advisories. OpenSSH 9.2p1 is
// affected upstream by CVE-2024-6387; Debian fixed it in 1:9.2p1-2+deb12u3,
// so that package is reported fixed with the advisory, and the sshd binary
// the signature finds defers to its package. The package before the fix is
// affected, and a CVE Debian's records do not cover keeps its upstream
// verdict. A re-match keeps the distribution package of stored components,
// and asks about components that had no match (a new glibc advisory is
// found without a new analysis). On SQLite and PostgreSQL.
func TestFirmwareDistroBackport(t *testing.T) {
	advisories, _ := filepath.Glob("../vuln/testdata/distro/*.json")
	if len(advisories) == 0 {
		t.Fatal("no distribution advisories in ../vuln/testdata/distro")
	}
	tests := []struct {
		name, version string
		fixed         bool
	}{
		{"backported fix", "1:9.2p1-2+deb12u3", true},
		{"before the fix", "1:9.2p1-2+deb12u2", false},
	}
	dbs := testpeer.Databases(t)
	for _, tt := range tests {
		for backend, newDB := range dbs {
			t.Run(tt.name+"/"+backend, func(t *testing.T) {
				testFirmwareDistroBackport(t, advisories, tt.version, tt.fixed, newDB())
			})
		}
	}
}

// testFirmwareDistroBackport analyzes an image whose dpkg status lists
// openssh-server at version, with the store db; wantFixed says whether
// Debian's advisories fix CVE-2024-6387 there.
func testFirmwareDistroBackport(t *testing.T, advisories []string, version string, wantFixed bool, db string) {
	root := t.TempDir()
	write := func(p, body string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
	write("var/lib/dpkg/status", "Package: openssh-server\nStatus: install ok installed\nArchitecture: mipsel\n"+
		"Source: openssh\nVersion: "+version+"\nDescription: secure shell (SSH) server\n\n"+
		"Package: libc6\nStatus: install ok installed\nArchitecture: mipsel\nSource: glibc\nVersion: 2.36-9+deb12u7\n\n")
	write("usr/sbin/sshd", "\x7fELF sshd stand-in\x00OpenSSH_9.2p1 Debian-2+deb12u3\x00")
	img := fwtest.ImageOf(t, root)

	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := vuln.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureSeed(ctx); err != nil { // NVD's CVE-2024-6387 and CVE-2023-38408 for OpenSSH
		t.Fatal(err)
	}
	for _, f := range advisories {
		if _, err := d.ImportFile(ctx, f, vuln.ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	run, err := stage.Start(ctx, st, "firmware", []string{img}, stage.FirmwareStages)
	if err != nil {
		t.Fatal(err)
	}
	res, err := stage.Firmware(ctx, st, run, img, stage.FirmwareOptions{Vulns: true, Analyze: firmware.Options{CrackBudget: -1}})
	if err = run.Finish(ctx, err); err != nil {
		t.Fatal(err)
	}
	var pkg *model.Distro
	for _, c := range res.Components {
		if c.Name == "openssh-server" {
			pkg = &c.Distro
		}
	}
	want := model.Distro{Name: "debian", Release: "12", Package: "openssh", Version: version}
	if pkg == nil || *pkg != want {
		t.Fatalf("openssh-server component distro %+v, want %+v (components %+v)", pkg, want, res.Components)
	}
	affected, fixed := find(res.Matches, "CVE-2024-6387"), find(res.Fixed, "CVE-2024-6387")
	if find(res.Matches, "CVE-2023-38408") == nil {
		t.Errorf("CVE-2023-38408 (no Debian record here) not reported: matches %v", cveIDs(res.Matches))
	}
	stored, err := st.VulnMatches(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !wantFixed {
		if affected == nil || fixed != nil {
			t.Fatalf("CVE-2024-6387 affected=%v fixed=%v, want affected (matches %v)", affected, fixed, cveIDs(res.Matches))
		}
		if find(stored, "CVE-2024-6387") == nil {
			t.Errorf("stored matches %v lack CVE-2024-6387", cveIDs(stored))
		}
		return
	}
	if affected != nil {
		t.Fatalf("CVE-2024-6387 reported affected on %s (%s) although Debian fixed it in %s", affected.Subject, affected.CPE, version)
	}
	if fixed == nil {
		t.Fatalf("CVE-2024-6387 not reported fixed: fixed %v", cveIDs(res.Fixed))
	}
	if fixed.Status != "fixed" || fixed.FixedIn != "1:9.2p1-2+deb12u3" ||
		(fixed.Advisory != "DSA-5724-1" && fixed.Advisory != "DEBIAN-CVE-2024-6387") || fixed.Distro != want {
		t.Errorf("fixed match %+v, want status fixed by DSA-5724-1 or DEBIAN-CVE-2024-6387 in 1:9.2p1-2+deb12u3 for %+v", fixed, want)
	}
	if find(stored, "CVE-2024-6387") != nil {
		t.Errorf("the fixed CVE was stored as a match of run %d", run.ID)
	}
	// The SBOM says so in CycloneDX's VEX terms.
	resolved := false
	if vs := res.SBOM.Vulnerabilities; vs != nil {
		for _, v := range *vs {
			if v.ID == "CVE-2024-6387" && v.Analysis != nil && v.Analysis.State == cdx.IASResolved && strings.Contains(v.Analysis.Detail, fixed.Advisory) {
				resolved = true
			}
		}
	}
	if !resolved {
		t.Errorf("SBOM has no resolved analysis citing %s for CVE-2024-6387", fixed.Advisory)
	}
	// A re-match consults Debian's advisories again: no "new" CVE-2024-6387.
	rm, err := d.Rematch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rm.Changes {
		if c.CVE == "CVE-2024-6387" {
			t.Errorf("rematch change %+v, want none for the backported fix", c)
		}
	}
	if rm.Subjects == 0 {
		t.Errorf("rematch %+v matched no firmware component", rm)
	}
	// Every component is stored with the run, so a re-match also
	// asks about one that had no vulnerability (glibc, from libc6):
	// a new advisory for it is found without a new analysis.
	comps, err := st.Components(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var glibc *model.Component
	for i := range comps {
		if comps[i].Name == "libc6" {
			glibc = &comps[i]
		}
	}
	if glibc == nil || glibc.Distro.Package != "glibc" || !strings.Contains(glibc.CPE, ":gnu:glibc:2.36:") {
		t.Fatalf("stored components %+v lack libc6 as glibc 2.36 of Debian", comps)
	}
	for _, m := range res.Matches {
		if m.CPE == glibc.CPE {
			t.Fatalf("glibc already matched %s: pick another component for this check", m.CVE)
		}
	}
	added := `{"schema_version":"1.6.0","id":"IOTW-2026-0002","modified":"2026-12-01T00:00:00Z","summary":"test advisory (constructed)",
		"affected":[{"package":{"ecosystem":"Bitnami","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.30"},{"fixed":"2.40"}]}]}]}`
	if _, err := d.Import(ctx, strings.NewReader(added), vuln.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if rm, err = d.Rematch(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rm.Changes) != 1 || rm.Changes[0].CVE != "IOTW-2026-0002" || rm.Changes[0].Change != vuln.ChangeNew || rm.Changes[0].Subject != glibc.Subject {
		t.Errorf("re-match after the glibc advisory: %+v, want IOTW-2026-0002 new on %s", rm.Changes, glibc.Subject)
	}
}

func find(ms []model.VulnMatch, cve string) *model.VulnMatch {
	for i := range ms {
		if ms[i].CVE == cve {
			return &ms[i]
		}
	}
	return nil
}
