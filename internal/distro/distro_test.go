package distro

import (
	"os/exec"
	"testing"

	"iotwatch/internal/model"
)

func TestFromVersion(t *testing.T) {
	tests := []struct {
		pkg, v string
		want   model.Distro
	}{
		// Real banners: this machine's sshd (Debian 12), Ubuntu 22.04's
		// patched sshd (USN-6859-1), a Raspberry Pi on Debian 9.
		{"openssh", "9.2p1 Debian-2+deb12u10", model.Distro{Name: "debian", Release: "12", Package: "openssh", Version: "9.2p1-2+deb12u10"}},
		{"openssh", "8.9p1 Ubuntu-3ubuntu0.10", model.Distro{Name: "ubuntu", Package: "openssh", Version: "8.9p1-3ubuntu0.10"}},
		{"openssh", "7.4p1 Raspbian-10+deb9u7", model.Distro{Name: "raspbian", Release: "9", Package: "openssh", Version: "7.4p1-10+deb9u7"}},
		{"openssh", "9.2p1 Debian-2", model.Distro{Name: "debian", Package: "openssh", Version: "9.2p1-2"}},
		// Package versions.
		{"openssh", "1:9.2p1-2+deb12u3", model.Distro{Name: "debian", Release: "12", Package: "openssh", Version: "1:9.2p1-2+deb12u3"}},
		{"dnsmasq", "2.90-4~deb12u1", model.Distro{Name: "debian", Release: "12", Package: "dnsmasq", Version: "2.90-4~deb12u1"}},
		{"openssl", "1.1.1f-1ubuntu2.22", model.Distro{Name: "ubuntu", Package: "openssl", Version: "1.1.1f-1ubuntu2.22"}},
		{"curl", "7.81.0-1ubuntu1.16", model.Distro{Name: "ubuntu", Package: "curl", Version: "7.81.0-1ubuntu1.16"}},
		{"bash", "5.1-0ubuntu0.22.04.1", model.Distro{Name: "ubuntu", Release: "22.04", Package: "bash", Version: "5.1-0ubuntu0.22.04.1"}},
		// Upstream versions of embedded software: no distribution.
		{"openssh", "9.2p1", model.Distro{}},
		{"dropbear_ssh", "2022.83", model.Distro{}},
		{"busybox", "1.36.1-1", model.Distro{}},
		{"openssh", "7.8 FreeBSD-20180909", model.Distro{}},
		{"", "9.2p1 Debian-2", model.Distro{}},
	}
	for _, tt := range tests {
		if got := FromVersion(tt.pkg, tt.v); got != tt.want {
			t.Errorf("FromVersion(%q, %q) = %+v, want %+v", tt.pkg, tt.v, got, tt.want)
		}
	}
}

func TestEcosystem(t *testing.T) {
	tests := []struct {
		eco       string
		name, rel string
		ok        bool
	}{
		{"Debian:12", "debian", "12", true},
		{"Debian", "debian", "", true},
		{"Ubuntu:22.04:LTS", "ubuntu", "22.04", true},
		{"Ubuntu:24.10", "ubuntu", "24.10", true},
		{"Ubuntu:Pro:18.04:LTS", "", "", false},
		{"Alpine:v3.20", "alpine", "3.20", true},
		{"PyPI", "", "", false},
		{"Rocky Linux:9", "", "", false},
	}
	for _, tt := range tests {
		name, rel, ok := Ecosystem(tt.eco)
		if name != tt.name || rel != tt.rel || ok != tt.ok {
			t.Errorf("Ecosystem(%q) = %q %q %v, want %q %q %v", tt.eco, name, rel, ok, tt.name, tt.rel, tt.ok)
		}
	}
}

// dpkgPairs are versions Debian and Ubuntu ship, including the cases where
// dpkg and upstream-style ordering disagree (~, +, pre-release words).
var dpkgPairs = [][2]string{
	{"1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u10"},
	{"1:9.2p1-2", "1:9.2p1-2+deb12u3"},
	{"1:9.2p1-2", "1:8.4p1-5+deb11u3"},
	{"1:9.2p1-2", "9.9p1-1"},
	{"2.90-4~deb12u1", "2.90-4"},
	{"1.0~rc1-1", "1.0-1"},
	{"1.0rc1-1", "1.0-1"},
	{"1:8.9p1-3ubuntu0.10", "1:8.9p1-3ubuntu0.9"},
	{"1:8.9p1-3ubuntu0.10", "1:8.9p1-3"},
	{"3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.5"},
	{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12"},
	{"1.36.1-9", "1.36.1-9+b1"},
	{"2.36-9+deb12u3", "2.36-9+deb12u10"},
	{"1.0", "1.0-0"},
	{"1.0a", "1.0+"},
	{"1.0.0", "1.0"},
	{"0:1.0", "1.0"},
	{"10:1", "9:2"},
}

func TestDpkgAgainstDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	for _, p := range dpkgPairs {
		for _, op := range []struct {
			name string
			want func(int) bool
		}{{"lt", func(c int) bool { return c < 0 }}, {"eq", func(c int) bool { return c == 0 }}, {"gt", func(c int) bool { return c > 0 }}} {
			ref := exec.Command(dpkg, "--compare-versions", p[0], op.name, p[1]).Run() == nil
			if got := op.want(Dpkg(p[0], p[1])); got != ref {
				t.Errorf("Dpkg(%q, %q) %s = %v, dpkg says %v", p[0], p[1], op.name, got, ref)
			}
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       int
	}{
		// A banner has no epoch: the advisory's epoch is ignored.
		{"debian", "9.2p1-2+deb12u10", "1:9.2p1-2+deb12u3", 1},
		{"debian", "9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", -1},
		// A package database gives the epoch: it counts.
		{"debian", "9.2p1-2+deb12u10", "1:9.2p1-2+deb12u3", 1},
		{"debian", "0:9.9p1-1", "1:9.2p1-2+deb12u3", -1},
		{"raspbian", "7.4p1-10+deb9u7", "1:7.4p1-10+deb9u7", 0},
		// Alpine: apk ordering.
		{"alpine", "9.7_p1-r3", "9.7_p1-r4", -1},
		{"alpine", "9.7_p1-r4", "9.7_p1-r4", 0},
		{"alpine", "9.8_p1-r0", "9.7_p1-r4", 1},
		{"alpine", "1.2.3_rc1-r0", "1.2.3-r0", -1},
		// apk-tools' order, where version.Compare's approximation differs:
		// a letter suffix is newer than the bare version, _p newer than
		// the release, and revisions compare numerically.
		{"alpine", "1.1.1w-r0", "1.1.1-r9", 1},
		{"alpine", "9.7_p1-r10", "9.7_p1-r9", 1},
		{"alpine", "2.89_git20230101-r0", "2.89-r0", 1},
		{"alpine", "1.0_alpha1-r0", "1.0_beta1-r0", -1},
		// OpenWrt: opkg (dpkg's order) for opkg versions, apk's for apk ones.
		{"openwrt", "2022.82-6", "2022.82-10", -1},
		{"openwrt", "1.36.1-1", "1.36.1-1", 0},
		{"openwrt", "2024.86-r1", "2024.86-r2", -1},
		{"openwrt", "2024.86-r10", "2024.86-r2", 1},
	}
	for _, tt := range tests {
		if got := Compare(tt.name, tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%s, %q, %q) = %d, want %d", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzFromVersion(f *testing.F) {
	for _, s := range []string{"9.2p1 Debian-2+deb12u10", "1:9.2p1-2+deb12u3", "8.9p1 Ubuntu-3ubuntu0.10", "5.1-0ubuntu0.22.04.1", "2022.83", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := FromVersion("p", v)
		if d.Name != "" && (d.Package != "p" || d.Version == "") {
			t.Fatalf("FromVersion(%q) = %+v: a distribution without package or version", v, d)
		}
	})
}

func FuzzDpkg(f *testing.F) {
	for _, p := range dpkgPairs {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if x, y := Dpkg(a, b), Dpkg(b, a); x != -y {
			t.Fatalf("Dpkg(%q, %q) = %d but Dpkg(%q, %q) = %d", a, b, x, b, a, y)
		}
		if Dpkg(a, a) != 0 {
			t.Fatalf("Dpkg(%q, %q) != 0", a, a)
		}
	})
}
