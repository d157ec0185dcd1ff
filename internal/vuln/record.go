package vuln

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"iotwatch/internal/vuln/feed"
)

// Entry is one stored CVE with everything known about it (for `vulndb show`).
type Entry struct {
	ID           string        `json:"id"`
	Source       string        `json:"source"`
	Published    string        `json:"published,omitempty"`
	LastModified string        `json:"last_modified,omitempty"`
	Status       string        `json:"status,omitempty"`
	Description  string        `json:"description,omitempty"`
	CVSS3        feed.Score    `json:"cvss3,omitzero"`
	CVSS4        feed.Score    `json:"cvss4,omitzero"`
	CVSS2        feed.Score    `json:"cvss2,omitzero"`
	CWEs         []string      `json:"cwes,omitempty"`
	IoT          bool          `json:"iot"`
	IoTReason    string        `json:"iot_reason,omitempty"`
	KEV          *feed.KEV     `json:"kev,omitempty"`
	Aliases      []string      `json:"aliases,omitempty"`
	References   []string      `json:"references,omitempty"`
	Configs      []feed.Config `json:"configurations,omitempty"`
	// National-archive records (CNVD, JVN, EUVD) name products as text
	// and rate severity themselves.
	Products []string `json:"products,omitempty"`
	Severity string   `json:"severity,omitempty"`
}

// Record returns the stored entry for a CVE (or other advisory) id.
func (d *DB) Record(ctx context.Context, orig string) (*Entry, error) {
	id := strings.ToUpper(strings.TrimSpace(orig))
	e := &Entry{}
	var cwes, aliases, refs, configs, kevAdded, kevDue string
	var iot int
	err := d.st.DB().QueryRowContext(ctx, d.q(`SELECT id, source, published, last_modified, status, summary,
		cvss3, cvss3_vector, cvss4, cvss4_vector, cvss2, cvss2_vector, cwes, iot, iot_reason, kev_added, kev_due,
		aliases, refs, configs FROM vuln_cves WHERE id IN (?, ?)`), strings.TrimSpace(orig), id).Scan(&e.ID, &e.Source, &e.Published, &e.LastModified,
		&e.Status, &e.Description, &e.CVSS3.Score, &e.CVSS3.Vector, &e.CVSS4.Score, &e.CVSS4.Vector,
		&e.CVSS2.Score, &e.CVSS2.Vector, &cwes, &iot, &e.IoTReason, &kevAdded, &kevDue, &aliases, &refs, &configs)
	if errors.Is(err, sql.ErrNoRows) {
		return d.archiveRecord(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("vuln %s: %w", id, err)
	}
	e.IoT = iot == 1
	e.CWEs = splitList(cwes)
	e.Aliases = splitList(aliases)
	if refs != "" {
		e.References = strings.Split(refs, "\n")
	}
	if configs != "" {
		if err := json.Unmarshal([]byte(configs), &e.Configs); err != nil {
			return nil, fmt.Errorf("vuln %s configurations: %w", id, err)
		}
	}
	var k feed.KEV
	err = d.st.DB().QueryRowContext(ctx, d.q(`SELECT cve, vendor, product, name, date_added, due_date, action, ransomware
		FROM vuln_kev WHERE cve = ?`), e.ID).Scan(&k.CVE, &k.Vendor, &k.Product, &k.Name, &k.DateAdded, &k.DueDate, &k.Action, &k.Ransomware)
	switch {
	case err == nil:
		e.KEV = &k
	case errors.Is(err, sql.ErrNoRows):
		if kevAdded != "" {
			e.KEV = &feed.KEV{CVE: e.ID, DateAdded: kevAdded, DueDate: kevDue}
		}
	default:
		return nil, fmt.Errorf("vuln %s kev: %w", id, err)
	}
	return e, nil
}
