package vuln

import (
	"regexp"
	"strings"
	"sync/atomic"

	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/feed"
	"iotwatch/internal/vuln/version"
)

// How NVD configurations are evaluated against what is known of a device
// (a set of CPE names: the product, and for devices its firmware and
// hardware):
//
//   - A criterion matches a known name when part, vendor, product and the
//     other attributes match (ANY and wildcards as in CPE 2.3; an attribute
//     the scanner did not learn is ANY and does not count against a match),
//     and the version matches: within versionStart/End Including/Excluding
//     by version.Compare, or equal to a literal version. A known name without
//     a version matches no versioned vulnerable criterion (but does match a
//     versioned platform: an unknown hardware revision is compatible). NVD's "-" version on a
//     criterion means "not version-specific" and matches every version.
//   - A node is the OR (or AND) of its criteria, inverted when negate is set;
//     a configuration is the AND (or OR) of its nodes.
//   - Criteria with vulnerable=false are platforms ("running on"): they are
//     conditions, never the vulnerable product. A CVE matches only through a
//     vulnerable criterion. A platform node that no known name matches is
//     false when the known names include one of the same part (we know the
//     hardware and it is another), else assumed true and reported as
//     PlatformAssumed.

// compiled is a CVE ready for matching: its configurations and what a
// match reports about it.
type compiled struct {
	configs []cconfig
	info    matchInfo
}

type matchInfo struct {
	aliases  []string // other ids of the same vulnerability (OSV)
	cvss     float64
	vector   string
	cwes     []string
	summary  string
	kev      bool
	kevDue   string
	epss     float64
	epssDate string
}

type cconfig struct {
	and   bool
	neg   bool
	nodes []cnode
}

type cnode struct {
	and      bool
	neg      bool
	platform bool // every criterion is vulnerable=false
	ms       []cmatch
}

type cmatch struct {
	vuln bool
	raw  string
	rng  *vrange // nil without a version range
	// vendor and product are the criterion's vendor and product when they
	// are plain literals (no escapes, no wildcards), else "": a known name
	// with another literal vendor or product cannot match, so most criteria
	// of a large record are rejected without parsing them.
	vendor  string
	product string
	parsed  atomic.Pointer[parsedCPE] // the parsed criterion, on first need
}

// vrange is a criterion's version range (versionStart/End
// Including/Excluding); kept apart so that criteria without one stay small.
type vrange struct{ si, se, ei, ee string }

type parsedCPE struct {
	name cpe.Name
	ok   bool // name parsed
}

// cpeName parses the criterion once; concurrent matches may both parse it,
// with the same result.
func (m *cmatch) cpeName() *parsedCPE {
	if p := m.parsed.Load(); p != nil {
		return p
	}
	p := new(parsedCPE)
	var err error
	p.name, err = cpe.Parse(m.raw)
	p.ok = err == nil
	m.parsed.Store(p)
	return p
}

// part returns the criterion's part, or "" when it does not parse (for
// platform reasoning).
func (m *cmatch) part() string {
	if p := m.cpeName(); p.ok {
		return p.name[cpe.Part].Raw
	}
	return ""
}

// rejects reports whether the criterion's literal vendor or product differs
// from known name t's, so that it cannot match t.
func (m *cmatch) rejects(t cpe.Name) bool {
	if m.product != "" {
		if a := t[cpe.Product]; a.Kind == cpe.Value && a.Lit != m.product {
			return true
		}
	}
	if m.vendor != "" {
		if a := t[cpe.Vendor]; a.Kind == cpe.Value && a.Lit != m.vendor {
			return true
		}
	}
	return false
}

// plainFields returns the vendor and product of a CPE 2.3 formatted
// string, lower-cased, each only when it is a plain literal; "" otherwise.
func plainFields(raw string) (vendor, product string) {
	const pfx = "cpe:2.3:"
	if len(raw) < len(pfx) || !strings.EqualFold(raw[:len(pfx)], pfx) {
		return "", ""
	}
	rest := raw[len(pfx):]
	var f [3]string
	for i := range f {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			if i < 2 {
				return "", ""
			}
			j = len(rest)
		}
		f[i] = rest[:j]
		if strings.IndexByte(f[i], '\\') >= 0 {
			return "", "" // an escaped colon would shift the fields
		}
		if j < len(rest) {
			rest = rest[j+1:]
		}
	}
	return plainLiteral(f[1]), plainLiteral(f[2])
}

// plainLiteral returns the lower-cased v if it is a printable-ASCII literal
// without escapes or wildcards and is not ANY or NA, else "".
func plainLiteral(v string) string {
	if v == "" || v == "*" || v == "-" {
		return ""
	}
	upper := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c <= ' ' || c >= 0x7f || c == '\\' || c == '*' || c == '?':
			return ""
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	if upper {
		return strings.ToLower(v)
	}
	return v
}

func compile(configs []feed.Config) *compiled {
	c := &compiled{configs: make([]cconfig, 0, len(configs))}
	for _, cfg := range configs {
		cc := cconfig{and: strings.EqualFold(cfg.Operator, "AND"), neg: cfg.Negate, nodes: make([]cnode, 0, len(cfg.Nodes))}
		for _, n := range cfg.Nodes {
			cn := cnode{and: strings.EqualFold(n.Operator, "AND"), neg: n.Negate}
			cn.setMatches(n.Matches)
			cc.nodes = append(cc.nodes, cn)
		}
		c.configs = append(c.configs, cc)
	}
	return c
}

// setMatches compiles the node's criteria.
func (n *cnode) setMatches(ms []feed.Match) {
	n.platform = len(ms) > 0
	n.ms = make([]cmatch, len(ms))
	for i, m := range ms {
		cm := &n.ms[i]
		cm.vuln, cm.raw = m.Vulnerable, m.Criteria
		if m.HasRange() {
			cm.rng = &vrange{si: m.StartIncl, se: m.StartExcl, ei: m.EndIncl, ee: m.EndExcl}
		}
		cm.vendor, cm.product = plainFields(m.Criteria)
		if m.Vulnerable {
			n.platform = false
		}
	}
}

// hit is how a CVE matched.
type hit struct {
	criteria        string // the vulnerable criterion that matched
	target          int    // index of the known name it matched
	platformAssumed bool
	versionless     bool // the criterion had NVD's "-" version
}

// pLevel splits OpenSSH-style portable levels off a version: 9.2p1 -> 9.2, p1,
// as NVD records them (version 9.2, update p1).
var pLevel = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)*)(p[0-9]+)$`)

// normalise prepares a known name for matching: Debian epochs and revisions
// are dropped from the version and p-levels move to the update attribute.
func normalise(n cpe.Name) cpe.Name {
	v := n[cpe.Version]
	if v.Kind != cpe.Value || v.Wild {
		return n
	}
	up := version.Upstream(v.Lit)
	if up != v.Lit {
		n[cpe.Version] = cpe.Literal(up)
	}
	if n[cpe.Update].Kind == cpe.Any {
		if m := pLevel.FindStringSubmatch(n[cpe.Version].Lit); m != nil {
			n[cpe.Version] = cpe.Literal(m[1])
			n[cpe.Update] = cpe.Literal(m[2])
		}
	}
	return n
}

// fullVersion joins version and update for range comparison (9.2 + p1 = 9.2p1).
func fullVersion(n cpe.Name) string {
	v := n[cpe.Version].Lit
	u := n[cpe.Update]
	if u.Kind != cpe.Value || u.Wild {
		return v
	}
	if c := u.Lit[0]; c >= 'a' && c <= 'z' {
		return v + u.Lit
	}
	return v + "-" + u.Lit
}

// matchCriterion reports whether criterion m matches known name t, and
// whether it did so through NVD's "-" (any) version.
func matchCriterion(m *cmatch, t cpe.Name) (ok, versionless bool) {
	if m.rejects(t) {
		return false, false
	}
	p := m.cpeName()
	if !p.ok || !p.name.MatchIgnoringVersion(t) {
		return false, false
	}
	name := &p.name
	cv, tv := name[cpe.Version], t[cpe.Version]
	if !m.vuln && tv.Kind == cpe.Any {
		// A platform whose revision we do not know (h:dlink:dir-645 vs
		// NVD's h:dlink:dir-645:a1) is compatible: the condition holds as
		// far as we can tell.
		return true, false
	}
	if r := m.rng; r != nil {
		if tv.Kind != cpe.Value || tv.Wild {
			return false, false
		}
		if cv.Kind == cpe.Value && !cpe.MatchAttr(cv, tv) {
			return false, false
		}
		full := fullVersion(t)
		switch {
		case r.si != "" && version.Compare(full, r.si) < 0,
			r.se != "" && version.Compare(full, r.se) <= 0,
			r.ei != "" && version.Compare(full, r.ei) > 0,
			r.ee != "" && version.Compare(full, r.ee) >= 0:
			return false, false
		}
		return cpe.MatchAttr(name[cpe.Update], t[cpe.Update]), false
	}
	switch cv.Kind {
	case cpe.Any:
	case cpe.NA:
		versionless = true
	case cpe.Value:
		if tv.Kind != cpe.Value {
			return false, false
		}
		if cv.Wild {
			if !cpe.MatchAttr(cv, tv) {
				return false, false
			}
		} else if !version.Equal(cv.Lit, tv.Lit) {
			return false, false
		}
	}
	return cpe.MatchAttr(name[cpe.Update], t[cpe.Update]), versionless
}

// evalNode returns the node's value and the vulnerable criteria that matched.
func evalNode(n *cnode, known []cpe.Name) (bool, []hit) {
	var hits []hit
	anyM, all := false, true
	for i := range n.ms {
		m := &n.ms[i]
		matched := false
		for ti, t := range known {
			ok, vless := matchCriterion(m, t)
			if !ok {
				continue
			}
			matched = true
			if m.vuln {
				hits = append(hits, hit{criteria: m.raw, target: ti, versionless: vless})
			}
			break
		}
		anyM = anyM || matched
		all = all && matched
	}
	v := anyM
	if n.and {
		v = all
	}
	if n.neg {
		return !v, nil // a negated node proves absence, not a vulnerable product
	}
	return v, hits
}

// eval evaluates all configurations and returns the first hit, if any.
func (c *compiled) eval(known []cpe.Name) (hit, bool) {
	for ci := range c.configs {
		cfg := &c.configs[ci]
		var hits []hit
		values := make([]bool, len(cfg.nodes))
		for ni := range cfg.nodes {
			v, hs := evalNode(&cfg.nodes[ni], known)
			values[ni] = v
			if v {
				hits = append(hits, hs...)
			}
		}
		if len(hits) == 0 {
			continue
		}
		assumed := false
		for ni := range cfg.nodes {
			n := &cfg.nodes[ni]
			if values[ni] || !n.platform || n.neg {
				continue
			}
			if knowsLayer(n, known, hits) {
				continue // the platform is known and is another one
			}
			values[ni] = true
			assumed = true
		}
		v := false
		if cfg.and {
			v = true
			for _, x := range values {
				v = v && x
			}
		} else {
			for _, x := range values {
				v = v || x
			}
		}
		if cfg.neg {
			v = !v
		}
		if v {
			h := hits[0]
			h.platformAssumed = assumed && cfg.and
			return h, true
		}
	}
	return hit{}, false
}

// knowsLayer reports whether a known name other than the matched vulnerable
// products has the part of one of the platform node's criteria.
func knowsLayer(n *cnode, known []cpe.Name, hits []hit) bool {
	used := map[int]bool{}
	for _, h := range hits {
		used[h.target] = true
	}
	for ti, t := range known {
		if used[ti] {
			continue
		}
		for mi := range n.ms {
			if p := n.ms[mi].part(); p != "" && t[cpe.Part].Raw == p {
				return true
			}
		}
	}
	return false
}
