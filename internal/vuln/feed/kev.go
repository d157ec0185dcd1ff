package feed

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// kevJSON is one element of the KEV catalogue's "vulnerabilities" array.
type kevJSON struct {
	CveID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject"`
	Product                    string `json:"product"`
	VulnerabilityName          string `json:"vulnerabilityName"`
	DateAdded                  string `json:"dateAdded"`
	RequiredAction             string `json:"requiredAction"`
	DueDate                    string `json:"dueDate"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
}

func (k kevJSON) entry() *KEV {
	return &KEV{
		CVE:        strings.TrimSpace(k.CveID),
		Vendor:     k.VendorProject,
		Product:    k.Product,
		Name:       k.VulnerabilityName,
		DateAdded:  k.DateAdded,
		DueDate:    k.DueDate,
		Action:     k.RequiredAction,
		Ransomware: k.KnownRansomwareCampaignUse,
	}
}

// readKEVCSV reads the KEV catalogue in its CSV form
// (known_exploited_vulnerabilities.csv), whose header names the columns.
func readKEVCSV(ctx context.Context, r io.Reader, h Handler) (Info, error) {
	info := Info{Format: "kev-csv"}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return Info{}, fmt.Errorf("neither JSON nor a CSV header: %w", ErrUnknownFormat)
	}
	col := map[string]int{}
	for i, name := range header {
		col[strings.TrimSpace(name)] = i
	}
	if _, ok := col["cveID"]; !ok {
		return Info{}, fmt.Errorf("CSV without a cveID column (not the KEV catalogue): %w", ErrUnknownFormat)
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	if h.KEV == nil {
		return info, errors.New("KEV entries not expected here")
	}
	for line := 2; ; line++ {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return info, nil
		}
		if err != nil {
			return info, fmt.Errorf("KEV CSV after %d entries: %w", info.KEVs, err)
		}
		k := kevJSON{
			CveID:                      get(rec, "cveID"),
			VendorProject:              get(rec, "vendorProject"),
			Product:                    get(rec, "product"),
			VulnerabilityName:          get(rec, "vulnerabilityName"),
			DateAdded:                  get(rec, "dateAdded"),
			RequiredAction:             get(rec, "requiredAction"),
			DueDate:                    get(rec, "dueDate"),
			KnownRansomwareCampaignUse: get(rec, "knownRansomwareCampaignUse"),
		}.entry()
		if !validID(k.CVE) {
			return info, fmt.Errorf("KEV CSV line %d: invalid cveID %q: %w", line, k.CVE, ErrUnknownFormat)
		}
		if err := h.KEV(k); err != nil {
			return info, err
		}
		info.KEVs++
	}
}
