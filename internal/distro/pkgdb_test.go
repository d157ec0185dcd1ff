package distro

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"iotwatch/internal/model"
)

func parseFile(t *testing.T, path string) []Package {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParseStatus(f)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestParseDpkgStatus(t *testing.T) {
	pkgs := parseFile(t, "testdata/dpkg-status")
	by := map[string]Package{}
	for _, p := range pkgs {
		by[p.Name] = p
	}
	if len(pkgs) != 6 {
		t.Fatalf("%d packages, want 6: %+v", len(pkgs), pkgs)
	}
	tests := []struct {
		name string
		want model.Distro
	}{
		{"openssh-server", model.Distro{Name: "debian", Release: "12", Package: "openssh", Version: "1:9.2p1-2+deb12u10"}},
		{"libc6", model.Distro{Name: "debian", Release: "12", Package: "glibc", Version: "2.36-9+deb12u14"}},
		// A binNMU rebuild (+b8) is matched as its source version.
		{"bash", model.Distro{Name: "debian", Release: "12", Package: "bash", Version: "5.2.15-2"}},
	}
	for _, tt := range tests {
		if got := Installed("debian", "12", by[tt.name]); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseOpkgStatus(t *testing.T) {
	pkgs := parseFile(t, "testdata/opkg-status")
	if len(pkgs) != 2 || pkgs[0].Name != "dropbear" || pkgs[0].Version != "2022.82-6" || pkgs[1].Name != "dnsmasq" {
		t.Fatalf("packages = %+v, want dropbear and dnsmasq (busybox is not installed)", pkgs)
	}
	if pkgs[0].Architecture != "mipsel_24kc" {
		t.Errorf("architecture %q", pkgs[0].Architecture)
	}
	// OpenWrt keeps its package as evidence (no advisory source exists,
	// so matching stays upstream).
	want := model.Distro{Name: "openwrt", Release: "23.05", Package: "dropbear", Version: "2022.82-6"}
	if d := Installed("openwrt", "23.05.2", pkgs[0]); d != want {
		t.Errorf("OpenWrt package: %+v, want %+v", d, want)
	}
	// Buildroot and vendor systems have no distribution.
	if d := Installed("buildroot", "2023.02", pkgs[0]); d != (model.Distro{}) {
		t.Errorf("Buildroot package got a distribution: %+v", d)
	}
}

func TestParseAPKInstalled(t *testing.T) {
	f, err := os.Open("testdata/apk-installed")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := ParseAPKInstalled(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 3 {
		t.Fatalf("%d packages, want 3: %+v", len(pkgs), pkgs)
	}
	// openssh-server is built from origin openssh: the advisories name that.
	want := model.Distro{Name: "alpine", Release: "3.20", Package: "openssh", Version: "9.7_p1-r4"}
	if d := Installed("alpine", "3.20.3", pkgs[1]); pkgs[1].Name != "openssh-server" || d != want {
		t.Errorf("%+v: %+v, want %+v", pkgs[1], d, want)
	}
	// A package without an origin is its own source.
	if pkgs[2].Name != "musl" || pkgs[2].Source != "musl" || pkgs[2].Architecture != "x86_64" {
		t.Errorf("musl: %+v", pkgs[2])
	}
}

// A line that is not a field is skipped, not the end of the database.
func TestParseStatusSkipsJunk(t *testing.T) {
	pkgs, err := ParseStatus(strings.NewReader("Package: a\nVersion: 1\ngarbage line\n\nPackage: b\nVersion: 2\n"))
	if err != nil || len(pkgs) != 2 || pkgs[1].Name != "b" {
		t.Errorf("packages = %+v, %v; want a and b", pkgs, err)
	}
}

func FuzzParseAPKInstalled(f *testing.F) {
	if b, err := os.ReadFile("testdata/apk-installed"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseAPKInstalled(bytes.NewReader(data))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Source == "" {
				t.Fatalf("incomplete package handed on: %+v", p)
			}
		}
	})
}

func TestOSRelease(t *testing.T) {
	id, ver, err := OSRelease(strings.NewReader("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"))
	if err != nil || id != "debian" || ver != "12" {
		t.Errorf("OSRelease = %q %q %v", id, ver, err)
	}
	if d := Installed("ubuntu", "22.04", Package{Name: "openssh-server", Source: "openssh", Version: "1:8.9p1-3ubuntu0.10"}); d.Release != "22.04" {
		t.Errorf("Ubuntu release %q, want 22.04", d.Release)
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, p := range []string{"testdata/dpkg-status", "testdata/opkg-status"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseStatus(bytes.NewReader(data))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Source == "" {
				t.Fatalf("incomplete package handed on: %+v", p)
			}
		}
	})
}
