package testpeer

import (
	"os/exec"
	"strings"
)

// DebVersion returns the upstream version of the installed Debian package
// pkg, the version a daemon of that package announces ("1:9.2p1-2+deb12u10"
// is 9.2p1), or "" when the package is not installed.
func DebVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return upstreamVersion(string(out))
}

// upstreamVersion cuts a Debian version to its upstream part: no epoch, no
// Debian revision or +suffix, no repacking mark (.dfsg).
func upstreamVersion(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexAny(v, "-+~"); i > 0 {
		v = v[:i]
	}
	return strings.TrimSuffix(v, ".dfsg")
}
