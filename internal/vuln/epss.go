package vuln

// EPSS: FIRST's daily exploitation probabilities. The latest score of each
// CVE is kept in vuln_epss (a file never replaces a newer day's score),
// every imported day in vuln_epss_history, and each imported file (date,
// model version, rows) in vuln_epss_files. Matches carry the latest score
// and rank by KEV, then EPSS, then CVSS.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln/feed"
)

// epssBatch is the number of EPSS rows per transaction: rows are small,
// and a full file has about 300,000.
const epssBatch = 20000

// epssVars is the placeholders of one EPSS statement: narrow rows, many to
// a statement (SQLite allows 32766, PostgreSQL 65535).
const epssVars = 8000

// writeEPSS stores a batch of EPSS rows in tx and returns how many.
func (d *DB) writeEPSS(ctx context.Context, tx *sql.Tx, es []*feed.EPSS) (int, error) {
	// One row per CVE and date in a statement: PostgreSQL refuses to
	// update a row twice in one INSERT … ON CONFLICT.
	type key struct{ cve, date string }
	last := make(map[key]int, len(es))
	for i, e := range es {
		last[key{e.CVE, e.Date}] = i
	}
	rows := make([][]any, 0, len(last))
	for i, e := range es {
		if last[key{e.CVE, e.Date}] == i {
			rows = append(rows, []any{e.CVE, e.Score, e.Percentile, e.Date})
		}
	}
	err := d.insertRowsVars(ctx, tx, "vuln_epss", "cve, epss, percentile, score_date",
		` ON CONFLICT (cve) DO UPDATE SET epss = excluded.epss, percentile = excluded.percentile, score_date = excluded.score_date
		WHERE excluded.score_date >= vuln_epss.score_date`, rows, epssVars)
	if err != nil {
		return 0, fmt.Errorf("store EPSS scores: %w", err)
	}
	err = d.insertRowsVars(ctx, tx, "vuln_epss_history", "cve, epss, percentile, score_date",
		` ON CONFLICT (cve, score_date) DO UPDATE SET epss = excluded.epss, percentile = excluded.percentile`, rows, epssVars)
	if err != nil {
		return 0, fmt.Errorf("store EPSS history: %w", err)
	}
	return len(rows), nil
}

// recordEPSSFile notes an imported EPSS file; catalog is "model date".
func (d *DB) recordEPSSFile(ctx context.Context, catalog string, n int) error {
	model, date, _ := strings.Cut(catalog, " ")
	if date == "" {
		return nil
	}
	db := d.st.DB()
	if _, err := db.ExecContext(ctx, d.q("DELETE FROM vuln_epss_files WHERE score_date = ?"), date); err != nil {
		return fmt.Errorf("record EPSS file: %w", err)
	}
	_, err := db.ExecContext(ctx, d.q("INSERT INTO vuln_epss_files (score_date, model_version, records, imported) VALUES (?, ?, ?, ?)"),
		date, model, n, time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("record EPSS file: %w", err)
	}
	return nil
}

// EPSSScore is one day's EPSS score of a CVE.
type EPSSScore struct {
	Date       string  `json:"date"`
	Score      float64 `json:"epss"`
	Percentile float64 `json:"percentile"`
}

// EPSSFile is one imported EPSS file.
type EPSSFile struct {
	Date     string `json:"score_date"`
	Model    string `json:"model_version"`
	Records  int    `json:"records"`
	Imported string `json:"imported"`
}

// EPSSHistory returns the stored scores of a CVE, oldest first.
func (d *DB) EPSSHistory(ctx context.Context, cve string) ([]EPSSScore, error) {
	rows, err := d.st.DB().QueryContext(ctx, d.q(`SELECT score_date, epss, percentile FROM vuln_epss_history
		WHERE cve = ? ORDER BY score_date`), strings.ToUpper(strings.TrimSpace(cve)))
	if err != nil {
		return nil, fmt.Errorf("EPSS history %s: %w", cve, err)
	}
	defer rows.Close()
	var out []EPSSScore
	for rows.Next() {
		var s EPSSScore
		if err := rows.Scan(&s.Date, &s.Score, &s.Percentile); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// EPSSFiles returns the imported EPSS files, newest first.
func (d *DB) EPSSFiles(ctx context.Context) ([]EPSSFile, error) {
	rows, err := d.st.DB().QueryContext(ctx, `SELECT score_date, model_version, records, imported FROM vuln_epss_files ORDER BY score_date DESC`)
	if err != nil {
		return nil, fmt.Errorf("EPSS files: %w", err)
	}
	defer rows.Close()
	var out []EPSSFile
	for rows.Next() {
		var f EPSSFile
		if err := rows.Scan(&f.Date, &f.Model, &f.Records, &f.Imported); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Rank reports whether match a comes before b: KEV, then EPSS, then CVSS
// (model.CompareVulnMatches).
func Rank(a, b model.VulnMatch) bool { return model.CompareVulnMatches(a, b) < 0 }
