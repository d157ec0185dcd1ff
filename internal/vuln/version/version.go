// Package version orders the version strings embedded products actually use,
// where semantic versioning and hashicorp/go-version get them wrong: OpenSSL
// letter suffixes (1.0.2q > 1.0.2, 1.0.2zd > 1.0.2z), OpenSSH portable
// p-levels (9.2p1 > 9.2), Dropbear year versions (2022.83), BusyBox, firmware
// builds with a "V" prefix, pre-releases (1.0-rc1 < 1.0) and Debian-style
// epochs, revisions and tildes (1:9.2p1-2+deb12u3, 1.0~rc1 < 1.0).
//
// A version is split into runs of digits and runs of letters; any other
// character separates runs. Runs are compared left to right:
//   - numbers numerically (any length, no overflow);
//   - the pre-release words dev/snapshot < alpha < beta < pre < rc, and "~",
//     (and dnsmasq's "test", ranked with pre) sort before everything else, including the end of the version;
//   - other letter runs sort after the end of the version (1.0.2q > 1.0.2)
//     and before numbers; between themselves shorter runs first, then
//     alphabetically (OpenSSL's z < za < zb);
//   - missing trailing zero components are equal to none (1.0 == 1.0.0).
//
// An epoch "N:" is compared first, as in Debian.
package version

import (
	"strings"
)

// kind classifies a token.
type kind uint8

const (
	kNum   kind = iota // a run of digits
	kWord              // a run of letters that is not a pre-release word
	kPre               // a pre-release word
	kTilde             // Debian "~": sorts before everything
)

type token struct {
	kind kind
	s    string // digits without leading zeros, or lower-case letters
	rank int    // rank of a pre-release word
}

var preRank = map[string]int{
	"dev": 0, "snapshot": 0, "alpha": 1, "beta": 2, "pre": 3, "test": 3, "rc": 4,
}

// Compare returns -1, 0 or +1 as a is older than, equal to or newer than b.
func Compare(a, b string) int {
	ea, ra := splitEpoch(a)
	eb, rb := splitEpoch(b)
	if c := compareNum(ea, eb); c != 0 {
		return c
	}
	// Token buffers on the stack: Compare runs for every version range
	// of every candidate CVE.
	var ba, bb [16]token
	return compareTokens(tokenize(ba[:0], ra), tokenize(bb[:0], rb))
}

// Less reports whether a is older than b.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// Equal reports whether a and b name the same version (1.0 and 1.0.0 do).
func Equal(a, b string) bool { return Compare(a, b) == 0 }

// Upstream strips a Debian epoch ("1:") and package revision ("-2+deb12u3")
// from v, leaving the upstream version that vulnerability databases list.
// A trailing "-" part is taken as a revision only when it starts with a digit
// and the version has more than one "-"-free component before it.
func Upstream(v string) string {
	v = strings.TrimSpace(v)
	if _, rest := splitEpoch(v); rest != v {
		v = rest
	}
	if i := strings.LastIndexByte(v, '-'); i > 0 && i+1 < len(v) && isDigit(v[i+1]) {
		rev := v[i+1:]
		// Debian/Ubuntu revisions: "1", "2+deb12u3", "0ubuntu1.4", "1.1".
		if strings.ContainsAny(v[:i], ".") || strings.Contains(rev, "deb") || strings.Contains(rev, "ubuntu") {
			v = v[:i]
		}
	}
	return v
}

func splitEpoch(v string) (epoch, rest string) {
	v = strings.TrimSpace(v)
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return "", v
	}
	for j := 0; j < i; j++ {
		if !isDigit(v[j]) {
			return "", v
		}
	}
	return strings.TrimLeft(v[:i], "0"), v[i+1:]
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// tokenize appends to toks the digit runs, letter runs and tildes of v.
func tokenize(toks []token, v string) []token {
	v = strings.TrimSpace(v)
	// A leading "v"/"V" before a digit is a prefix, not a component (V5.5.0).
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && isDigit(v[1]) {
		v = v[1:]
	}
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case isDigit(c):
			j := i
			for j < len(v) && isDigit(v[j]) {
				j++
			}
			s := strings.TrimLeft(v[i:j], "0")
			toks = append(toks, token{kind: kNum, s: s})
			i = j
		case isLetter(c):
			j := i
			for j < len(v) && isLetter(v[j]) {
				j++
			}
			w := strings.ToLower(v[i:j])
			if r, ok := preRank[w]; ok {
				toks = append(toks, token{kind: kPre, s: w, rank: r})
			} else {
				toks = append(toks, token{kind: kWord, s: w})
			}
			i = j
		case c == '~':
			toks = append(toks, token{kind: kTilde})
			i++
		default:
			i++
		}
	}
	return toks
}

func compareNum(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// endOrder is how a token compares with the end of the other version.
func endOrder(t token) int {
	switch t.kind {
	case kTilde, kPre:
		return -1
	case kNum:
		if t.s == "" { // a zero component: 1.0 == 1.0.0
			return 0
		}
		return 1
	default:
		return 1
	}
}

func compareTokens(a, b []token) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if c := compareToken(a[i], b[i]); c != 0 {
			return c
		}
	}
	for _, t := range a[n:] {
		if c := endOrder(t); c != 0 {
			return c
		}
	}
	for _, t := range b[n:] {
		if c := endOrder(t); c != 0 {
			return -c
		}
	}
	return 0
}

// order of kinds when they differ: tilde < pre-release < word < number.
var kindOrder = [...]int{kNum: 3, kWord: 2, kPre: 1, kTilde: 0}

func compareToken(a, b token) int {
	if a.kind != b.kind {
		if kindOrder[a.kind] < kindOrder[b.kind] {
			return -1
		}
		return 1
	}
	switch a.kind {
	case kNum:
		return compareNum(a.s, b.s)
	case kPre:
		switch {
		case a.rank < b.rank:
			return -1
		case a.rank > b.rank:
			return 1
		}
		return 0
	case kWord:
		if len(a.s) != len(b.s) {
			if len(a.s) < len(b.s) {
				return -1
			}
			return 1
		}
		return strings.Compare(a.s, b.s)
	}
	return 0
}
