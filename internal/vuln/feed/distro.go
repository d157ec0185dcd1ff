package feed

import (
	"strings"

	"iotwatch/internal/distro"
)

// DistroFix is one range of a distribution's advisory (an OSV record of the
// Debian, Ubuntu or Alpine ecosystems): the source package of a release is
// affected from Introduced ("" = every version) up to Fixed (excluded) or
// LastAffected (included); neither means no fix yet. Versions are in the
// distribution's own ordering, so they never become CPE ranges.
type DistroFix struct {
	Advisory     string   `json:"advisory"` // DSA-5724-1, DEBIAN-CVE-2024-6387, UBUNTU-CVE-…, ALPINE-CVE-… or a CVE id
	CVEs         []string `json:"cves"`     // the CVEs it fixes
	Distro       string   `json:"distro"`   // debian, ubuntu, alpine
	Release      string   `json:"release,omitempty"`
	Package      string   `json:"package"`
	Introduced   string   `json:"introduced,omitempty"`
	Fixed        string   `json:"fixed,omitempty"`
	LastAffected string   `json:"last_affected,omitempty"`
}

// osvCVEs returns the CVE ids an OSV advisory is about: its own id when it
// is one (Alpine's records) or wraps one (DEBIAN-CVE-…, UBUNTU-CVE-…),
// then its aliases and upstream ids.
func osvCVEs(o *osvRecord) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.ToUpper(strings.TrimSpace(s))
		if i := strings.Index(s, "CVE-"); i >= 0 && (i == 0 || s[i-1] == '-') {
			s = s[i:]
		} else {
			return
		}
		if validID(s) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(o.ID)
	for _, a := range o.Aliases {
		add(a)
	}
	for _, a := range o.Upstream {
		add(a)
	}
	return out
}

// distroFixes turns one affected entry of a distribution ecosystem into
// ranges; Pro streams and other distributions give none.
func distroFixes(o *osvRecord, eco, pkg string, ranges []osvRange, cves []string) []DistroFix {
	name, rel, ok := distro.Ecosystem(eco)
	if !ok || pkg == "" || len(cves) == 0 {
		return nil
	}
	base := DistroFix{Advisory: strings.TrimSpace(o.ID), CVEs: cves, Distro: name, Release: rel, Package: strings.ToLower(pkg)}
	var out []DistroFix
	for _, rg := range ranges {
		if rg.Type != "ECOSYSTEM" {
			continue
		}
		cur := -1
		for _, ev := range rg.Events {
			switch {
			case ev.Introduced != "":
				f := base
				if ev.Introduced != "0" {
					f.Introduced = ev.Introduced
				}
				out = append(out, f)
				cur = len(out) - 1
			case ev.Fixed != "" && cur >= 0:
				out[cur].Fixed = ev.Fixed
				cur = -1
			case ev.LastAffected != "" && cur >= 0:
				out[cur].LastAffected = ev.LastAffected
				cur = -1
			}
		}
	}
	return out
}
