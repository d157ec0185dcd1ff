// Package distro knows the Linux distributions whose packages carry
// backported security fixes: it reads the distribution and package revision
// from banners ("OpenSSH_9.2p1 Debian-2+deb12u10") and package versions
// ("1:9.2p1-2+deb12u3"), parses OSV ecosystem names ("Debian:12",
// "Ubuntu:22.04:LTS", "Alpine:v3.20") and orders versions as each
// distribution does (dpkg for Debian and Ubuntu, apk for Alpine).
//
// Embedded software without a distribution has no Distro and keeps
// upstream matching.
package distro

import (
	"regexp"
	"strings"

	apkversion "github.com/knqyf263/go-apk-version"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/version"
)

// Distribution names.
const (
	Debian   = "debian"
	Ubuntu   = "ubuntu"
	Alpine   = "alpine"
	Raspbian = "raspbian"
	// OpenWrt packages (opkg, or apk from OpenWrt 25) have no advisory
	// source in OSV: they keep upstream matching, with their versions
	// ordered as their package manager orders them.
	OpenWrt = "openwrt"
)

// bannerTail is the distribution part OpenSSH's portable builds append to
// their software version: "Debian-2+deb12u10", "Ubuntu-3ubuntu0.10",
// "Raspbian-10+deb9u7".
var bannerTail = regexp.MustCompile(`^(Debian|Ubuntu|Raspbian)-([0-9][0-9A-Za-z.+~]*)$`)

// FromVersion returns the distribution package a reported version shows, or
// the zero Distro: "9.2p1 Debian-2+deb12u10" (a banner's version and
// tail), "1:9.2p1-2+deb12u3" or "8.9p1-3ubuntu0.10" (a package version
// with a Debian or Ubuntu revision). pkg is the source package name.
func FromVersion(pkg, v string) model.Distro {
	f := strings.Fields(v)
	if len(f) == 0 || pkg == "" {
		return model.Distro{}
	}
	if len(f) >= 2 {
		m := bannerTail.FindStringSubmatch(f[1])
		if m == nil {
			return model.Distro{}
		}
		d := model.Distro{Name: strings.ToLower(m[1]), Package: pkg, Version: f[0] + "-" + m[2]}
		d.Release = release(d.Name, m[2])
		return d
	}
	up := version.Upstream(f[0])
	if up == f[0] {
		return model.Distro{}
	}
	rev := f[0][strings.LastIndexByte(f[0], '-')+1:]
	name := ""
	switch {
	case strings.Contains(rev, "ubuntu"):
		name = Ubuntu
	case strings.Contains(rev, "deb"):
		name = Debian
	default:
		return model.Distro{} // "-1" alone names no distribution
	}
	return model.Distro{Name: name, Release: release(name, rev), Package: pkg, Version: f[0]}
}

var (
	debRelease    = regexp.MustCompile(`[+~]deb([0-9]+)u[0-9]+`)
	ubuntuRelease = regexp.MustCompile(`ubuntu[0-9.]*?\.([12][0-9]\.(?:04|10))(?:\.[0-9]+)?$`)
)

// release infers the release from a package revision: Debian stable
// updates end "+debNNuM" (or "~debNNuM" for backports); Ubuntu security
// rebuilds of one version for several releases name it ("0ubuntu0.22.04.1").
// Otherwise the release is unknown ("").
func release(name, rev string) string {
	switch name {
	case Debian, Raspbian:
		if m := debRelease.FindStringSubmatch(rev); m != nil {
			return m[1]
		}
	case Ubuntu:
		if m := ubuntuRelease.FindStringSubmatch(rev); m != nil {
			return m[1]
		}
	}
	return ""
}

// Ecosystem parses an OSV ecosystem name of a distribution: "Debian:12",
// "Ubuntu:22.04:LTS", "Ubuntu:24.10", "Alpine:v3.20". ok is false for
// other ecosystems (language registries, other distributions) and for
// Ubuntu Pro streams, which need a subscription the scanned host may not have.
func Ecosystem(eco string) (name, rel string, ok bool) {
	parts := strings.Split(eco, ":")
	switch strings.ToLower(parts[0]) {
	case "debian":
		name = Debian
	case "ubuntu":
		name = Ubuntu
		if len(parts) > 1 && strings.EqualFold(parts[1], "Pro") {
			return "", "", false
		}
	case "alpine":
		name = Alpine
	default:
		return "", "", false
	}
	if len(parts) > 1 {
		rel = strings.TrimPrefix(strings.ToLower(parts[1]), "v")
	}
	return name, rel, true
}

// IsEcosystem reports whether eco names a distribution Ecosystem knows,
// Pro streams included (they are distribution data, not upstream data).
func IsEcosystem(eco string) bool {
	switch strings.ToLower(strings.SplitN(eco, ":", 2)[0]) {
	case "debian", "ubuntu", "alpine":
		return true
	}
	return false
}

// Family is the advisory source a distribution's packages follow:
// Raspbian builds Debian's source packages with Debian's revisions.
func Family(name string) string {
	if name == Raspbian {
		return Debian
	}
	return name
}

// Compare orders two package versions of distribution name: dpkg's
// algorithm for Debian and Ubuntu; apk-tools' (_rc before the release, _p
// after, -rN revisions) for Alpine; for OpenWrt, apk's when a version has
// an apk revision ("2024.86-r1", OpenWrt 25) and else opkg's, which is
// dpkg's ("2022.82-6").
//
// When a has no epoch and b has one, b's epoch is ignored: a banner shows
// the upstream version and revision but not the epoch ("OpenSSH_9.2p1
// Debian-2+deb12u10" is package 1:9.2p1-2+deb12u10), and within one source
// package the epoch does not change between the versions an advisory names.
func Compare(name, a, b string) int {
	if !hasEpoch(a) {
		b = stripEpoch(b)
	}
	switch Family(name) {
	case Alpine:
		return Apk(a, b)
	case OpenWrt:
		if apkRevision.MatchString(a) || apkRevision.MatchString(b) {
			return Apk(a, b)
		}
	}
	return Dpkg(a, b)
}

// apkRevision is the end of an apk package version: "-r4".
var apkRevision = regexp.MustCompile(`-r[0-9]+$`)

// Apk compares two apk (Alpine) package versions as apk-tools does. A
// version apk-tools would reject (not the apk format) falls back to
// version.Compare, so that ordering stays total.
func Apk(a, b string) int {
	va, ea := apkversion.NewVersion(a)
	vb, eb := apkversion.NewVersion(b)
	if ea != nil || eb != nil {
		return version.Compare(a, b)
	}
	return va.Compare(vb)
}

func hasEpoch(v string) bool {
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		if v[j] < '0' || v[j] > '9' {
			return false
		}
	}
	return true
}

func stripEpoch(v string) string {
	if hasEpoch(v) {
		return v[strings.IndexByte(v, ':')+1:]
	}
	return v
}
