package fingerprint

import (
	"strings"

	"iotwatch/internal/distro"
	"iotwatch/internal/model"
)

// withDistro keeps the distribution package a banner names beside the
// upstream version: OpenSSH's portable builds on Debian, Ubuntu and
// Raspbian append it to the software version ("OpenSSH_9.2p1
// Debian-2+deb12u10"). The source package is the CPE product (openssh).
func withDistro(proto string, fields map[string]string, fp *model.Fingerprint) {
	if fp == nil || fp.Version == "" || proto != "ssh" {
		return
	}
	_, tail, ok := strings.Cut(strings.TrimSpace(fields["ssh.software"]), " ")
	if !ok {
		return
	}
	pkg := strings.ToLower(fp.Product)
	if f := strings.Split(fp.CPE, ":"); len(f) > 4 && f[4] != "*" {
		pkg = f[4]
	}
	fp.Distro = distro.FromVersion(pkg, fp.Version+" "+tail)
}
