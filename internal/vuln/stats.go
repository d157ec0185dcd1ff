package vuln

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Stats are archive statistics of the vulnerability database: what national
// vulnerability databases report each year (how many CVEs were published,
// their growth, the IoT share and its growth, known exploitation) and which
// vendors and weaknesses dominate. Only CVE-… ids count (OSV-only advisories
// do not), rejected records are not stored.
type Stats struct {
	Source     string      `json:"source"` // where the data came from
	Since      int         `json:"since,omitempty"`
	Total      int         `json:"total"`
	IoT        int         `json:"iot"`
	IoTShare   float64     `json:"iot_share"` // percent of Total
	KEV        int         `json:"kev"`       // CVEs in the KEV catalogue (or flagged by NVD)
	KEVIoT     int         `json:"kev_iot"`
	Years      []YearStats `json:"years"`
	TopVendors []Count     `json:"top_vendors"`
	TopIoT     []Count     `json:"top_iot"` // device makers and embedded stacks that made CVEs IoT
	TopCWEs    []Count     `json:"top_cwes"`
}

// YearStats are the counts of one publication year. Growth figures are
// percentages against the previous year, absent when that year had none.
type YearStats struct {
	Year      int      `json:"year"`
	CVEs      int      `json:"cves"`
	Growth    *float64 `json:"growth,omitempty"`
	IoT       int      `json:"iot"`
	IoTShare  float64  `json:"iot_share"`
	IoTGrowth *float64 `json:"iot_growth,omitempty"`
	KEV       int      `json:"kev"`
}

// Count is a name with a number of CVEs.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// topN is the length of the top lists.
const topN = 10

// Stats computes statistics over CVEs published in or after year since
// (0 = all years).
func (d *DB) Stats(ctx context.Context, since int) (*Stats, error) {
	s := &Stats{Since: since, Years: []YearStats{}, TopVendors: []Count{}, TopIoT: []Count{}, TopCWEs: []Count{}}
	db := d.st.DB()
	rows, err := db.QueryContext(ctx, d.q(`SELECT c.year, COUNT(*), SUM(c.iot),
		SUM(CASE WHEN k.cve IS NOT NULL OR c.kev_added <> '' THEN 1 ELSE 0 END),
		SUM(CASE WHEN (k.cve IS NOT NULL OR c.kev_added <> '') AND c.iot = 1 THEN 1 ELSE 0 END)
		FROM vuln_cves c LEFT JOIN vuln_kev k ON k.cve = c.id
		WHERE c.year >= ? AND c.id LIKE 'CVE-%' GROUP BY c.year ORDER BY c.year`), since)
	if err != nil {
		return nil, fmt.Errorf("vuln stats: %w", err)
	}
	byYear := map[int]YearStats{}
	minY, maxY := 0, 0
	for rows.Next() {
		var y YearStats
		var kevIoT int
		if err := rows.Scan(&y.Year, &y.CVEs, &y.IoT, &y.KEV, &kevIoT); err != nil {
			rows.Close()
			return nil, fmt.Errorf("vuln stats: %w", err)
		}
		s.Total += y.CVEs
		s.IoT += y.IoT
		s.KEV += y.KEV
		s.KEVIoT += kevIoT
		if y.Year == 0 {
			continue // no publication date
		}
		byYear[y.Year] = y
		if minY == 0 || y.Year < minY {
			minY = y.Year
		}
		if y.Year > maxY {
			maxY = y.Year
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.IoTShare = pct(s.IoT, s.Total)
	if s.Source, err = d.Source(ctx); err != nil {
		return nil, err
	}
	for yr := minY; yr <= maxY && minY > 0; yr++ {
		y := byYear[yr]
		y.Year = yr
		y.IoTShare = pct(y.IoT, y.CVEs)
		if n := len(s.Years); n > 0 {
			prev := s.Years[n-1]
			y.Growth = growth(prev.CVEs, y.CVEs)
			y.IoTGrowth = growth(prev.IoT, y.IoT)
		}
		s.Years = append(s.Years, y)
	}
	if s.TopVendors, err = d.counts(ctx, `SELECT p.vendor, COUNT(DISTINCT p.cve) FROM vuln_cpes p JOIN vuln_cves c ON c.id = p.cve
		WHERE c.year >= ? AND c.id LIKE 'CVE-%' AND p.vendor <> '*' GROUP BY p.vendor ORDER BY 2 DESC, 1 LIMIT ?`, since); err != nil {
		return nil, err
	}
	if s.TopIoT, err = d.topIoT(ctx, since); err != nil {
		return nil, err
	}
	if s.TopCWEs, err = d.counts(ctx, `SELECT w.cwe, COUNT(*) FROM vuln_cwes w JOIN vuln_cves c ON c.id = w.cve
		WHERE c.year >= ? AND c.id LIKE 'CVE-%' GROUP BY w.cwe ORDER BY 2 DESC, 1 LIMIT ?`, since); err != nil {
		return nil, err
	}
	return s, nil
}

func (d *DB) counts(ctx context.Context, q string, since int) ([]Count, error) {
	rows, err := d.st.DB().QueryContext(ctx, d.q(q), since, topN)
	if err != nil {
		return nil, fmt.Errorf("vuln stats: %w", err)
	}
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Name, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// pct is part/whole in percent, rounded to one decimal.
func pct(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(1000*float64(part)/float64(whole)) / 10
}

// growth is the change from prev to cur in percent (one decimal), nil when prev is 0.
func growth(prev, cur int) *float64 {
	if prev == 0 {
		return nil
	}
	g := math.Round(1000*float64(cur-prev)/float64(prev)) / 10
	return &g
}

const metaSeed = "seed"

// Source describes where the stored data came from, for reports: the NVD
// sync date or the embedded seed, and the KEV catalogue version.
func (d *DB) Source(ctx context.Context) (string, error) {
	var parts []string
	synced, err := d.meta(ctx, metaNVDSynced)
	if err != nil {
		return "", err
	}
	seed, _ := d.meta(ctx, metaSeed)
	switch {
	case synced != "":
		parts = append(parts, "NVD CVE API 2.0 (synced "+synced[:min(10, len(synced))]+")")
	case seed != "":
		parts = append(parts, "embedded seed: "+seed)
	default:
		parts = append(parts, "imported vulnerability files")
	}
	if cat, _ := d.meta(ctx, metaKEVCat); cat != "" {
		parts = append(parts, "CISA KEV "+cat)
	}
	return strings.Join(parts, ", "), nil
}

// topIoT counts IoT CVEs by what made them IoT: the device maker of a
// device or firmware CPE, or the embedded stack. A CVE classified by a
// keyword of its description names neither and is left out of the ranking
// (it still counts in the IoT totals).
func (d *DB) topIoT(ctx context.Context, since int) ([]Count, error) {
	rows, err := d.st.DB().QueryContext(ctx, d.q(`SELECT iot_reason, COUNT(*) FROM vuln_cves
		WHERE year >= ? AND id LIKE 'CVE-%' AND iot = 1 GROUP BY iot_reason`), since)
	if err != nil {
		return nil, fmt.Errorf("vuln stats: %w", err)
	}
	defer rows.Close()
	by := map[string]int{}
	for rows.Next() {
		var reason string
		var n int
		if err := rows.Scan(&reason, &n); err != nil {
			return nil, err
		}
		if subj := iotSubject(reason); subj != "" {
			by[subj] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Count, 0, len(by))
	for k, v := range by {
		out = append(out, Count{Name: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > topN {
		out = out[:topN]
	}
	return out, nil
}

// iotSubject extracts the maker or stack from a ClassifyIoT reason, or ""
// when the reason names neither (a keyword of the description).
func iotSubject(reason string) string {
	switch {
	case strings.HasPrefix(reason, "device CPE "), strings.HasPrefix(reason, "firmware CPE "):
		rest := reason[strings.Index(reason, "CPE ")+4:]
		v, _, _ := strings.Cut(rest, ":")
		return v
	case strings.HasPrefix(reason, "embedded stack "):
		return strings.TrimPrefix(reason, "embedded stack ")
	case strings.HasPrefix(reason, "keyword "), reason == "":
		return ""
	}
	return reason
}
