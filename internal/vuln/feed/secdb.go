package feed

// Alpine's security database (secdb): one JSON file per release and
// repository (v3.20/main.json), listing for every source package the
// versions that fixed CVEs — the "secfixes" of its APKBUILD:
//
//	{"distroversion": "v3.20", "reponame": "main", "urlprefix": …, "apkurl": …, "archs": […],
//	 "packages": [{"pkg": {"name": "openssh", "secfixes": {"9.7_p1-r4": ["CVE-2024-6387"], "0": ["CVE-…"]}}}]}
//
// A version key is the first apk version with the fix; the key "0" lists
// CVEs Alpine's maintainers found do not affect their package (fixed before
// it was packaged, another platform's code). Each package becomes one
// distribution-only record of id ALPINE-SECDB:<release>:<repository>:<package>,
// so that importing a newer secdb file replaces what the older one said of
// the package.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"iotwatch/internal/distro"
)

// SecdbNotAffected is the fixed version Alpine's secdb gives a CVE that
// never affected its package.
const SecdbNotAffected = "0"

// secdbFile is an Alpine secdb file.
type secdbFile struct {
	DistroVersion string         `json:"distroversion"`
	RepoName      string         `json:"reponame"`
	Packages      []secdbPackage `json:"packages"`
}

type secdbPackage struct {
	Pkg struct {
		Name     string              `json:"name"`
		Secfixes map[string][]string `json:"secfixes"`
	} `json:"pkg"`
}

var secdbCVE = regexp.MustCompile(`CVE-[0-9]{4}-[0-9]{4,}`)

// isSecdb reports whether a top-level object's keys are a secdb file's.
func isSecdb(top map[string]json.RawMessage) bool {
	_, dv := top["distroversion"]
	_, pk := top["packages"]
	return dv && pk
}

// secdb hands on the records of a secdb file.
func (jr *jsonReader) secdb(top map[string]json.RawMessage) error {
	var f secdbFile
	b, err := json.Marshal(top)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		return fmt.Errorf("alpine secdb: %w", err)
	}
	rel := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(f.DistroVersion)), "v")
	if rel == "" {
		return fmt.Errorf("alpine secdb without distroversion: %w", ErrUnknownFormat)
	}
	jr.setFormat("alpine-secdb")
	for i := range f.Packages {
		if err := jr.ctx.Err(); err != nil {
			return err
		}
		if r := secdbRecord(rel, f.RepoName, &f.Packages[i]); r != nil {
			if err := jr.record(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// secdbRecord turns one package of release rel's repository repo into a
// distribution-only record, or nil when it names no CVE.
func secdbRecord(rel, repo string, p *secdbPackage) *Record {
	name := strings.ToLower(strings.TrimSpace(p.Pkg.Name))
	if name == "" || len(p.Pkg.Secfixes) == 0 {
		return nil
	}
	r := &Record{ID: secdbID(rel, repo, name), Source: "alpine-secdb", DistroOnly: true}
	versions := make([]string, 0, len(p.Pkg.Secfixes))
	for v := range p.Pkg.Secfixes {
		versions = append(versions, v)
	}
	sort.Strings(versions) // a stable order of ranges
	for _, v := range versions {
		var cves []string
		for _, s := range p.Pkg.Secfixes[v] {
			for _, c := range secdbCVE.FindAllString(s, -1) {
				if validID(c) {
					cves = append(cves, c)
				}
			}
		}
		v = strings.TrimSpace(v)
		if len(cves) == 0 || v == "" {
			continue
		}
		r.Distro = append(r.Distro, DistroFix{Advisory: r.ID, CVEs: cves, Distro: distro.Alpine, Release: rel, Package: name, Fixed: v})
	}
	if len(r.Distro) == 0 {
		return nil
	}
	return r
}

// secdbID is the record id of a package of a secdb file: letters, digits
// and ".-_:" only, at most 64 bytes.
func secdbID(rel, repo, name string) string {
	clean := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
				return c
			}
			return '_'
		}, s)
	}
	id := "ALPINE-SECDB:v" + clean(rel) + ":" + clean(repo) + ":" + clean(name)
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}
