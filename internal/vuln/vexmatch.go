package vuln

// VEX statements (OpenVEX, CycloneDX VEX) stored in vuln_vex and applied to
// matches: a statement names a product (a purl, a CPE, a product name with
// an optional version, or a device address) and a vulnerability; not_affected
// and fixed statements take the match out of what affects the subject,
// under_investigation annotates it, each with the document as evidence.

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/version"
	"iotwatch/internal/vuln/vex"
)

// ImportVEX stores VEX statements, replacing what is stored for their
// documents, and returns how many were stored.
func (d *DB) ImportVEX(ctx context.Context, sts []vex.Statement) (int, error) {
	docs := map[string]bool{}
	type key struct{ doc, product, cve string }
	last := map[key]int{}
	for i, s := range sts {
		docs[s.Doc] = true
		last[key{s.Doc, strings.ToLower(s.Product), s.Vulnerability}] = i
	}
	var rows [][]any
	for i, s := range sts {
		k := key{s.Doc, strings.ToLower(s.Product), s.Vulnerability}
		if last[k] == i {
			rows = append(rows, []any{s.Doc, k.product, s.Vulnerability, s.Status, s.Justification, s.Statement, s.Author, s.Issued})
		}
	}
	err := d.st.Tx(ctx, func(tx *sql.Tx) error {
		for doc := range docs {
			if _, err := tx.ExecContext(ctx, d.q("DELETE FROM vuln_vex WHERE doc = ?"), doc); err != nil {
				return err
			}
		}
		return d.insertRows(ctx, tx, "vuln_vex", "doc, product, cve, status, justification, statement, author, issued", rows)
	})
	if err != nil {
		return 0, fmt.Errorf("store VEX statements: %w", err)
	}
	d.invalidate()
	return len(rows), nil
}

// vexRow is a stored statement with its product parsed once.
type vexRow struct {
	doc, product, status, justification, statement string
	ip                                             netip.Addr
	cpe                                            *cpe.Name
	name, version                                  string // purl or free-text product
}

// vexStatements returns the stored statements by CVE (cached until the
// next import).
func (d *DB) vexStatements(ctx context.Context) (map[string][]vexRow, error) {
	d.mu.Lock()
	m := d.vex
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
	rows, err := d.st.DB().QueryContext(ctx, `SELECT doc, product, cve, status, justification, statement FROM vuln_vex`)
	if err != nil {
		return nil, fmt.Errorf("VEX statements: %w", err)
	}
	defer rows.Close()
	m = map[string][]vexRow{}
	for rows.Next() {
		var r vexRow
		var cve string
		if err := rows.Scan(&r.doc, &r.product, &cve, &r.status, &r.justification, &r.statement); err != nil {
			return nil, fmt.Errorf("VEX statements: %w", err)
		}
		r.parse()
		m[cve] = append(m[cve], r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.vex = m
	d.mu.Unlock()
	return m, nil
}

func (r *vexRow) parse() {
	p := strings.TrimSpace(r.product)
	if a, err := netip.ParseAddr(strings.TrimPrefix(p, "ip:")); err == nil {
		r.ip = a
		return
	}
	if strings.HasPrefix(p, "cpe:") {
		if n, err := cpe.Parse(p); err == nil {
			n = normalise(n)
			r.cpe = &n
		}
		return
	}
	if rest, ok := strings.CutPrefix(p, "pkg:"); ok {
		rest, _, _ = strings.Cut(rest, "?")
		rest, _, _ = strings.Cut(rest, "#")
		path, ver, _ := strings.Cut(rest, "@")
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			path = path[i+1:]
		}
		r.name, r.version = normName(path), ver
		return
	}
	f := strings.Fields(p)
	if len(f) > 1 && (f[len(f)-1][0] >= '0' && f[len(f)-1][0] <= '9' || f[len(f)-1][0] == 'v') {
		r.name, r.version = normName(strings.Join(f[:len(f)-1], " ")), f[len(f)-1]
		return
	}
	r.name = normName(p)
}

// applies reports whether the statement is about match m.
func (r *vexRow) applies(m *model.VulnMatch) bool {
	if r.ip.IsValid() {
		return m.IP == r.ip
	}
	known, err := cpe.Parse(m.CPE)
	if err != nil {
		return false
	}
	if r.cpe != nil {
		if !r.cpe.MatchIgnoringVersion(known) {
			return false
		}
		v := r.cpe[cpe.Version]
		return v.Kind != cpe.Value || v.Wild || version.Equal(fullVersion(*r.cpe), fullVersion(known))
	}
	if r.name == "" || r.name != known[cpe.Product].Lit && r.name != normName(m.Product) {
		return false
	}
	if r.version == "" {
		return true
	}
	return version.Equal(r.version, m.Version) || version.Equal(version.Upstream(r.version), fullVersion(known)) ||
		version.Equal(r.version, fullVersion(known))
}

// applyVEX sets the status of the matches VEX statements are about.
// Statements about a device address apply only to matches with that IP.
func (d *DB) applyVEX(ctx context.Context, ms []model.VulnMatch) error {
	if len(ms) == 0 {
		return nil
	}
	byCVE, err := d.vexStatements(ctx)
	if err != nil || len(byCVE) == 0 {
		return err
	}
	for i := range ms {
		m := &ms[i]
		for j := range byCVE[m.CVE] {
			r := &byCVE[m.CVE][j]
			if !r.applies(m) {
				continue
			}
			switch r.status {
			case vex.NotAffected, vex.Fixed, vex.UnderInvestigation:
				m.Status = r.status
			}
			m.Advisory = "VEX " + r.doc
			m.Justification = r.justification
			if r.status == vex.Fixed && r.statement != "" {
				m.FixedIn = r.statement
			}
			if r.ip.IsValid() {
				break // a statement about the device beats one about the product
			}
		}
	}
	return nil
}

// VEXDocument turns matches (typically a firmware run's component matches)
// into VEX statements about the matched products: affected, or the status
// a backport or VEX statement gave them, with its evidence.
func VEXDocument(id, author string, ms []model.VulnMatch) vex.Document {
	doc := vex.Document{ID: id, Author: author}
	seen := map[string]bool{}
	for _, m := range ms {
		s := vex.Statement{Product: m.CPE, Vulnerability: m.CVE, Status: vex.Affected}
		switch m.Status {
		case vex.Fixed, vex.NotAffected, vex.UnderInvestigation:
			s.Status = m.Status
			s.Justification = m.Justification
			s.Statement = strings.TrimSpace(m.Advisory + " " + m.FixedIn)
			if s.Status == vex.NotAffected && s.Justification == "" && s.Statement == "" {
				s.Statement = "not affected"
			}
		}
		if s.Status == vex.Affected && m.Subject != "" {
			s.Statement = "Found in " + m.Subject + "; update the component to a version without the vulnerability."
		}
		k := s.Product + "\x00" + s.Vulnerability
		if s.Product == "" || seen[k] {
			continue
		}
		seen[k] = true
		doc.Statements = append(doc.Statements, s)
	}
	return doc
}
