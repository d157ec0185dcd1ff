package vuln

// National archives (CNVD, JVN iPedia, EUVD): their records are stored
// under their own ids in vuln_archive, linked to CVE where they give one,
// classified IoT or not from their product texts and descriptions, and
// counted per year by ArchiveStats so that a national report quotes its
// own archive. They carry no CPE configurations and are not matched.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"iotwatch/internal/store"
	"iotwatch/internal/vuln/feed"
)

// writeArchive stores the national-archive records of recs (replacing
// what is stored under their ids) and returns the other records.
func (d *DB) writeArchive(ctx context.Context, tx *sql.Tx, recs []*feed.Record, res *ImportResult) ([]*feed.Record, error) {
	var rows [][]any
	rest := recs[:0:0]
	type key struct{ source, id string }
	seen := map[key]int{}
	for _, r := range recs {
		if !feed.IsArchive(r.Source) {
			rest = append(rest, r)
			continue
		}
		res.Records++
		iot, reason := classifyArchive(r)
		year := 0
		if !r.Published.IsZero() {
			year = r.Published.Year()
		}
		score, vector := pickScore(r.CVSS3.Score, r.CVSS3.Vector, r.CVSS4.Score, r.CVSS4.Vector, r.CVSS2.Score, r.CVSS2.Vector)
		row := []any{r.Source, r.ID, strings.Join(r.Aliases, ","), strings.ToValidUTF8(r.Description, ""), fixedTime(r.Published), year,
			fixedTime(r.LastModified), r.Severity, score, vector, strings.ToValidUTF8(strings.Join(r.Products, "\n"), ""), boolInt(iot), reason}
		k := key{r.Source, r.ID}
		if i, ok := seen[k]; ok {
			rows[i] = row // the later record of one id wins
			continue
		}
		seen[k] = len(rows)
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return rest, nil
	}
	for _, row := range rows {
		if _, err := tx.ExecContext(ctx, d.q("DELETE FROM vuln_archive WHERE source = ? AND id = ?"), row[0], row[1]); err != nil {
			return nil, fmt.Errorf("replace archive records: %w", err)
		}
	}
	err := d.insertRows(ctx, tx, "vuln_archive", "source, id, cves, summary, published, year, last_modified, severity, cvss, cvss_vector, products, iot, iot_reason", rows)
	if err != nil {
		return nil, fmt.Errorf("insert archive records: %w", err)
	}
	res.Archived += len(rows)
	return rest, nil
}

// archiveKeywords mark IoT records of national archives in Chinese and
// Japanese, beside the English iotKeywords.
var archiveKeywords = []string{
	"路由器", "摄像头", "摄像机", "网络摄像", "固件", "物联网", "工控", "工业控制", "可编程逻辑控制器", "录像机", "智能家居", "网关设备", "无线接入点", "光猫",
	"ルータ", "ルーター", "カメラ", "ファームウェア", "制御システム", "ネットワーク機器", "無線 lan", "無線lan", "iot",
}

// classifyArchive decides whether a national-archive record is about IoT:
// a device maker or an embedded stack among its products, else a keyword
// in its products or description.
func classifyArchive(r *feed.Record) (bool, string) {
	for _, p := range r.Products {
		f := strings.Fields(strings.ToLower(p))
		if len(f) == 0 {
			continue
		}
		if v := NVDVendor(f[0]); deviceVendors[v] {
			return true, "device maker " + v
		}
		for _, w := range f {
			if embeddedStacks[strings.Trim(w, ".,:;()")] {
				return true, "embedded stack " + w
			}
		}
	}
	text := " " + strings.ToLower(strings.Join(r.Products, " ")+" "+r.Description) + " "
	for _, k := range iotKeywords {
		if strings.Contains(text, k) {
			return true, "keyword " + strings.TrimSpace(k)
		}
	}
	for _, k := range archiveKeywords {
		if strings.Contains(text, k) {
			return true, "keyword " + k
		}
	}
	return false, ""
}

// ArchiveSources lists the national archives ArchiveStats counts.
var ArchiveSources = []string{feed.SourceCNVD, feed.SourceJVN, feed.SourceEUVD}

// ArchiveStats are the statistics of a national archive (cnvd, jvn, euvd)
// in the shape of Stats: records per publication year and their growth,
// the IoT share and its growth, the records whose CVEs are known exploited
// (KEV), and the vendors (first word of the product texts) with most records.
func (d *DB) ArchiveStats(ctx context.Context, source string, since int) (*Stats, error) {
	source = strings.ToLower(source)
	if !feed.IsArchive(source) {
		return nil, fmt.Errorf("archive %q: want one of %s", source, strings.Join(ArchiveSources, ", "))
	}
	rows, err := d.st.DB().QueryContext(ctx, d.q(`SELECT year, iot, cves, products FROM vuln_archive
		WHERE source = ? AND year >= ? ORDER BY year`), source, since)
	if err != nil {
		return nil, fmt.Errorf("archive stats: %w", err)
	}
	type rec struct {
		year     int
		iot      bool
		cves     []string
		products string
	}
	var recs []rec
	for rows.Next() {
		var r rec
		var iot int
		var cves string
		if err := rows.Scan(&r.year, &iot, &cves, &r.products); err != nil {
			rows.Close()
			return nil, fmt.Errorf("archive stats: %w", err)
		}
		r.iot, r.cves = iot == 1, splitList(cves)
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kev, err := d.kevSet(ctx)
	if err != nil {
		return nil, err
	}
	s := &Stats{Source: archiveNames[source], Since: since, Years: []YearStats{}, TopVendors: []Count{}, TopIoT: []Count{}, TopCWEs: []Count{}}
	byYear := map[int]*YearStats{}
	vendors := map[string]int{}
	for _, r := range recs {
		exploited := false
		for _, c := range r.cves {
			exploited = exploited || kev[c]
		}
		s.Total++
		if r.iot {
			s.IoT++
		}
		if exploited {
			s.KEV++
			if r.iot {
				s.KEVIoT++
			}
		}
		seenV := map[string]bool{}
		for _, p := range strings.Split(r.products, "\n") {
			if f := strings.Fields(p); len(f) > 0 && !seenV[strings.ToLower(f[0])] {
				seenV[strings.ToLower(f[0])] = true
				vendors[NVDVendor(f[0])]++
			}
		}
		if r.year == 0 {
			continue
		}
		y := byYear[r.year]
		if y == nil {
			y = &YearStats{Year: r.year}
			byYear[r.year] = y
		}
		y.CVEs++
		if r.iot {
			y.IoT++
		}
		if exploited {
			y.KEV++
		}
	}
	s.IoTShare = pct(s.IoT, s.Total)
	years := make([]int, 0, len(byYear))
	for yr := range byYear {
		years = append(years, yr)
	}
	sort.Ints(years)
	for i := 0; len(years) > 0 && years[0]+i <= years[len(years)-1]; i++ {
		y := YearStats{Year: years[0] + i}
		if p := byYear[y.Year]; p != nil {
			y = *p
		}
		y.IoTShare = pct(y.IoT, y.CVEs)
		if n := len(s.Years); n > 0 {
			y.Growth = growth(s.Years[n-1].CVEs, y.CVEs)
			y.IoTGrowth = growth(s.Years[n-1].IoT, y.IoT)
		}
		s.Years = append(s.Years, y)
	}
	for v, n := range vendors {
		s.TopVendors = append(s.TopVendors, Count{Name: v, Count: n})
	}
	sort.Slice(s.TopVendors, func(i, j int) bool {
		a, b := s.TopVendors[i], s.TopVendors[j]
		return a.Count > b.Count || a.Count == b.Count && a.Name < b.Name
	})
	s.TopVendors = s.TopVendors[:min(topN, len(s.TopVendors))]
	return s, nil
}

var archiveNames = map[string]string{
	feed.SourceCNVD: "CNVD (China National Vulnerability Database)",
	feed.SourceJVN:  "JVN iPedia (Japan Vulnerability Notes)",
	feed.SourceEUVD: "EUVD (ENISA EU Vulnerability Database)",
}

// kevSet returns the CVE ids of the KEV catalogue and those NVD flags.
func (d *DB) kevSet(ctx context.Context) (map[string]bool, error) {
	rows, err := d.st.DB().QueryContext(ctx, `SELECT cve FROM vuln_kev UNION SELECT id FROM vuln_cves WHERE kev_added <> ''`)
	if err != nil {
		return nil, fmt.Errorf("KEV ids: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// archiveRecord returns a stored national-archive record (CNVD-…, JVNDB-…,
// EUVD-…) as an Entry, or store.ErrNotFound.
func (d *DB) archiveRecord(ctx context.Context, id string) (*Entry, error) {
	e := &Entry{}
	var cves, products, vector string
	var score float64
	var iot int
	err := d.st.DB().QueryRowContext(ctx, d.q(`SELECT source, id, cves, summary, published, last_modified, severity, cvss, cvss_vector,
		products, iot, iot_reason FROM vuln_archive WHERE UPPER(id) = ?`), strings.ToUpper(id)).Scan(&e.Source, &e.ID, &cves, &e.Description,
		&e.Published, &e.LastModified, &e.Severity, &score, &vector, &products, &iot, &e.IoTReason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("vuln %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("vuln %s: %w", id, err)
	}
	e.IoT = iot == 1
	e.Aliases = splitList(cves)
	if products != "" {
		e.Products = strings.Split(products, "\n")
	}
	if vector != "" {
		sc := feed.Score{Score: score, Vector: vector}
		switch {
		case strings.HasPrefix(vector, "CVSS:4"):
			e.CVSS4 = sc
		case strings.HasPrefix(vector, "CVSS:3"):
			e.CVSS3 = sc
		default:
			e.CVSS2 = sc
		}
	}
	return e, nil
}
