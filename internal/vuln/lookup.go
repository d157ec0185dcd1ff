package vuln

// Matching against the database: candidate CVEs per product (one query each,
// rows read before they are compiled so the single SQLite connection is
// free), the caches, scores and KEV data on the matches, and matching a whole
// fleet's fingerprints on all cores. match.go evaluates configurations.

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"iotwatch/internal/distro"
	"iotwatch/internal/model"
	"iotwatch/internal/vuln/cpe"
)

// MatchCPE returns the CVEs whose configurations match the CPE name.
func (d *DB) MatchCPE(ctx context.Context, name string) ([]model.VulnMatch, error) {
	n, err := cpe.Parse(name)
	if err != nil {
		return nil, err
	}
	return d.matchKnown(ctx, []cpe.Name{n}, model.VulnMatch{})
}

// MatchPackage returns the CVEs whose configurations match the CPE name of
// a distribution package (a firmware's dpkg, opkg or apk database entry),
// with the distribution's advisories and VEX statements applied: a CVE the
// distribution fixed by a backport is kept with Status "fixed", the
// advisory and its fixed version. Every match carries pkg. Without a
// distribution (pkg zero) it is MatchCPE with VEX applied.
func (d *DB) MatchPackage(ctx context.Context, name string, pkg model.Distro) ([]model.VulnMatch, error) {
	ms, err := d.MatchCPE(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := d.applyDistro(ctx, pkg, ms); err != nil {
		return nil, err
	}
	if err := d.applyVEX(ctx, ms); err != nil {
		return nil, err
	}
	for i := range ms {
		ms[i].Distro = pkg
	}
	return ms, nil
}

// MatchFingerprint returns the CVEs that affect what a fingerprint
// identifies: by its CPE, and by vendor/product/version through the alias
// table (names scanners see mapped to NVD's). Devices are also tried as
// firmware ("o", product_firmware) with their hardware ("h") as platform.
//
// A fingerprint naming its distribution package (fp.Distro, or a version
// such as "9.2p1 Debian-2+deb12u10" or "1:9.2p1-2+deb12u3") is checked
// against the distribution's advisories: CVEs they show fixed by a backport
// are left out (MatchFingerprintAll returns them with Status "fixed").
func (d *DB) MatchFingerprint(ctx context.Context, fp model.Fingerprint) ([]model.VulnMatch, error) {
	ms, err := d.MatchFingerprintAll(ctx, fp)
	return affecting(ms), err
}

// MatchFingerprintAll is MatchFingerprint keeping the matches a
// distribution backport fixed, with Status "fixed" and the advisory.
func (d *DB) MatchFingerprintAll(ctx context.Context, fp model.Fingerprint) ([]model.VulnMatch, error) {
	known := KnownNames(fp)
	if len(known) == 0 {
		return nil, nil
	}
	ms, err := d.matchKnown(ctx, known, model.VulnMatch{Product: fp.Product, Version: fp.Version})
	if err != nil {
		return nil, err
	}
	pkg := fp.Distro
	if pkg.Name == "" {
		pkg = distro.FromVersion(packageName(fp), fp.Version)
	}
	if err := d.applyDistro(ctx, pkg, ms); err != nil {
		return nil, err
	}
	if err := d.applyVEX(ctx, ms); err != nil {
		return nil, err
	}
	return ms, nil
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
	sort.Slice(out, func(i, j int) bool { return Rank(out[i], out[j]) })
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
	c.cwes, c.summary, c.kev_added, c.kev_due, COALESCE(k.due_date, ''), COALESCE(k.cve, ''),
	COALESCE(e.epss, 0), COALESCE(e.score_date, '')
	FROM vuln_cves c LEFT JOIN vuln_kev k ON k.cve = c.id LEFT JOIN vuln_epss e ON e.cve = c.id WHERE `

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
	epss                                                       float64
	epssDate                                                   string
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
		if err := rows.Scan(&r.id, &r.raw, &r.aliases, &r.s3, &r.v3, &r.s4, &r.v4, &r.s2, &r.v2, &r.cwes, &r.summary, &r.nvdAdded, &r.nvdDue, &r.kevDue, &r.kevID, &r.epss, &r.epssDate); err != nil {
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
	c.info.epss, c.info.epssDate = r.epss, r.epssDate
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
		m.EPSS, m.EPSSDate = in.epss, in.epssDate
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
	// VEX statements about a device apply once the address is known.
	if verr := d.applyVEX(ctx, out); verr != nil {
		return out, verr
	}
	return affecting(out), err
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
