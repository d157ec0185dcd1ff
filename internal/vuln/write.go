package vuln

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"iotwatch/internal/store"
	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/feed"
)

// maxVars bounds the placeholders of one statement (SQLite's default limit
// is 32766, PostgreSQL's 65535; smaller statements are cheaper to prepare).
const maxVars = 800

// writeBatch stores a batch of records and KEV entries in tx with few
// statements: one query for the stored lastModified of all ids, deletes and
// multi-row inserts. A record replaces what is stored only when its
// lastModified is newer (or unknown); rejected records delete their id.
func (d *DB) writeBatch(ctx context.Context, tx *sql.Tx, recs []*feed.Record, kevs []*feed.KEV) (ImportResult, error) {
	var res ImportResult
	if d.st.Dialect() == store.Postgres {
		// Two importers at once: PostgreSQL's read-committed writers would both
		// find an id absent and both insert it (a unique violation fails one
		// batch). A transaction-scoped advisory lock makes batches take turns;
		// SQLite's immediate transactions already do.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('iotwatch.vulndb'))"); err != nil {
			return res, fmt.Errorf("vulndb write lock: %w", err)
		}
	}
	recs, err := d.writeDistro(ctx, tx, recs, &res)
	if err != nil {
		return res, err
	}
	if recs, err = d.writeArchive(ctx, tx, recs, &res); err != nil {
		return res, err
	}
	ids := make([]any, 0, len(recs))
	seenID := map[string]bool{}
	for _, r := range recs {
		if !seenID[r.ID] {
			seenID[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	stored := map[string]string{}
	err = inChunks(ids, maxVars, func(chunk []any) error {
		rows, err := tx.QueryContext(ctx, d.q("SELECT id, last_modified FROM vuln_cves WHERE id IN ("+placeholders(len(chunk))+")"), chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, lm string
			if err := rows.Scan(&id, &lm); err != nil {
				return err
			}
			stored[id] = lm
		}
		return rows.Err()
	})
	if err != nil {
		return res, fmt.Errorf("stored versions: %w", err)
	}

	var del []any
	var ins []*feed.Record
	queued := map[string]int{} // id -> index in ins
	for _, r := range recs {
		res.Records++
		lm := fixedTime(r.LastModified)
		have, exists := stored[r.ID]
		if exists && !r.Rejected && lm != "" && have >= lm {
			res.Unchanged++
			continue
		}
		if exists {
			del = append(del, r.ID)
		}
		if r.Rejected {
			res.Rejected++
			delete(stored, r.ID)
			if i, ok := queued[r.ID]; ok {
				ins[i] = nil
				delete(queued, r.ID)
			}
			continue
		}
		if exists {
			res.Updated++
		} else {
			res.Inserted++
		}
		stored[r.ID] = lm
		if i, ok := queued[r.ID]; ok {
			ins[i] = r
		} else {
			queued[r.ID] = len(ins)
			ins = append(ins, r)
		}
	}
	for _, tbl := range []struct{ name, col string }{{"vuln_cves", "id"}, {"vuln_cpes", "cve"}, {"vuln_cwes", "cve"}} {
		err := inChunks(del, maxVars, func(chunk []any) error {
			_, err := tx.ExecContext(ctx, d.q("DELETE FROM "+tbl.name+" WHERE "+tbl.col+" IN ("+placeholders(len(chunk))+")"), chunk...)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("delete replaced records: %w", err)
		}
	}

	var cveRows, cpeRows, cweRows [][]any
	for _, r := range ins {
		if r == nil {
			continue
		}
		row, cpes, cwes, bad, err := recordRows(r)
		if err != nil {
			return res, fmt.Errorf("%s: %w", r.ID, err)
		}
		res.BadCPEs += bad
		cveRows = append(cveRows, row)
		cpeRows = append(cpeRows, cpes...)
		cweRows = append(cweRows, cwes...)
	}
	for _, m := range []struct {
		table string
		cols  string
		rows  [][]any
	}{
		{"vuln_cves", `id, source, published, year, last_modified, status, summary, cvss3, cvss3_vector, cvss4, cvss4_vector,
			cvss2, cvss2_vector, cwes, iot, iot_reason, kev_added, kev_due, aliases, refs, configs`, cveRows},
		{"vuln_cpes", "product, vendor, part, cve", cpeRows},
		{"vuln_cwes", "cve, cwe", cweRows},
	} {
		if err := d.insertRows(ctx, tx, m.table, m.cols, m.rows); err != nil {
			return res, fmt.Errorf("insert %s: %w", m.table, err)
		}
	}

	if len(kevs) > 0 {
		last := map[string]*feed.KEV{}
		var kids []any
		for _, k := range kevs {
			res.KEVs++
			if _, ok := last[k.CVE]; !ok {
				kids = append(kids, k.CVE)
			}
			last[k.CVE] = k
		}
		err := inChunks(kids, maxVars, func(chunk []any) error {
			_, err := tx.ExecContext(ctx, d.q("DELETE FROM vuln_kev WHERE cve IN ("+placeholders(len(chunk))+")"), chunk...)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("delete KEV entries: %w", err)
		}
		rows := make([][]any, 0, len(kids))
		for _, id := range kids {
			k := last[id.(string)]
			rows = append(rows, []any{k.CVE, k.Vendor, k.Product, k.Name, k.DateAdded, k.DueDate, k.Action, k.Ransomware})
		}
		if err := d.insertRows(ctx, tx, "vuln_kev", "cve, vendor, product, name, date_added, due_date, action, ransomware", rows); err != nil {
			return res, fmt.Errorf("insert KEV entries: %w", err)
		}
	}
	return res, nil
}

// recordRows returns the vuln_cves row of r and its vuln_cpes and vuln_cwes rows.
func recordRows(r *feed.Record) (cve []any, cpes, cwes [][]any, bad int, err error) {
	configs := ""
	if len(r.Configs) > 0 {
		b, err := json.Marshal(r.Configs)
		if err != nil {
			return nil, nil, nil, 0, err
		}
		configs = string(b)
	}
	names := parseCriteria(r)
	iot, reason := classify(r, names)
	year := 0
	if !r.Published.IsZero() {
		year = r.Published.Year()
	}
	var kevAdded, kevDue string
	if r.KEV != nil {
		kevAdded, kevDue = r.KEV.DateAdded, r.KEV.DueDate
	}
	cve = []any{r.ID, r.Source, fixedTime(r.Published), year, fixedTime(r.LastModified), r.Status,
		strings.ToValidUTF8(r.Description, ""), r.CVSS3.Score, r.CVSS3.Vector, r.CVSS4.Score, r.CVSS4.Vector,
		r.CVSS2.Score, r.CVSS2.Vector, strings.Join(r.CWEs, ","), boolInt(iot), reason, kevAdded, kevDue,
		strings.Join(r.Aliases, ","), strings.ToValidUTF8(strings.Join(r.References, "\n"), ""), configs}
	seen := map[cpeKey]bool{}
	for _, pc := range names {
		if !pc.ok {
			bad++
			continue
		}
		if !pc.vulnerable {
			continue
		}
		k := cpeKey{product: indexValue(pc.name[cpe.Product]), vendor: indexValue(pc.name[cpe.Vendor]), part: pc.name[cpe.Part].Raw}
		if !seen[k] {
			seen[k] = true
			cpes = append(cpes, []any{k.product, k.vendor, k.part, r.ID})
		}
	}
	seenCWE := map[string]bool{}
	for _, c := range r.CWEs {
		if !seenCWE[c] {
			seenCWE[c] = true
			cwes = append(cwes, []any{r.ID, c})
		}
	}
	return cve, cpes, cwes, bad, nil
}

// insertRows inserts rows with multi-row INSERT statements.
func (d *DB) insertRows(ctx context.Context, tx *sql.Tx, table, cols string, rows [][]any) error {
	return d.insertRowsSuffix(ctx, tx, table, cols, "", rows)
}

// insertRowsSuffix is insertRows with a clause after the values (ON CONFLICT …).
func (d *DB) insertRowsSuffix(ctx context.Context, tx *sql.Tx, table, cols, suffix string, rows [][]any) error {
	return d.insertRowsVars(ctx, tx, table, cols, suffix, rows, maxVars)
}

// insertRowsVars is insertRowsSuffix with at most vars placeholders a statement.
func (d *DB) insertRowsVars(ctx context.Context, tx *sql.Tx, table, cols, suffix string, rows [][]any, vars int) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	per := max(1, vars/width)
	one := "(" + placeholders(width) + ")"
	for len(rows) > 0 {
		chunk := rows[:min(per, len(rows))]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		args := make([]any, 0, len(chunk)*width)
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
			args = append(args, r...)
		}
		b.WriteString(suffix)
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func inChunks(xs []any, n int, fn func([]any) error) error {
	for len(xs) > 0 {
		c := xs[:min(n, len(xs))]
		xs = xs[len(c):]
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
