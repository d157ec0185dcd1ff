package affiliation

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"iotwatch/internal/model"
)

// Roles of a screened subject.
const (
	RoleManufacturer = "manufacturer"
	RoleParent       = "parent-company"
	RoleSupplier     = "component-supplier"
	RoleRecipient    = "data-recipient"
	RoleAffiliation  = "declared-affiliation"
)

// Subject is a company to screen.
type Subject struct {
	Role    string   `json:"role"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Country string   `json:"country,omitempty"`
	Source  string   `json:"source,omitempty"` // where the name came from: declaration, sbom, flows
	Detail  string   `json:"detail,omitempty"` // e.g. the components a supplier provides
}

// Match kinds, strongest first.
const (
	MatchExact      = "exact"      // same name after case and punctuation folding
	MatchNormalized = "normalized" // same distinctive words once legal forms and generic words are dropped
	MatchContains   = "contains"   // every word of the listed name appears in the subject's
	MatchFuzzy      = "fuzzy"      // distinctive words spelled nearly alike
)

// Hit is a subject that matches a listed entity.
type Hit struct {
	Subject Subject `json:"subject"`
	Entry   Entry   `json:"entry"`
	Matched string  `json:"matched"` // the listed name or alias that matched
	Via     string  `json:"via"`     // the subject name or alias that matched
	Kind    string  `json:"kind"`
	Score   float64 `json:"score"`
}

// Options tune screening.
type Options struct {
	MinScore float64 // hits below are dropped; 0 means DefaultMinScore
}

// DefaultMinScore keeps exact, normalized, full-containment and close fuzzy matches.
const DefaultMinScore = 0.8

// Screen returns every hit of subjects against the lists, best first, one
// (the best) per subject and listed entry. For many calls against the same
// lists, use a Screener.
func Screen(subjects []Subject, lists []*List, opts Options) []Hit {
	return NewScreener(lists, opts).Screen(subjects)
}

// Screener screens names against lists prepared once; it remembers the
// matches of each name it has seen. It is not safe for concurrent use.
type Screener struct {
	min     float64
	entries []preparedEntry
	cache   map[string][]nameMatch // subject name -> matches of that name
}

type preparedName struct {
	raw string
	n   nameForm
}

type preparedEntry struct {
	e     Entry
	names []preparedName
}

// nameMatch is one listed entry a name matches.
type nameMatch struct {
	entry   int
	matched string
	kind    string
	score   float64
}

// NewScreener prepares the lists.
func NewScreener(lists []*List, opts Options) *Screener {
	s := &Screener{min: opts.MinScore, cache: map[string][]nameMatch{}}
	if s.min == 0 {
		s.min = DefaultMinScore
	}
	for _, l := range lists {
		for _, e := range l.Entries {
			pe := preparedEntry{e: e}
			for _, n := range append([]string{e.Name}, e.Aliases...) {
				if f := parseName(n); len(f.all) > 0 {
					pe.names = append(pe.names, preparedName{n, f})
				}
			}
			s.entries = append(s.entries, pe)
		}
	}
	return s
}

// matches returns the entries one name matches at or above the threshold.
func (s *Screener) matches(name string) []nameMatch {
	if m, ok := s.cache[name]; ok {
		return m
	}
	var out []nameMatch
	if n := parseName(name); len(n.all) > 0 {
		for i, pe := range s.entries {
			best := nameMatch{entry: i}
			for _, en := range pe.names {
				if kind, score := compare(n, en.n); score > best.score {
					best.kind, best.score, best.matched = kind, score, en.raw
				}
			}
			if best.score >= s.min {
				out = append(out, best)
			}
		}
	}
	s.cache[name] = out
	return out
}

// Screen returns the hits of subjects, best first, one per subject and entry.
func (s *Screener) Screen(subjects []Subject) []Hit {
	var hits []Hit
	for _, sub := range subjects {
		best := map[int]Hit{}
		var order []int
		for _, name := range append([]string{sub.Name}, sub.Aliases...) {
			for _, m := range s.matches(name) {
				h, seen := best[m.entry]
				if !seen {
					order = append(order, m.entry)
				}
				if !seen || m.score > h.Score {
					best[m.entry] = Hit{Subject: sub, Entry: s.entries[m.entry].e, Matched: m.matched, Via: name, Kind: m.kind, Score: m.score}
				}
			}
		}
		for _, i := range order {
			hits = append(hits, best[i])
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	return hits
}

// Finding turns a hit into a finding about subject (a device address or product model).
func (h Hit) Finding(subject string) model.Finding {
	src := h.Subject.Source
	if src == "" {
		src = "declaration"
	}
	return model.Finding{
		Kind:     "entity-list-match",
		Subject:  subject,
		Severity: model.SeverityHigh,
		Title:    fmt.Sprintf("%s %q matches %q on %s", h.Subject.Role, h.Subject.Name, h.Entry.Name, h.Entry.Source),
		Detail: fmt.Sprintf("%s match (score %.2f) of %q against listed name %q; list %s dated %s",
			h.Kind, h.Score, h.Via, h.Matched, h.Entry.Source, cmp.Or(h.Entry.Date, "unknown")),
		Evidence: []model.Evidence{{Source: src, Detail: "entity list " + h.Entry.Source, Data: h}},
	}
}

// nameForm is a company name split into folded words.
type nameForm struct {
	all  []string // every word, folded
	sig  []string // words except legal forms
	core []string // words left once legal forms and generic words are dropped
}

// legalForms are company-form words that never distinguish one company from another.
var legalForms = set("co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "llc", "llp",
	"plc", "gmbh", "ag", "sa", "bv", "nv", "srl", "spa", "pte", "pty", "kk", "oy", "ab", "as", "the", "of", "and",
	"jsc", "pjsc", "ojsc", "cjsc", "ooo", "zao", "oao", "sas", "sarl", "lp", "kg", "se", "aka", "a", "k")

// generic words describe a business or place and distinguish little on their own.
var generic = set("technology", "technologies", "tech", "digital", "electronics", "electronic", "electric",
	"group", "holding", "holdings", "international", "intl", "industries", "industry", "industrial", "science",
	"sciences", "scientific", "system", "systems", "network", "networks", "communication", "communications",
	"telecom", "telecommunications", "information", "device", "devices", "software", "products", "product",
	"manufacturing", "trading", "solutions", "services", "service", "global", "research", "institute",
	"development", "engineering", "equipment", "intelligent", "smart", "vision", "security", "mobile",
	"china", "chinese", "prc", "shenzhen", "hangzhou", "beijing", "shanghai", "zhejiang", "guangdong",
	"guangzhou", "wuhan", "xiamen", "chengdu", "hong", "kong", "hk", "usa", "us", "america", "american",
	"europe", "asia", "russia", "russian", "moscow")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// parseName folds case, accents and punctuation and splits into words.
func parseName(s string) nameForm {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == '&':
			b.WriteString(" and ")
		case r == '\'' || r == '’':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	var n nameForm
	for _, w := range strings.Fields(b.String()) {
		n.all = append(n.all, w)
		if !legalForms[w] {
			n.sig = append(n.sig, w)
			if !generic[w] {
				n.core = append(n.core, w)
			}
		}
	}
	return n
}

// compare scores how well subject name s matches listed name e.
func compare(s, e nameForm) (string, float64) {
	ss, es := s.sig, e.sig
	switch {
	case slices.Equal(ss, es) && len(es) > 0:
		return MatchExact, 1
	case len(e.core) > 0 && sameSet(s.core, e.core):
		return MatchNormalized, 0.95
	case (len(e.core) > 0 || len(es) >= 2) && subset(es, ss):
		return MatchContains, 0.85
	case len(e.core) > 0 && len(s.core) > 0 && (subset(e.core, s.core) || subset(s.core, e.core)):
		return MatchContains, 0.75 // only the distinctive words agree; below the default threshold
	}
	if len(e.core) == 0 || len(s.core) == 0 {
		return "", 0
	}
	// Fuzzy: every distinctive word of the shorter name has a close partner.
	short, long := e.core, s.core
	if len(short) > len(long) {
		short, long = long, short
	}
	worst := 1.0
	for _, w := range short {
		best := 0.0
		for _, v := range long {
			if len(w) < 4 || len(v) < 4 || abs(len(w)-len(v)) > 2 {
				if w == v {
					best = 1
				}
				continue
			}
			best = max(best, jaroWinkler(w, v))
		}
		worst = min(worst, best)
	}
	if worst >= 0.9 {
		return MatchFuzzy, 0.9 * worst
	}
	return "", 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sameSet(a, b []string) bool { return subset(a, b) && subset(b, a) }

// subset reports whether every word of a appears in b.
func subset(a, b []string) bool {
	for _, w := range a {
		if !slices.Contains(b, w) {
			return false
		}
	}
	return true
}

// jaroWinkler returns the Jaro-Winkler similarity of a and b in [0,1].
func jaroWinkler(a, b string) float64 {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	window := max(len(ra), len(rb))/2 - 1
	window = max(window, 0)
	ma, mb := make([]bool, len(ra)), make([]bool, len(rb))
	matches := 0
	for i := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && ra[i] == rb[j] {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	trans, k := 0, 0
	for i := range ra {
		if !ma[i] {
			continue
		}
		for !mb[k] {
			k++
		}
		if ra[i] != rb[k] {
			trans++
		}
		k++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(trans)/2)/m) / 3
	prefix := 0
	for i := 0; i < min(4, len(ra), len(rb)) && ra[i] == rb[i]; i++ {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
