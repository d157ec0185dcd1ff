// Package cpe parses and matches CPE 2.3 names (NISTIR 7695 formatted
// strings, "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*", and the older
// CPE 2.2 URIs, "cpe:/a:openbsd:openssh:9.2p1") as NVD uses them in
// configurations and as scanners report them.
//
// Attribute values keep their formatted-string escaping ("iu\/sl") so that a
// name prints back exactly; comparisons unescape and ignore case. "*" is ANY,
// "-" is NA, and unquoted "*" and "?" inside a value are wildcards.
package cpe

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Attribute indexes in a Name, in formatted-string order.
const (
	Part = iota
	Vendor
	Product
	Version
	Update
	Edition
	Language
	SWEdition
	TargetSW
	TargetHW
	Other
	numAttrs
)

// Kind says whether an attribute is ANY, NA or a value.
type Kind uint8

// Attribute kinds.
const (
	Any   Kind = iota // "*": any value (also: unknown)
	NA                // "-": not applicable
	Value             // a literal, possibly with wildcards
)

// Attr is one attribute of a CPE name.
type Attr struct {
	Kind Kind
	// Raw is the lower-case formatted-string form, with escapes ("iu\/sl").
	Raw string
	// Lit is the unescaped value ("iu/sl"); empty for ANY and NA.
	Lit string
	// Wild reports whether Raw holds an unquoted "*" or "?".
	Wild bool
}

// Name is a parsed CPE: part, vendor, product, version, update, edition,
// language, sw_edition, target_sw, target_hw, other.
type Name [numAttrs]Attr

// MaxLen bounds the length of a CPE string accepted by Parse.
const MaxLen = 2048

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("cpe: invalid name")

// Parse parses a CPE 2.3 formatted string or a CPE 2.2 URI. Missing trailing
// attributes of a formatted string are ANY, so "cpe:2.3:a:openbsd:openssh:9.2p1"
// is accepted.
func Parse(s string) (Name, error) {
	var n Name
	if len(s) > MaxLen {
		return n, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return n, fmt.Errorf("%w: %q: control, space or non-ASCII byte at %d", ErrSyntax, s, i)
		}
	}
	low := strings.ToLower(s)
	switch {
	case strings.HasPrefix(low, "cpe:2.3:"):
		return parseFS(low)
	case strings.HasPrefix(low, "cpe:/"):
		return parseURI(low)
	}
	return n, fmt.Errorf("%w: %q: want prefix cpe:2.3: or cpe:/", ErrSyntax, s)
}

// MustParse is Parse for names known to be valid (tests, tables); it panics on error.
func MustParse(s string) Name {
	n, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

func parseFS(s string) (Name, error) {
	var n Name
	var buf [numAttrs + 1]string // on the stack: Parse runs for every criterion matched
	fields := splitFS(buf[:0], s[len("cpe:2.3:"):])
	if len(fields) > numAttrs {
		return n, fmt.Errorf("%w: %q: %d attributes, want at most %d", ErrSyntax, s, len(fields), numAttrs)
	}
	if len(fields) < Product+1 {
		return n, fmt.Errorf("%w: %q: needs part, vendor and product", ErrSyntax, s)
	}
	for i := range n {
		if i >= len(fields) {
			n[i] = Attr{Kind: Any, Raw: "*"}
			continue
		}
		a, err := parseAttr(fields[i])
		if err != nil {
			return n, fmt.Errorf("%w: %q: attribute %d: %v", ErrSyntax, s, i, err)
		}
		n[i] = a
	}
	return n, checkPart(n, s)
}

func checkPart(n Name, s string) error {
	switch n[Part].Raw {
	case "a", "o", "h", "*":
		return nil
	}
	return fmt.Errorf("%w: %q: part %q, want a, o, h or *", ErrSyntax, s, n[Part].Raw)
}

// splitFS appends to out the fields of s, split on colons not preceded by
// a backslash escape.
func splitFS(out []string, s string) []string {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // skip the escaped byte
		case ':':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseAttr(raw string) (Attr, error) {
	switch raw {
	case "*", "":
		return Attr{Kind: Any, Raw: "*"}, nil
	case "-":
		return Attr{Kind: NA, Raw: "-"}, nil
	}
	if strings.IndexByte(raw, '\\') < 0 { // no escapes: the literal is the raw value
		return Attr{Kind: Value, Raw: raw, Lit: raw, Wild: strings.ContainsAny(raw, "*?")}, nil
	}
	var lit strings.Builder
	wild := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\\':
			if i+1 >= len(raw) {
				return Attr{}, errors.New("trailing backslash")
			}
			i++
			lit.WriteByte(raw[i])
		case '*', '?':
			wild = true
			lit.WriteByte(c)
		default:
			lit.WriteByte(c)
		}
	}
	return Attr{Kind: Value, Raw: raw, Lit: lit.String(), Wild: wild}, nil
}

func parseURI(s string) (Name, error) {
	var n Name
	parts := strings.Split(s[len("cpe:/"):], ":")
	if len(parts) > 7 {
		return n, fmt.Errorf("%w: %q: %d components, want at most 7", ErrSyntax, s, len(parts))
	}
	for i := range n {
		n[i] = Attr{Kind: Any, Raw: "*"}
	}
	for i, p := range parts {
		if i == 5 && strings.HasPrefix(p, "~") { // packed edition
			packed := strings.Split(p, "~")
			idx := []int{Edition, SWEdition, TargetSW, TargetHW, Other}
			for j, q := range packed[1:] {
				if j >= len(idx) {
					return n, fmt.Errorf("%w: %q: packed edition has too many fields", ErrSyntax, s)
				}
				a, err := uriAttr(q)
				if err != nil {
					return n, fmt.Errorf("%w: %q: %v", ErrSyntax, s, err)
				}
				n[idx[j]] = a
			}
			continue
		}
		a, err := uriAttr(p)
		if err != nil {
			return n, fmt.Errorf("%w: %q: %v", ErrSyntax, s, err)
		}
		idx := i
		if i == 6 {
			idx = Language
		}
		n[idx] = a
	}
	if n[Product].Kind == Any && n[Vendor].Kind == Any {
		return n, fmt.Errorf("%w: %q: needs vendor or product", ErrSyntax, s)
	}
	return n, checkPart(n, s)
}

func uriAttr(p string) (Attr, error) {
	switch p {
	case "", "*":
		return Attr{Kind: Any, Raw: "*"}, nil
	case "-":
		return Attr{Kind: NA, Raw: "-"}, nil
	}
	v, err := url.PathUnescape(p)
	if err != nil {
		return Attr{}, err
	}
	// A percent-encoded control or non-ASCII byte has no formatted-string
	// form (Parse refuses it there): refuse it here too. White space becomes
	// "_" in Literal.
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x7f || c < 0x20 && !strings.ContainsRune("\t\n\v\f\r", rune(c)) {
			return Attr{}, fmt.Errorf("control or non-ASCII byte %#x", c)
		}
	}
	return Literal(v), nil
}

// Literal returns a value attribute for free text, as a scanner reports it:
// lower-cased, spaces turned into underscores, special characters escaped.
// An empty string is ANY.
func Literal(v string) Attr {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" || v == "*" {
		return Attr{Kind: Any, Raw: "*"}
	}
	if v == "-" {
		return Attr{Kind: NA, Raw: "-"}
	}
	v = strings.Join(strings.Fields(v), "_")
	var raw strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' && i > 0 {
			raw.WriteByte(c)
			continue
		}
		raw.WriteByte('\\')
		raw.WriteByte(c)
	}
	return Attr{Kind: Value, Raw: raw.String(), Lit: v}
}

// New builds a name from free-text fields; empty fields are ANY.
func New(part, vendor, product, version string) Name {
	var n Name
	for i := range n {
		n[i] = Attr{Kind: Any, Raw: "*"}
	}
	n[Part] = Literal(part)
	n[Vendor] = Literal(vendor)
	n[Product] = Literal(product)
	n[Version] = Literal(version)
	return n
}

// String returns the CPE 2.3 formatted string.
func (n Name) String() string {
	var b strings.Builder
	b.WriteString("cpe:2.3")
	for _, a := range n {
		b.WriteByte(':')
		if a.Raw == "" {
			b.WriteByte('*')
			continue
		}
		b.WriteString(a.Raw)
	}
	return b.String()
}

// MatchAttr reports whether target t falls within source (criterion) s:
// ANY on either side matches (an unknown target attribute is not evidence
// against a match), NA matches only NA, values compare case-insensitively with
// the source's wildcards.
func MatchAttr(s, t Attr) bool {
	switch {
	case s.Kind == Any || t.Kind == Any:
		return true
	case s.Kind == NA || t.Kind == NA:
		return s.Kind == t.Kind
	case s.Wild:
		return glob(s.Raw, t.Lit)
	}
	return s.Lit == t.Lit
}

// MatchIgnoringVersion reports whether every attribute of target t except
// version and update falls within criterion n. Version and update are the
// caller's: they need version ordering and ranges.
func (n Name) MatchIgnoringVersion(t Name) bool {
	for i := range n {
		if i == Version || i == Update {
			continue
		}
		if !MatchAttr(n[i], t[i]) {
			return false
		}
	}
	return true
}

// glob matches literal s against a formatted-string pattern p whose unquoted
// "*" matches any run and "?" any one byte.
func glob(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c := p[pi]
			switch {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '?':
				pi++
				si++
				continue
			case c == '\\' && pi+1 < len(p):
				if p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			case c == s[si]:
				pi++
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
