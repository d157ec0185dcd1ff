package distro

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"iotwatch/internal/model"
)

// Package is one installed package of a dpkg (/var/lib/dpkg/status) or
// opkg (/usr/lib/opkg/status) database.
type Package struct {
	Name          string // binary package
	Source        string // source package (dpkg "Source:", else Name)
	Version       string // full package version
	SourceVersion string // version of the source package when dpkg names one
}

// maxStatusLine bounds one line of a status file.
const maxStatusLine = 1 << 20

// ParseStatus reads a dpkg or opkg status file (RFC 822-style stanzas) and
// returns the installed packages (Status "install ok installed", or no
// Status field, as some firmware images ship them).
func ParseStatus(r io.Reader) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxStatusLine)
	var out []Package
	var p Package
	status := ""
	flush := func() {
		if p.Name != "" && p.Version != "" && (status == "" || strings.HasSuffix(status, " installed")) {
			if p.Source == "" {
				p.Source = p.Name
			}
			out = append(out, p)
		}
		p, status = Package{}, ""
	}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" {
			flush()
			continue
		}
		if s[0] == ' ' || s[0] == '\t' {
			continue // continuation of a multi-line field (Description, Conffiles)
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			return out, fmt.Errorf("status line %d %q: not a field", line, clip(s))
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "package":
			p.Name = v
		case "version":
			p.Version = v
		case "status":
			status = v
		case "source":
			// "Source: openssh" or "Source: openssh (1:9.2p1-2+deb12u3)"
			name, ver, _ := strings.Cut(v, " ")
			p.Source = name
			p.SourceVersion = strings.Trim(strings.TrimSpace(ver), "()")
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("status line %d: %w", line+1, err)
	}
	flush()
	return out, nil
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

// Installed returns the distribution package of p on the system osID
// (os-release ID) of release rel: Debian, Ubuntu and Raspbian packages are
// matched against their distribution's advisories; anything else (OpenWrt's
// opkg, Buildroot) has no distribution and keeps upstream matching, so the
// zero Distro is returned.
func Installed(osID, rel string, p Package) model.Distro {
	switch osID {
	case Debian, Ubuntu, Raspbian:
	default:
		return model.Distro{}
	}
	v := p.Version
	if p.SourceVersion != "" {
		v = p.SourceVersion // binNMU rebuilds (+b1) keep the source's advisories
	}
	if osID == Ubuntu || osID == Debian {
		rel = strings.SplitN(rel, ".", 3)[0] + restRelease(osID, rel)
	}
	return model.Distro{Name: osID, Release: rel, Package: p.Source, Version: v}
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

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
