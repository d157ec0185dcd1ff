package vuln

// Distribution backports: a Debian, Ubuntu or Alpine package keeps its
// upstream version when the distribution patches it (OpenSSH 9.2p1 in
// Debian 12 carries the fix of CVE-2024-6387 from 1:9.2p1-2+deb12u3 on). The
// distributions' advisories (OSV records of their ecosystems, stored in
// vuln_distro) decide, for a fingerprint that names its distribution
// package, whether an upstream match is fixed.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"iotwatch/internal/distro"
	"iotwatch/internal/model"
	"iotwatch/internal/vuln/feed"
)

// writeDistro stores the distribution ranges of recs (replacing what is
// stored for their advisories) and returns the records that are also
// upstream records, for the rest of writeBatch.
func (d *DB) writeDistro(ctx context.Context, tx *sql.Tx, recs []*feed.Record, res *ImportResult) ([]*feed.Record, error) {
	var del []any
	var rows [][]any
	rest := recs[:0:0]
	for _, r := range recs {
		if len(r.Distro) == 0 && !r.DistroOnly {
			rest = append(rest, r)
			continue
		}
		del = append(del, r.ID)
		if !r.DistroOnly {
			rest = append(rest, r)
		} else {
			res.Records++
			if r.Rejected {
				res.Rejected++
				continue
			}
		}
		if r.Rejected {
			continue
		}
		res.Advisories++
		for _, f := range r.Distro {
			for _, c := range f.CVEs {
				rows = append(rows, []any{f.Advisory, c, f.Distro, f.Release, f.Package, f.Introduced, f.Fixed, f.LastAffected})
			}
		}
	}
	err := inChunks(del, maxVars, func(chunk []any) error {
		_, err := tx.ExecContext(ctx, d.q("DELETE FROM vuln_distro WHERE advisory IN ("+placeholders(len(chunk))+")"), chunk...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete distribution advisories: %w", err)
	}
	if err := d.insertRows(ctx, tx, "vuln_distro", "advisory, cve, distro, rel, package, introduced, fixed, last_affected", rows); err != nil {
		return nil, fmt.Errorf("insert distribution advisories: %w", err)
	}
	return rest, nil
}

// distroRange is one stored range of a distribution advisory.
type distroRange struct {
	advisory, cve, release          string
	introduced, fixed, lastAffected string
}

// affects reports whether the range includes version v of distribution name.
func (r *distroRange) affects(name, v string) bool {
	if r.introduced != "" && distro.Compare(name, v, r.introduced) < 0 {
		return false
	}
	switch {
	case r.fixed != "":
		return distro.Compare(name, v, r.fixed) < 0
	case r.lastAffected != "":
		return distro.Compare(name, v, r.lastAffected) <= 0
	}
	return true // no fix yet
}

// distroRanges returns the stored ranges of a distribution's source package,
// by CVE (cached until the next import).
func (d *DB) distroRanges(ctx context.Context, name, pkg string) (map[string][]distroRange, error) {
	key := name + "\x00" + pkg
	d.mu.Lock()
	m, ok := d.distro[key]
	d.mu.Unlock()
	if ok {
		return m, nil
	}
	rows, err := d.st.DB().QueryContext(ctx, d.q(`SELECT advisory, cve, rel, introduced, fixed, last_affected
		FROM vuln_distro WHERE distro = ? AND package = ?`), name, pkg)
	if err != nil {
		return nil, fmt.Errorf("distribution advisories %s %s: %w", name, pkg, err)
	}
	defer rows.Close()
	m = map[string][]distroRange{}
	for rows.Next() {
		var r distroRange
		if err := rows.Scan(&r.advisory, &r.cve, &r.release, &r.introduced, &r.fixed, &r.lastAffected); err != nil {
			return nil, fmt.Errorf("distribution advisories %s %s: %w", name, pkg, err)
		}
		m[r.cve] = append(m[r.cve], r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.distro != nil {
		evict(d.distro)
		d.distro[key] = m
	}
	d.mu.Unlock()
	return m, nil
}

// applyDistro marks the matches that the distribution's advisories show
// fixed in the installed package: Status "fixed", the advisory and its
// fixed version as evidence. When the release is not known (a banner
// "Debian-2" without "+deb12uN"), every release's ranges are consulted and
// the package counts as fixed only when none of them includes it. A CVE the
// distribution has no record of keeps its upstream verdict.
func (d *DB) applyDistro(ctx context.Context, pkg model.Distro, ms []model.VulnMatch) error {
	if pkg.Name == "" || pkg.Package == "" || pkg.Version == "" || len(ms) == 0 {
		return nil
	}
	fam := distro.Family(pkg.Name)
	byCVE, err := d.distroRanges(ctx, fam, pkg.Package)
	if err != nil {
		return err
	}
	for i := range ms {
		m := &ms[i]
		rs := releaseRanges(byCVE[m.CVE], pkg)
		affected, evidence := false, (*distroRange)(nil)
		for j := range rs {
			r := &rs[j]
			if r.affects(fam, pkg.Version) {
				affected = true
				break
			}
			if evidence == nil || r.fixed != "" && evidence.fixed == "" {
				evidence = r
			}
		}
		if affected || evidence == nil {
			continue
		}
		m.Status = "fixed"
		m.Advisory = evidence.advisory
		m.FixedIn = evidence.fixed
		switch {
		case m.FixedIn == feed.SecdbNotAffected && fam == distro.Alpine:
			// Alpine's secdb lists under version 0 the CVEs that never
			// affected its package.
			m.Status, m.FixedIn = "not_affected", ""
			m.Justification = "the distribution's package was never affected (Alpine secdb version 0)"
		case m.FixedIn == "":
			m.FixedIn = "after " + evidence.lastAffected
		}
	}
	return nil
}

// releaseRanges picks the ranges of pkg's release. When the release is not
// known, a release's range whose fixed version has the installed package's
// upstream version stands for it (a release ships one upstream version:
// Ubuntu 22.04 has OpenSSH 8.9p1); failing that, every release's ranges
// count, so that the package is fixed only if all of them say so.
func releaseRanges(rs []distroRange, pkg model.Distro) []distroRange {
	var out []distroRange
	if pkg.Release != "" {
		for _, r := range rs {
			if r.release == pkg.Release || r.release == "" {
				out = append(out, r)
			}
		}
		return out
	}
	up := upstreamOf(pkg.Version)
	for _, r := range rs {
		if r.fixed != "" && upstreamOf(r.fixed) == up {
			out = append(out, r)
		}
	}
	if len(out) > 0 {
		return out
	}
	return rs
}

// upstreamOf strips a package version's epoch and revision.
func upstreamOf(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	return v
}

// affecting returns the matches that still affect their subject
// (model.VulnMatch.Affects).
func affecting(ms []model.VulnMatch) []model.VulnMatch {
	out := ms[:0]
	for _, m := range ms {
		if m.Affects() {
			out = append(out, m)
		}
	}
	return out
}

// packageName returns the distribution source package for a fingerprint
// without one: the product of its first CPE name.
func packageName(fp model.Fingerprint) string {
	if f := strings.Split(fp.CPE, ":"); len(f) > 4 && f[4] != "*" && f[4] != "" {
		return f[4]
	}
	return normName(fp.Product)
}
