package distro

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"iotwatch/internal/model"
)

// Package is one installed package of a dpkg (/var/lib/dpkg/status), opkg
// (/usr/lib/opkg/status) or apk (/lib/apk/db/installed) database.
type Package struct {
	Name          string // binary package
	Source        string // source package (dpkg "Source:", apk origin, else Name)
	Version       string // full package version
	SourceVersion string // version of the source package when dpkg names one
	Architecture  string
	status        string // dpkg/opkg Status while reading
}

// maxStatusLine bounds one line of a status file.
const maxStatusLine = 1 << 20

// ParseStatus reads a dpkg or opkg status file (RFC 822-style stanzas) and
// returns the installed packages (Status "install ok installed", or no
// Status field, as some firmware images ship them). A line that is not a
// field (hand-edited files in firmware images have them) is skipped.
func ParseStatus(r io.Reader) ([]Package, error) {
	return stanzas(r, "status", func(s string, p *Package) {
		if s[0] == ' ' || s[0] == '\t' {
			return // continuation of a multi-line field (Description, Conffiles)
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "architecture":
			p.Architecture = v
		case "package":
			p.Name = v
		case "version":
			p.Version = v
		case "status":
			p.status = v
		case "source":
			// "Source: openssh" or "Source: openssh (1:9.2p1-2+deb12u3)"
			name, ver, _ := strings.Cut(v, " ")
			p.Source = name
			p.SourceVersion = strings.Trim(strings.TrimSpace(ver), "()")
		}
	})
}

// OSRelease reads ID and VERSION_ID from an os-release file
// (/etc/os-release): "debian", "12"; OpenWrt gives "openwrt".
func OSRelease(r io.Reader) (id, versionID string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = strings.ToLower(v)
		case "VERSION_ID":
			versionID = v
		}
	}
	return id, versionID, sc.Err()
}

// ParseAPKInstalled reads an apk database (/lib/apk/db/installed: one
// stanza of "X:value" lines per package, P name, V version, o origin, A
// architecture) and returns its packages.
func ParseAPKInstalled(r io.Reader) ([]Package, error) {
	return stanzas(r, "apk database", func(s string, p *Package) {
		if len(s) < 2 || s[1] != ':' {
			return
		}
		v := strings.TrimSpace(s[2:])
		switch s[0] {
		case 'P':
			p.Name = v
		case 'V':
			p.Version = v
		case 'o':
			p.Source = v
		case 'A':
			p.Architecture = v
		}
	})
}

// stanzas reads the blank-line separated stanzas of a package database,
// handing each non-empty line to field, and returns the installed packages
// (a name, a version, and no Status or one ending " installed").
func stanzas(r io.Reader, what string, field func(line string, p *Package)) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxStatusLine)
	var out []Package
	var p Package
	flush := func() {
		if p.Name != "" && p.Version != "" && (p.status == "" || strings.HasSuffix(p.status, " installed")) {
			if p.Source == "" {
				p.Source = p.Name
			}
			p.status = ""
			out = append(out, p)
		}
		p = Package{}
	}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" {
			flush()
			continue
		}
		field(s, &p)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s line %d: %w", what, line+1, err)
	}
	flush()
	return out, nil
}

// Installed returns the distribution package of p on the system osID
// (os-release ID) of release rel. Debian, Ubuntu, Raspbian and Alpine
// packages are matched against their distribution's advisories; OpenWrt
// packages get their distribution too (no advisory source exists for it,
// so their matches stay upstream ones, kept with the package as evidence).
// Anything else (Buildroot, vendor systems) has no distribution and keeps
// upstream matching: the zero Distro is returned.
func Installed(osID, rel string, p Package) model.Distro {
	v := p.Version
	switch osID {
	case Debian, Ubuntu, Raspbian:
		if p.SourceVersion != "" {
			v = p.SourceVersion // binNMU rebuilds (+b1) keep the source's advisories
		}
		if osID == Ubuntu || osID == Debian {
			rel = strings.SplitN(rel, ".", 3)[0] + restRelease(osID, rel)
		}
	case Alpine, OpenWrt:
		rel = majorMinor(strings.TrimPrefix(rel, "v")) // "3.20.3" is Alpine:v3.20
	default:
		return model.Distro{}
	}
	return model.Distro{Name: osID, Release: rel, Package: p.Source, Version: v}
}

// majorMinor keeps the first two fields of a dotted release.
func majorMinor(rel string) string {
	f := strings.SplitN(rel, ".", 3)
	if len(f) > 2 {
		return f[0] + "." + f[1]
	}
	return rel
}

// restRelease keeps Ubuntu's minor release (22.04), which Debian has not.
func restRelease(osID, rel string) string {
	if osID != Ubuntu {
		return ""
	}
	if _, minor, ok := strings.Cut(rel, "."); ok {
		return "." + strings.SplitN(minor, ".", 2)[0]
	}
	return ""
}
