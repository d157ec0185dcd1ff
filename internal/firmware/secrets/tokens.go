package secrets

import (
	"math"
	"regexp"
	"strings"
)

// Secret is a token, cloud key or configured password found in a text file.
type Secret struct {
	Path    string  `json:"path"`
	Line    int     `json:"line"`
	Kind    string  `json:"kind"` // aws-access-key, github-token, …, config-password
	Name    string  `json:"name,omitempty"`
	Value   string  `json:"value"` // raw; redact for display
	Entropy float64 `json:"entropy,omitempty"`
}

type tokenRule struct {
	kind       string
	re         *regexp.Regexp // last group = value
	minEntropy float64
}

// tokenRules are after gitleaks' rules for the providers IoT backends use.
var tokenRules = []tokenRule{
	{"aws-access-key", regexp.MustCompile(`\b((?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16})\b`), 3.0},
	{"aws-secret-key", regexp.MustCompile(`(?i)aws.{0,20}?(?:secret|key).{0,20}?[=:"'\s]\s*["']?([A-Za-z0-9/+]{40})\b`), 4.0},
	{"github-token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36})\b`), 3.5},
	{"slack-token", regexp.MustCompile(`\b(xox[baprs]-[0-9A-Za-z-]{10,72})\b`), 3.0},
	{"google-api-key", regexp.MustCompile(`\b(AIza[0-9A-Za-z_\-]{35})\b`), 3.5},
	{"stripe-key", regexp.MustCompile(`\b((?:sk|rk)_live_[0-9a-zA-Z]{24,99})\b`), 3.5},
	{"jwt", regexp.MustCompile(`\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})`), 4.0},
	{"generic-api-key", regexp.MustCompile(`(?i)\b(?:api[_-]?key|apikey|secret[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|app[_-]?secret)\b["']?\s*[:=]\s*["']?([A-Za-z0-9/+_\-.]{16,128})`), 3.5},
}

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func lineOf(data []byte, off int) int {
	return strings.Count(string(data[:off]), "\n") + 1
}

func tokens(p string, data []byte) []Secret {
	var out []Secret
	for _, r := range tokenRules {
		for _, m := range r.re.FindAllSubmatchIndex(data, 50) {
			g := len(m)/2 - 1
			v := string(data[m[2*g]:m[2*g+1]])
			e := Entropy(v)
			if e < r.minEntropy || placeholder(v) {
				continue
			}
			out = append(out, Secret{Path: p, Line: lineOf(data, m[0]), Kind: r.kind, Value: v, Entropy: math.Round(e*100) / 100})
		}
	}
	return out
}

// placeholder reports whether v is a template value, not a secret.
func placeholder(v string) bool {
	l := strings.ToLower(v)
	if strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "{") {
		return true
	}
	for _, w := range []string{"example", "xxxx", "your_", "your-", "changeit", "placeholder", "dummy", "sample"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// configPassword matches key = value passwords in shell, ini, UCI and
// wpa/hostapd configuration syntax.
var configPassword = regexp.MustCompile(`(?im)^[ \t]*(?:option[ \t]+|export[ \t]+)?([A-Za-z0-9_.\-]*(?:password|passwd|passphrase|psk|secret|community)[A-Za-z0-9_\-]*|key)[ \t]*(?:=|:|[ \t])[ \t]*['"]?([^'"\s#;]{3,128})['"]?[ \t]*$`)

func isConfigPath(p string) bool {
	if !strings.HasPrefix(p, "/etc/") && !strings.Contains(p, "/config/") && !strings.Contains(p, "/conf/") {
		return false
	}
	if strings.HasSuffix(p, "/passwd") || strings.HasSuffix(p, "/shadow") || strings.HasSuffix(p, ".pem") ||
		strings.Contains(p, "/init.d/") || strings.Contains(p, "/ssl/") {
		return false
	}
	return true
}

func configPasswords(p string, data []byte) []Secret {
	if !isConfigPath(p) {
		return nil
	}
	var out []Secret
	for _, m := range configPassword.FindAllSubmatchIndex(data, 50) {
		name, v := string(data[m[2]:m[3]]), string(data[m[4]:m[5]])
		if placeholder(v) || strings.HasPrefix(v, "/") || strings.EqualFold(v, "none") || strings.EqualFold(v, "no") || strings.EqualFold(v, "yes") ||
			strings.EqualFold(v, "true") || strings.EqualFold(v, "false") || strings.HasSuffix(strings.ToLower(name), "_file") {
			continue
		}
		out = append(out, Secret{Path: p, Line: lineOf(data, m[0]), Kind: "config-password", Name: name, Value: v})
	}
	return out
}
