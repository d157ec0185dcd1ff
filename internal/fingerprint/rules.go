// Package fingerprint identifies what answered on a service from the
// fields of its handshake record: vendor, product, version, device type and
// a CPE 2.3 name spelled as NVD spells it. Two sources, both data: our own
// IoT rules in embedded YAML (rules.yaml), and Rapid7's Recog fingerprint
// databases (embedded by github.com/RumbleDiscovery/recog-go, or a newer XML
// set from a directory), loaded once, lazily, off the hot path.
package fingerprint

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"iotwatch/internal/model"
)

//go:embed rules.yaml
var builtinRules []byte

// CPESpec builds a CPE 2.3 name; fields are templates (see Rule).
type CPESpec struct {
	Part    string `yaml:"part"` // a, o or h
	Vendor  string `yaml:"vendor"`
	Product string `yaml:"product"`
	Version string `yaml:"version"`
	Update  string `yaml:"update"`
}

// Rule is one data-driven fingerprint. Every regular expression in Match
// must match its field; named groups become template variables. Templates
// use {name} for a capture, {=field} for a record field, and the filters
// {name|cpe} (lower case, spaces to underscores, CPE-escaped) and
// {name|lower}.
type Rule struct {
	ID         string            `yaml:"id"`
	Protocol   string            `yaml:"protocol,omitempty"` // empty: any
	Match      map[string]string `yaml:"match"`
	Vendor     string            `yaml:"vendor"`
	Product    string            `yaml:"product"`
	Version    string            `yaml:"version,omitempty"`
	DeviceType string            `yaml:"device_type,omitempty"`
	CPE        *CPESpec          `yaml:"cpe,omitempty"`
	Confidence float64           `yaml:"confidence"`
	// Examples are field sets the rule must identify as Expect (tested).
	Examples []Example `yaml:"examples,omitempty"`
}

// Example is a rule's self-test.
type Example struct {
	Fields map[string]string `yaml:"fields"`
	Expect map[string]string `yaml:"expect"` // vendor, product, version, device_type, cpe
}

type compiled struct {
	Rule
	re map[string]*regexp.Regexp
}

// ParseRules parses and compiles a YAML rule list.
func ParseRules(b []byte) ([]*compiled, error) {
	var rules []Rule
	if err := yaml.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("fingerprint rules: %w", err)
	}
	seen := map[string]bool{}
	out := make([]*compiled, 0, len(rules))
	for i, r := range rules {
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("fingerprint rule %d: missing or duplicate id %q", i, r.ID)
		}
		seen[r.ID] = true
		if len(r.Match) == 0 || r.Product == "" && r.Vendor == "" {
			return nil, fmt.Errorf("fingerprint rule %s: needs match and vendor or product", r.ID)
		}
		if !strings.Contains(r.DeviceType, "{") && !model.KnownDeviceType(r.DeviceType) {
			return nil, fmt.Errorf("fingerprint rule %s: device_type %q is not one of model's device types", r.ID, r.DeviceType)
		}
		if r.Confidence <= 0 || r.Confidence > 1 {
			return nil, fmt.Errorf("fingerprint rule %s: confidence %v not in (0,1]", r.ID, r.Confidence)
		}
		c := &compiled{Rule: r, re: map[string]*regexp.Regexp{}}
		for f, pat := range r.Match {
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("fingerprint rule %s field %s: %w", r.ID, f, err)
			}
			c.re[f] = re
		}
		out = append(out, c)
	}
	return out, nil
}

// apply matches the rule against fields and returns the variables, or nil.
func (c *compiled) apply(proto string, fields map[string]string) map[string]string {
	if c.Protocol != "" && c.Protocol != proto {
		return nil
	}
	for f := range c.re { // cheap presence check before any regexp runs
		if fields[f] == "" {
			return nil
		}
	}
	vars := map[string]string{}
	for f, re := range c.re {
		m := re.FindStringSubmatch(fields[f])
		if m == nil {
			return nil
		}
		for i, name := range re.SubexpNames() {
			if name != "" && m[i] != "" {
				vars[name] = m[i]
			}
		}
	}
	return vars
}

var tmplRE = regexp.MustCompile(`\{(=?)([A-Za-z0-9_.]+)(?:\|(cpe|lower))?\}`)

// expand fills a template from vars and fields.
func expand(t string, vars, fields map[string]string) string {
	if !strings.Contains(t, "{") {
		return t
	}
	return strings.TrimSpace(tmplRE.ReplaceAllStringFunc(t, func(s string) string {
		m := tmplRE.FindStringSubmatch(s)
		v := vars[m[2]]
		if m[1] == "=" {
			v = fields[m[2]]
		}
		switch m[3] {
		case "cpe":
			v = cpeComponent(v)
		case "lower":
			v = strings.ToLower(v)
		}
		return v
	}))
}

// cpeComponent lower-cases v, turns spaces into underscores and escapes the
// characters CPE 2.3's formatted string binding reserves.
func cpeComponent(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	v = strings.Join(strings.Fields(v), "_")
	var b strings.Builder
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			continue
		}
		if strings.ContainsRune(`\!"#$%&'()+,/:;<=>@[]^`+"`"+`{|}~?*`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BuildCPE returns a CPE 2.3 formatted string; empty components become "*".
// Components are used as given (already in CPE spelling).
func BuildCPE(part, vendor, product, version, update string) string {
	if vendor == "" || product == "" {
		return ""
	}
	star := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	return fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:%s:*:*:*:*:*:*", star(part), vendor, product, star(version), star(update))
}
