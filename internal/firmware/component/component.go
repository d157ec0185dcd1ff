// Package component identifies the software components of an unpacked
// firmware: binaries by data-driven signatures (file glob + version regex →
// name, version, CPE, purl, in signatures.yaml), package databases (opkg,
// dpkg), OpenWrt release files, kernel module trees and Go build info.
package component

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/package-url/packageurl-go"
	"gopkg.in/yaml.v3"

	"iotwatch/internal/model"
)

//go:embed signatures.yaml
var signaturesYAML []byte

// Signature maps files to a component and its version.
type Signature struct {
	Name        string   `yaml:"name"`
	Vendor      string   `yaml:"vendor"`
	Product     string   `yaml:"product"`
	Part        string   `yaml:"part"` // CPE part: a (default) or o
	Type        string   `yaml:"type"` // CycloneDX type: application (default), library, operating-system, firmware
	Files       []string `yaml:"files"`
	Blob        bool     `yaml:"blob"`
	Needle      string   `yaml:"needle"`
	Regex       string   `yaml:"regex"`
	FileVersion string   `yaml:"file_version"`
	Packages    []string `yaml:"packages"`

	re     *regexp.Regexp
	fileRe *regexp.Regexp
}

// Catalog is a validated set of signatures.
type Catalog struct {
	sigs  []*Signature
	byPkg map[string]*Signature
}

// Parse reads and validates a YAML signature list.
func Parse(b []byte) (*Catalog, error) {
	var sigs []*Signature
	if err := yaml.Unmarshal(b, &sigs); err != nil {
		return nil, fmt.Errorf("parse signatures: %w", err)
	}
	c := &Catalog{byPkg: map[string]*Signature{}}
	names := map[string]bool{}
	for i, s := range sigs {
		if s.Name == "" || s.Vendor == "" || s.Product == "" {
			return nil, fmt.Errorf("signature %d: name, vendor and product are required", i)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("signature %s: duplicate name", s.Name)
		}
		names[s.Name] = true
		if s.Part == "" {
			s.Part = "a"
		}
		if s.Type == "" {
			s.Type = "application"
		}
		for _, g := range s.Files {
			if _, err := path.Match(g, "x"); err != nil {
				return nil, fmt.Errorf("signature %s: glob %q: %w", s.Name, g, err)
			}
		}
		var err error
		if s.Regex != "" {
			if s.re, err = regexp.Compile(s.Regex); err != nil {
				return nil, fmt.Errorf("signature %s: regex: %w", s.Name, err)
			}
			if s.re.NumSubexp() < 1 {
				return nil, fmt.Errorf("signature %s: regex needs a version group", s.Name)
			}
			if s.Needle == "" {
				return nil, fmt.Errorf("signature %s: a regex needs a needle (literal prefilter)", s.Name)
			}
		}
		if s.FileVersion != "" {
			if s.fileRe, err = regexp.Compile(s.FileVersion); err != nil {
				return nil, fmt.Errorf("signature %s: file_version: %w", s.Name, err)
			}
		}
		for _, p := range s.Packages {
			c.byPkg[p] = s
		}
		c.sigs = append(c.sigs, s)
	}
	return c, nil
}

var defaultCatalog = sync.OnceValues(func() (*Catalog, error) { return Parse(signaturesYAML) })

// Default returns the embedded catalog.
func Default() (*Catalog, error) { return defaultCatalog() }

// Signatures returns the catalog's signatures (read-only).
func (c *Catalog) Signatures() []*Signature { return c.sigs }

// Component is one identified piece of software.
type Component struct {
	Name     string   `json:"name"`
	Version  string   `json:"version,omitempty"`
	Vendor   string   `json:"vendor,omitempty"`
	Type     string   `json:"type"` // CycloneDX component type
	CPE      string   `json:"cpe,omitempty"`
	PURL     string   `json:"purl,omitempty"`
	Source   string   `json:"source"` // signature:<name>, dpkg, opkg, apk, go-buildinfo, kernel-modules, openwrt_release
	Paths    []string `json:"paths,omitempty"`
	Evidence string   `json:"evidence,omitempty"`
	// Distro is the distribution package of a package-database component
	// on a system whose os-release names its distribution (Debian, Ubuntu,
	// Alpine, OpenWrt): its advisories decide what backports fixed.
	Distro model.Distro `json:"distro,omitzero"`
}

// Key identifies a component for de-duplication.
func (c Component) Key() string { return c.Source + "\x00" + c.Name + "\x00" + c.Version }

// CPE23 formats a CPE 2.3 string, escaping what the spec requires.
func CPE23(part, vendor, product, version string) string {
	if version == "" {
		version = "*"
	} else {
		version = cpeEscape(version)
	}
	return fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:*:*:*:*:*:*:*", part, cpeEscape(vendor), cpeEscape(product), version)
}

func cpeEscape(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
			continue
		}
		b.WriteByte('\\')
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Signature) component(version, source, p, evidence string) Component {
	return Component{
		Name: s.Name, Version: version, Vendor: s.Vendor, Type: s.Type,
		CPE:    CPE23(s.Part, s.Vendor, s.Product, version),
		PURL:   packageurl.NewPackageURL("generic", s.Vendor, s.Name, version, nil, "").ToString(),
		Source: source, Paths: []string{p}, Evidence: evidence,
	}
}

// matchesFile reports whether the signature applies to a file named base.
func (s *Signature) matchesFile(base string) bool {
	for _, g := range s.Files {
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

// ErrNoVersion is returned by Match when a file matched but yielded no version.
var ErrNoVersion = errors.New("no version found")

// Match returns the version the signature finds in data (the file's bytes).
func (s *Signature) Match(data []byte) (version, evidence string, err error) {
	if s.re == nil {
		return "", "", ErrNoVersion
	}
	if !containsBytes(data, s.Needle) {
		return "", "", ErrNoVersion
	}
	// The most specific (longest) version wins: OpenSSH_9.2p1 over OpenSSH_9.2.
	for _, m := range s.re.FindAllSubmatchIndex(data, 16) {
		if m[2] >= 0 && m[3]-m[2] > len(version) {
			version, evidence = string(data[m[2]:m[3]]), printable(data[m[0]:m[1]])
		}
	}
	if version == "" {
		return "", "", ErrNoVersion
	}
	return version, evidence, nil
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		}
	}
	s := sb.String()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// upstreamVersion strips a Debian/opkg epoch and packaging revision.
func upstreamVersion(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 && i < 4 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	for _, sep := range []string{".dfsg", "+dfsg", "+ds", "~", "+"} {
		if i := strings.Index(v, sep); i > 0 {
			v = v[:i]
		}
	}
	return v
}

func containsBytes(data []byte, needle string) bool {
	return needle == "" || bytes.Contains(data, []byte(needle))
}
