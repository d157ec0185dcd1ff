package vuln

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"iotwatch/internal/model"
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
	aliases []string // other ids of the same vulnerability (OSV)
	cvss    float64
	vector  string
	cwes    []string
	summary string
	kev     bool
	kevDue  string
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

// MatchCPE returns the CVEs whose configurations match the CPE name.
func (d *DB) MatchCPE(ctx context.Context, name string) ([]model.VulnMatch, error) {
	n, err := cpe.Parse(name)
	if err != nil {
		return nil, err
	}
	return d.matchKnown(ctx, []cpe.Name{n}, model.VulnMatch{})
}

// MatchFingerprint returns the CVEs that affect what a fingerprint
// identifies: by its CPE, and by vendor/product/version through the alias
// table (names scanners see mapped to NVD's). Devices are also tried as
// firmware ("o", product_firmware) with their hardware ("h") as platform.
func (d *DB) MatchFingerprint(ctx context.Context, fp model.Fingerprint) ([]model.VulnMatch, error) {
	known := KnownNames(fp)
	if len(known) == 0 {
		return nil, nil
	}
	return d.matchKnown(ctx, known, model.VulnMatch{Product: fp.Product, Version: fp.Version})
}

// Match returns the CVEs affecting vendor (may be empty), product and version.
func (d *DB) Match(ctx context.Context, vendor, product, ver string) ([]model.VulnMatch, error) {
	return d.MatchFingerprint(ctx, model.Fingerprint{Vendor: vendor, Product: product, Version: ver})
}

func (d *DB) matchKnown(ctx context.Context, known []cpe.Name, tmpl model.VulnMatch) ([]model.VulnMatch, error) {
	var kb strings.Builder
	for i := range known {
		known[i] = normalise(known[i])
		kb.WriteString(known[i].String())
		kb.WriteByte('\n')
	}
	key := kb.String()
	d.mu.Lock()
	cached, ok := d.results[key]
	d.mu.Unlock()
	if ok {
		return copyMatches(cached, tmpl), nil
	}
	out, err := d.matchUncached(ctx, known)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	evict(d.results)
	d.results[key] = out
	d.mu.Unlock()
	return copyMatches(out, tmpl), nil
}

// copyMatches returns fresh copies of ms with tmpl's product and version:
// callers may set addresses on what they get.
func copyMatches(ms []model.VulnMatch, tmpl model.VulnMatch) []model.VulnMatch {
	out := make([]model.VulnMatch, len(ms))
	for i, m := range ms {
		m.IP, m.Port, m.Subject = tmpl.IP, tmpl.Port, tmpl.Subject
		m.Product, m.Version = tmpl.Product, tmpl.Version
		m.CWEs = slices.Clone(m.CWEs)
		out[i] = m
	}
	return out
}

func (d *DB) matchUncached(ctx context.Context, known []cpe.Name) ([]model.VulnMatch, error) {
	ids := map[string]bool{}
	var order []string
	for _, k := range known {
		cands, err := d.candidates(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, id := range cands {
			if !ids[id] {
				ids[id] = true
				order = append(order, id)
			}
		}
	}
	if err := d.load(ctx, order); err != nil {
		return nil, err
	}
	var out []model.VulnMatch
	for _, id := range order {
		c, err := d.compiled(ctx, id)
		if err != nil {
			return nil, err
		}
		h, ok := c.eval(known)
		if !ok {
			continue
		}
		out = append(out, model.VulnMatch{CVE: id, CPE: known[h.target].String()})
	}
	out = dropAliases(out, func(id string) []string {
		c, err := d.compiled(ctx, id)
		if err != nil {
			return nil
		}
		return c.info.aliases
	})
	if err := d.fill(ctx, out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].KEV != out[j].KEV {
			return out[i].KEV
		}
		if out[i].CVSS != out[j].CVSS {
			return out[i].CVSS > out[j].CVSS
		}
		return out[i].CVE > out[j].CVE
	})
	return out, nil
}

// candidates returns the CVEs with a vulnerable criterion for k's product.
func (d *DB) candidates(ctx context.Context, k cpe.Name) ([]string, error) {
	prod := k[cpe.Product]
	if prod.Kind != cpe.Value || prod.Wild {
		return nil, nil
	}
	vendor := "*"
	if v := k[cpe.Vendor]; v.Kind == cpe.Value && !v.Wild {
		vendor = v.Lit
	}
	key := vendor + "\x00" + prod.Lit
	d.mu.Lock()
	ids, ok := d.cands[key]
	d.mu.Unlock()
	if ok {
		return ids, nil
	}
	// One query finds the candidates and fetches them to compile: a cold
	// match pays one round trip per product, not two.
	sub, args := "SELECT cve FROM vuln_cpes WHERE product IN (?, '*')", []any{prod.Lit}
	if vendor != "*" {
		sub += " AND vendor IN (?, '*')"
		args = append(args, vendor)
	}
	raws, err := d.readRaw(ctx, loadQuery+"c.id IN ("+sub+")", args)
	if err != nil {
		return nil, fmt.Errorf("vuln candidates: %w", err)
	}
	for i := range raws {
		id := raws[i].id
		ids = append(ids, id)
		d.mu.Lock()
		_, ok := d.comp[id]
		d.mu.Unlock()
		if ok {
			continue
		}
		c, err := raws[i].compile()
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		evict(d.comp)
		d.comp[id] = c
		d.mu.Unlock()
	}
	d.mu.Lock()
	evict(d.cands)
	d.cands[key] = ids
	d.mu.Unlock()
	return ids, nil
}

func (d *DB) compiled(ctx context.Context, id string) (*compiled, error) {
	d.mu.Lock()
	c, ok := d.comp[id]
	d.mu.Unlock()
	if ok {
		return c, nil
	}
	if err := d.load(ctx, []string{id}); err != nil {
		return nil, err
	}
	d.mu.Lock()
	c, ok = d.comp[id]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("vuln %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// loadQuery selects what scanCompiled reads; a condition on c.id follows.
const loadQuery = `SELECT c.id, c.configs, c.aliases, c.cvss3, c.cvss3_vector, c.cvss4, c.cvss4_vector, c.cvss2, c.cvss2_vector,
	c.cwes, c.summary, c.kev_added, c.kev_due, COALESCE(k.due_date, ''), COALESCE(k.cve, '')
	FROM vuln_cves c LEFT JOIN vuln_kev k ON k.cve = c.id WHERE `

// loadChunk bounds the ids in one IN (...) query.
const loadChunk = 200

// load compiles the CVEs not yet cached, fetching them in few queries.
func (d *DB) load(ctx context.Context, ids []string) error {
	var missing []string
	d.mu.Lock()
	for _, id := range ids {
		if _, ok := d.comp[id]; !ok {
			missing = append(missing, id)
		}
	}
	d.mu.Unlock()
	for len(missing) > 0 {
		chunk := missing[:min(loadChunk, len(missing))]
		missing = missing[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := loadQuery + "c.id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ")"
		raws, err := d.readRaw(ctx, q, args)
		if err != nil {
			return fmt.Errorf("vuln load: %w", err)
		}
		for i := range raws {
			c, err := raws[i].compile()
			if err != nil {
				return err
			}
			d.mu.Lock()
			evict(d.comp)
			d.comp[raws[i].id] = c
			d.mu.Unlock()
		}
	}
	return nil
}

// rawCVE is one row of loadQuery, read before it is compiled so that the
// database connection (SQLite has one) is free while concurrent matches
// compile what they read.
type rawCVE struct {
	id, raw, aliases                                           string
	s3, s4, s2                                                 float64
	v3, v4, v2, cwes, summary, nvdAdded, nvdDue, kevDue, kevID string
}

// readRaw runs a loadQuery and returns its rows.
func (d *DB) readRaw(ctx context.Context, q string, args []any) ([]rawCVE, error) {
	rows, err := d.st.DB().QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rawCVE
	for rows.Next() {
		var r rawCVE
		if err := rows.Scan(&r.id, &r.raw, &r.aliases, &r.s3, &r.v3, &r.s4, &r.v4, &r.s2, &r.v2, &r.cwes, &r.summary, &r.nvdAdded, &r.nvdDue, &r.kevDue, &r.kevID); err != nil {
			return nil, fmt.Errorf("vuln load: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (r *rawCVE) compile() (*compiled, error) {
	c, err := compileStored(r.raw)
	if err != nil {
		return nil, fmt.Errorf("vuln configs %s: %w", r.id, err)
	}
	c.info.aliases = splitList(r.aliases)
	c.info.cvss, c.info.vector = pickScore(r.s3, r.v3, r.s4, r.v4, r.s2, r.v2)
	c.info.cwes = splitList(r.cwes)
	c.info.summary = shortSummary(r.summary)
	if r.kevID != "" || r.nvdAdded != "" {
		c.info.kev = true
		c.info.kevDue = r.kevDue
		if r.kevDue == "" {
			c.info.kevDue = r.nvdDue // NVD's own cisaActionDue
		}
	}
	return c, nil
}

// fill adds scores, KEV, CWEs and summaries to matches.
func (d *DB) fill(ctx context.Context, ms []model.VulnMatch) error {
	for i := range ms {
		m := &ms[i]
		c, err := d.compiled(ctx, m.CVE)
		if err != nil {
			return err
		}
		in := c.info
		m.CVSS, m.CVSSVector = in.cvss, in.vector
		m.CWEs = slices.Clone(in.cwes)
		m.Summary = in.summary
		m.KEV, m.KEVDue = in.kev, in.kevDue
		m.Severity = severity(m.CVSS, m.KEV)
	}
	return nil
}

// pickScore prefers CVSS v3.x (what most records carry), then v4, then v2.
func pickScore(s3 float64, v3 string, s4 float64, v4 string, s2 float64, v2 string) (float64, string) {
	switch {
	case v3 != "":
		return s3, v3
	case v4 != "":
		return s4, v4
	case v2 != "":
		return s2, v2
	}
	return 0, ""
}

// severity rates a match: by CVSS; an unscored CVE is medium; a CVE known
// to be exploited (KEV) is at least high.
func severity(score float64, kev bool) model.Severity {
	s := model.SeverityFromCVSS(score)
	if score == 0 {
		s = model.SeverityMedium
	}
	if kev && s < model.SeverityHigh {
		s = model.SeverityHigh
	}
	return s
}

// shortSummary cuts a description to its first sentence, at most 240 bytes.
func shortSummary(s string) string {
	if i := strings.Index(s, ". "); i > 0 && i < 240 {
		return s[:i+1]
	}
	if len(s) <= 240 {
		return s
	}
	cut := 237
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

// MatchServices matches the fingerprint of every service (and, for devices,
// the asset's fingerprint once per address) and returns the matches with IP
// and port set, ready for store.SaveVulnMatches. Services without a
// fingerprint are skipped.
func (d *DB) MatchServices(ctx context.Context, svcs []model.Service) ([]model.VulnMatch, error) {
	type key struct {
		fp   model.Fingerprint
		ip   string
		port uint16
	}
	seen := map[key]bool{}
	var jobs []model.Service
	var fps []model.Fingerprint
	for _, s := range svcs {
		if s.Fingerprint.Empty() {
			continue
		}
		fp := *s.Fingerprint
		fp.Confidence, fp.Rule = 0, ""
		k := key{fp: fp, ip: s.IP.String(), port: s.Port}
		if seen[k] {
			continue
		}
		seen[k] = true
		jobs = append(jobs, s)
		fps = append(fps, fp)
	}
	res, err := d.MatchFingerprints(ctx, fps)
	var out []model.VulnMatch
	for i, s := range jobs {
		if res[i].Err != nil {
			return out, fmt.Errorf("match %s:%d: %w", s.IP, s.Port, res[i].Err)
		}
		for _, m := range res[i].Matches {
			m.IP, m.Port = s.IP, s.Port
			out = append(out, m)
		}
	}
	return out, err
}

// FingerprintMatches is the result of one fingerprint of MatchFingerprints.
type FingerprintMatches struct {
	Matches []model.VulnMatch
	Err     error
}

// MatchFingerprints matches many fingerprints on all cores: a fleet's
// distinct products are matched concurrently (the caches are shared, the
// database is read by one at a time, compiling runs in parallel). Results
// are in the order of fps; err is the context's error, if it ended early.
func (d *DB) MatchFingerprints(ctx context.Context, fps []model.Fingerprint) ([]FingerprintMatches, error) {
	out := make([]FingerprintMatches, len(fps))
	workers := min(runtime.GOMAXPROCS(0), len(fps))
	if workers <= 1 {
		for i, fp := range fps {
			out[i].Matches, out[i].Err = d.MatchFingerprint(ctx, fp)
		}
		return out, ctx.Err()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(fps) || ctx.Err() != nil {
					return
				}
				out[i].Matches, out[i].Err = d.MatchFingerprint(ctx, fps[i])
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		for i := range out {
			if out[i].Matches == nil && out[i].Err == nil {
				out[i].Err = err
			}
		}
		return out, err
	}
	return out, nil
}

// dropAliases removes advisories (OSV) whose aliases name a CVE that matched
// too: one vulnerability, reported once, under its CVE id.
func dropAliases(ms []model.VulnMatch, aliases func(id string) []string) []model.VulnMatch {
	ids := make(map[string]bool, len(ms))
	for _, m := range ms {
		ids[m.CVE] = true
	}
	out := ms[:0]
	for _, m := range ms {
		dup := false
		for _, a := range aliases(m.CVE) {
			if a != m.CVE && ids[a] && strings.HasPrefix(a, "CVE-") {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}
