package firmware

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"iotwatch/internal/firmware/unpack"
	"iotwatch/internal/model"
)

//go:embed rules.yaml
var rulesYAML []byte

// Rule is one line rule of rules.yaml.
type Rule struct {
	ID       string         `yaml:"id"`
	Kind     string         `yaml:"kind"`
	Severity model.Severity `yaml:"severity"`
	Title    string         `yaml:"title"`
	Files    []string       `yaml:"files"`
	Regex    string         `yaml:"regex"`
	Exclude  string         `yaml:"exclude"`

	re, ex *regexp.Regexp
}

// ParseRules reads and validates a rule list.
func ParseRules(b []byte) ([]*Rule, error) {
	var rules []*Rule
	if err := yaml.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	ids := map[string]bool{}
	for _, r := range rules {
		if r.ID == "" || r.Kind == "" || r.Title == "" || r.Regex == "" || len(r.Files) == 0 {
			return nil, fmt.Errorf("rule %q: id, kind, title, files and regex are required", r.ID)
		}
		if ids[r.ID] {
			return nil, fmt.Errorf("rule %s: duplicate id", r.ID)
		}
		ids[r.ID] = true
		var err error
		if r.re, err = regexp.Compile("(?m)" + r.Regex); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if r.Exclude != "" {
			if r.ex, err = regexp.Compile(r.Exclude); err != nil {
				return nil, fmt.Errorf("rule %s: exclude: %w", r.ID, err)
			}
		}
		for _, g := range r.Files {
			if _, err := path.Match(g, "/x"); err != nil {
				return nil, fmt.Errorf("rule %s: glob %q: %w", r.ID, g, err)
			}
		}
	}
	return rules, nil
}

var defaultRules = sync.OnceValues(func() ([]*Rule, error) { return ParseRules(rulesYAML) })

// Hit is a rule match on one line of one file.
type Hit struct {
	Rule     string         `json:"rule"`
	Kind     string         `json:"kind"`
	Severity model.Severity `json:"severity"`
	Title    string         `json:"title"`
	Path     string         `json:"path"`
	Line     int            `json:"line"`
	Text     string         `json:"text"`
}

func (r *Rule) applies(p string) bool {
	for _, g := range r.Files {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// maxRuleFile is the largest file the line rules read.
const maxRuleFile = 1 << 20

// applyRules runs the line rules over the text files they name.
func applyRules(v *view, rules []*Rule) []Hit {
	var hits []Hit
	for _, f := range v.files {
		if f.Link != "" || f.Size == 0 || f.Size > maxRuleFile {
			continue
		}
		var rs []*Rule
		for _, r := range rules {
			if r.applies(f.Path) {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		data, err := os.ReadFile(f.Host)
		if err != nil || bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			t := strings.TrimSpace(line)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			for _, r := range rs {
				if r.re.MatchString(line) && (r.ex == nil || !r.ex.MatchString(line)) {
					if len(t) > 200 {
						t = t[:200]
					}
					hits = append(hits, Hit{Rule: r.ID, Kind: r.Kind, Severity: r.Severity, Title: r.Title, Path: f.Path, Line: i + 1, Text: t})
				}
			}
		}
	}
	return hits
}

// UpdateInfo describes how the firmware updates itself and how safely.
type UpdateInfo struct {
	Mechanisms   []string `json:"mechanisms,omitempty"`   // sysupgrade, opkg, rauc, swupdate, mender, vendor-script
	Verification []string `json:"verification,omitempty"` // evidence of signature checks
	PublicKeys   []string `json:"public_keys,omitempty"`  // update keys found on the device
	ImageFormats []string `json:"image_formats,omitempty"`
	ImageSigned  bool     `json:"image_signed"`
	Rollback     []string `json:"rollback_protection,omitempty"` // evidence of anti-rollback checks
	Weaknesses   []Hit    `json:"weaknesses,omitempty"`
}

var (
	flashRe    = regexp.MustCompile(`\bmtd\b[^\n]*\bwrite\b|\bflashcp\b|\bdd\b[^\n]*of=/dev/(?:mtd|mmcblk)|\bnandwrite\b|\bsysupgrade\b|\bfw_setenv\b[^\n]*boot`)
	fetchRe    = regexp.MustCompile(`\b(?:wget|curl|tftp|uclient-fetch)\b`)
	verifyRe   = regexp.MustCompile(`\busign\b|openssl\s+(?:dgst|smime|cms|pkeyutl)[^\n]*-verify|\bgpgv?\b[^\n]*--verify|\bgpgv\b|\bfwtool\b|\brsa_verify\b|\bverify_signature\b|\bswupdate\b[^\n]*\s-k\s|\brauc\b`)
	rollbackRe = regexp.MustCompile(`(?i)anti[-_ ]?rollback|rollback[-_ ]?(?:index|version|protect)|security[-_]version|min(?:imum)?[-_]?(?:fw|firmware)?[-_]?version|downgrade`)
	keyDirs    = []string{"/etc/opkg/keys/*", "/etc/swupdate/*.pem", "/etc/rauc/*.pem", "/etc/rauc/*.crt", "/etc/mender/*.pem", "/etc/keys/*", "/usr/share/keys/*"}
)

// checkUpdate finds the update mechanism and its weaknesses.
func checkUpdate(v *view, rep *unpack.Report, hits []Hit) UpdateInfo {
	var u UpdateInfo
	has := func(ps ...string) bool {
		return slices.ContainsFunc(ps, v.exists)
	}
	weak := func(id string, sev model.Severity, title, p, text string) {
		u.Weaknesses = append(u.Weaknesses, Hit{Rule: id, Kind: "update-weakness", Severity: sev, Title: title, Path: p, Text: text})
	}
	for _, g := range keyDirs {
		for _, f := range v.glob(g) {
			u.PublicKeys = append(u.PublicKeys, f.Path)
		}
	}
	if has("/sbin/sysupgrade") {
		u.Mechanisms = append(u.Mechanisms, "sysupgrade")
		if has("/usr/bin/usign", "/usr/bin/fwtool") {
			u.Verification = append(u.Verification, "usign/fwtool present for sysupgrade image signatures")
		}
	}
	if has("/bin/opkg", "/usr/bin/opkg") {
		u.Mechanisms = append(u.Mechanisms, "opkg")
		signed := false
		for _, f := range append(v.lookup("/etc/opkg.conf"), v.glob("/etc/opkg/*.conf")...) {
			if b, err := os.ReadFile(f.Host); err == nil && regexp.MustCompile(`(?m)^\s*option\s+check_signature`).Match(b) {
				signed = true
			}
		}
		if signed {
			u.Verification = append(u.Verification, "opkg check_signature enabled")
		} else {
			weak("opkg-no-signature", model.SeverityMedium, "package manager does not check package signatures (opkg check_signature off)", "/etc/opkg.conf", "")
		}
	}
	if has("/usr/bin/rauc", "/etc/rauc/system.conf") {
		u.Mechanisms = append(u.Mechanisms, "rauc")
		u.Verification = append(u.Verification, "RAUC verifies bundle signatures against its keyring")
	}
	if has("/usr/bin/swupdate") {
		u.Mechanisms = append(u.Mechanisms, "swupdate")
		if len(v.glob("/etc/swupdate/*.pem")) > 0 {
			u.Verification = append(u.Verification, "swupdate public key present (signed .swu images)")
		}
	}
	if has("/usr/bin/mender", "/etc/mender/mender.conf") {
		u.Mechanisms = append(u.Mechanisms, "mender")
		for _, f := range v.lookup("/etc/mender/mender.conf") {
			if b, err := os.ReadFile(f.Host); err == nil && bytes.Contains(b, []byte("ArtifactVerifyKey")) {
				u.Verification = append(u.Verification, "mender ArtifactVerifyKey set")
			}
		}
	}
	// Vendor scripts that download and flash.
	for _, f := range v.files {
		if f.Link != "" || f.Size == 0 || f.Size > maxRuleFile {
			continue
		}
		if !strings.HasPrefix(f.Path, "/etc/") && !strings.HasPrefix(f.Path, "/usr/") && !strings.HasPrefix(f.Path, "/sbin/") &&
			!strings.HasPrefix(f.Path, "/bin/") && !strings.HasPrefix(f.Path, "/lib/") && !strings.HasPrefix(f.Path, "/www/") {
			continue
		}
		b, err := os.ReadFile(f.Host)
		if err != nil || !bytes.HasPrefix(b, []byte("#!")) {
			continue
		}
		if !fetchRe.Match(b) || !flashRe.Match(b) {
			continue
		}
		if !slices.Contains(u.Mechanisms, "vendor-script") {
			u.Mechanisms = append(u.Mechanisms, "vendor-script")
		}
		if rollbackRe.Match(b) {
			u.Rollback = append(u.Rollback, "version check in "+f.Path)
		}
		if verifyRe.Match(b) {
			u.Verification = append(u.Verification, "signature check in "+f.Path)
		} else {
			weak("update-no-signature", model.SeverityHigh, "update script downloads and flashes firmware without verifying a signature", f.Path, "")
		}
	}
	for _, h := range hits {
		if h.Kind == "update-weakness" {
			u.Weaknesses = append(u.Weaknesses, h)
		}
	}
	// The image container itself.
	anySigned := false
	for _, e := range rep.Extracted {
		switch e.Format {
		case "uimage", "trx", "fit":
			u.ImageFormats = append(u.ImageFormats, e.Format)
			if m, ok := e.Info.(map[string]any); ok && m["signed"] == true {
				anySigned = true
			}
		}
	}
	slices.Sort(u.ImageFormats)
	u.ImageFormats = slices.Compact(u.ImageFormats)
	u.ImageSigned = anySigned
	if len(u.ImageFormats) > 0 && !anySigned {
		weak("image-unsigned", model.SeverityInfo, "image container carries a checksum but no signature", "", strings.Join(u.ImageFormats, ", "))
	}
	needsKey := slices.ContainsFunc(u.Mechanisms, func(m string) bool {
		return m == "sysupgrade" || m == "swupdate" || m == "mender" || m == "rauc"
	})
	if needsKey && len(u.PublicKeys) == 0 {
		weak("no-update-key", model.SeverityMedium, "update mechanism present but no update public key on the device", "", strings.Join(u.Mechanisms, ", "))
	}
	if len(u.Mechanisms) > 0 && len(u.Verification) == 0 && !anySigned {
		weak("unsigned-updates", model.SeverityHigh, "no evidence that firmware updates are signed or verified", "", strings.Join(u.Mechanisms, ", "))
	}
	// Anti-rollback: configuration of the A/B updaters, or version checks in scripts.
	for _, g := range []string{"/etc/rauc/*", "/etc/swupdate*", "/etc/swupdate/*", "/etc/mender/*", "/etc/fw_env.config"} {
		for _, f := range v.glob(g) {
			if b, err := os.ReadFile(f.Host); err == nil && len(b) < maxRuleFile && rollbackRe.Match(b) {
				u.Rollback = append(u.Rollback, "rollback setting in "+f.Path)
			}
		}
	}
	imageUpdate := slices.ContainsFunc(u.Mechanisms, func(m string) bool { return m != "opkg" })
	if imageUpdate && len(u.Rollback) == 0 {
		weak("no-rollback-protection", model.SeverityLow, "no evidence of anti-rollback protection (older, vulnerable firmware can be re-installed)", "", strings.Join(u.Mechanisms, ", "))
	}
	return u
}
