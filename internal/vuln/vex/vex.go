// Package vex reads and writes VEX (Vulnerability Exploitability
// eXchange) statements: OpenVEX documents (https://openvex.dev, v0.2.0)
// and the vulnerabilities of CycloneDX BOMs with an analysis (CycloneDX
// VEX, spec 1.4+). A statement says of a product and a vulnerability that
// it is not_affected (with a justification), affected, fixed or
// under_investigation.
package vex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Statuses, as OpenVEX names them (CycloneDX states are mapped onto them).
const (
	NotAffected        = "not_affected"
	Affected           = "affected"
	Fixed              = "fixed"
	UnderInvestigation = "under_investigation"
)

// Statement is one product's status for one vulnerability.
type Statement struct {
	Doc           string `json:"doc"` // document id (OpenVEX @id, CycloneDX serialNumber), else the author
	Author        string `json:"author,omitempty"`
	Issued        string `json:"issued,omitempty"` // RFC 3339
	Product       string `json:"product"`          // purl, CPE or product name as given
	Vulnerability string `json:"vulnerability"`    // upper-case id (CVE-…)
	Status        string `json:"status"`           // one of the constants
	Justification string `json:"justification,omitempty"`
	Statement     string `json:"statement,omitempty"` // impact statement, action or detail
}

// MaxBytes bounds a VEX document read whole.
var MaxBytes int64 = 64 << 20

// ErrFormat marks input that is no VEX document this package reads.
var ErrFormat = errors.New("not an OpenVEX or CycloneDX VEX document")

// Read parses an OpenVEX or CycloneDX VEX document.
func Read(r io.Reader) ([]Statement, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > MaxBytes {
		return nil, fmt.Errorf("VEX document larger than %d bytes", MaxBytes)
	}
	var probe struct {
		Context    json.RawMessage `json:"@context"`
		BOMFormat  string          `json:"bomFormat"`
		Statements json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	switch {
	case probe.BOMFormat == "CycloneDX":
		return readCycloneDX(b)
	case len(probe.Statements) > 0:
		return readOpenVEX(b)
	}
	return nil, ErrFormat
}

type openVEX struct {
	ID         string `json:"@id"`
	Author     string `json:"author"`
	Timestamp  string `json:"timestamp"`
	Statements []struct {
		Vulnerability struct {
			Name string `json:"name"`
			ID   string `json:"@id"`
		} `json:"vulnerability"`
		Timestamp string `json:"timestamp"`
		Products  []struct {
			ID            string `json:"@id"`
			Subcomponents []struct {
				ID string `json:"@id"`
			} `json:"subcomponents"`
		} `json:"products"`
		Status          string `json:"status"`
		Justification   string `json:"justification"`
		ImpactStatement string `json:"impact_statement"`
		ActionStatement string `json:"action_statement"`
		Statement       string `json:"statement"`
	} `json:"statements"`
}

var validStatus = map[string]bool{NotAffected: true, Affected: true, Fixed: true, UnderInvestigation: true}

func readOpenVEX(b []byte) ([]Statement, error) {
	var d openVEX
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("OpenVEX: %w", err)
	}
	doc := strings.TrimSpace(cmpOr(d.ID, d.Author))
	var out []Statement
	for i, s := range d.Statements {
		vuln := vulnID(cmpOr(s.Vulnerability.Name, s.Vulnerability.ID))
		if vuln == "" {
			return nil, fmt.Errorf("OpenVEX statement %d: no vulnerability name: %w", i+1, ErrFormat)
		}
		if !validStatus[s.Status] {
			return nil, fmt.Errorf("OpenVEX statement %d: status %q: %w", i+1, s.Status, ErrFormat)
		}
		st := Statement{Doc: doc, Author: d.Author, Issued: cmpOr(s.Timestamp, d.Timestamp), Vulnerability: vuln,
			Status: s.Status, Justification: s.Justification,
			Statement: strings.TrimSpace(cmpOr(s.ImpactStatement, s.ActionStatement, s.Statement))}
		for _, p := range s.Products {
			ids := []string{p.ID}
			for _, sc := range p.Subcomponents {
				ids = append(ids, sc.ID) // the statement holds for the component inside the product
			}
			for _, id := range ids {
				if id = strings.TrimSpace(id); id != "" {
					st.Product = id
					out = append(out, st)
				}
			}
		}
	}
	return out, nil
}

type cycloneDX struct {
	SerialNumber string `json:"serialNumber"`
	Metadata     struct {
		Timestamp string    `json:"timestamp"`
		Component component `json:"component"`
	} `json:"metadata"`
	Components      []component `json:"components"`
	Vulnerabilities []struct {
		ID       string `json:"id"`
		Analysis struct {
			State         string `json:"state"`
			Justification string `json:"justification"`
			Detail        string `json:"detail"`
		} `json:"analysis"`
		Affects []struct {
			Ref string `json:"ref"`
		} `json:"affects"`
	} `json:"vulnerabilities"`
}

type component struct {
	Ref        string      `json:"bom-ref"`
	Name       string      `json:"name"`
	Version    string      `json:"version"`
	PURL       string      `json:"purl"`
	CPE        string      `json:"cpe"`
	Components []component `json:"components"`
}

// cdxState maps CycloneDX analysis states to VEX statuses.
var cdxState = map[string]string{
	"resolved": Fixed, "resolved_with_pedigree": Fixed, "exploitable": Affected,
	"in_triage": UnderInvestigation, "false_positive": NotAffected, "not_affected": NotAffected,
}

func readCycloneDX(b []byte) ([]Statement, error) {
	var d cycloneDX
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("CycloneDX: %w", err)
	}
	refs := map[string]string{} // bom-ref -> product identifier
	var walk func(cs []component)
	walk = func(cs []component) {
		for _, c := range cs {
			if c.Ref != "" {
				refs[c.Ref] = productOf(c)
			}
			walk(c.Components)
		}
	}
	walk(append([]component{d.Metadata.Component}, d.Components...))
	doc := cmpOr(d.SerialNumber, "cyclonedx")
	var out []Statement
	for i, v := range d.Vulnerabilities {
		status := cdxState[v.Analysis.State]
		if status == "" {
			continue // no analysis: a plain BOM vulnerability, no VEX statement
		}
		vuln := vulnID(v.ID)
		if vuln == "" {
			return nil, fmt.Errorf("CycloneDX vulnerability %d: no id: %w", i+1, ErrFormat)
		}
		for j, a := range v.Affects {
			if strings.TrimSpace(a.Ref) == "" {
				return nil, fmt.Errorf("CycloneDX vulnerability %d, affects entry %d: no component reference: %w", i+1, j+1, ErrFormat)
			}
			p := refs[a.Ref]
			if p == "" {
				p = a.Ref // a purl or an unknown reference, kept as given
			}
			out = append(out, Statement{Doc: doc, Issued: d.Metadata.Timestamp, Product: p, Vulnerability: vuln,
				Status: status, Justification: v.Analysis.Justification, Statement: v.Analysis.Detail})
		}
	}
	return out, nil
}

// productOf names a component by purl, else CPE, else "name version".
func productOf(c component) string {
	return cmpOr(c.PURL, c.CPE, strings.TrimSpace(c.Name+" "+c.Version))
}

func vulnID(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if i := strings.LastIndexByte(s, '/'); i >= 0 { // an IRI naming the vulnerability
		s = s[i+1:]
	}
	if s == "" || len(s) > 64 {
		return ""
	}
	return s
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// Document is an OpenVEX document to write.
type Document struct {
	ID         string
	Author     string
	Timestamp  time.Time
	Statements []Statement
}

// WriteOpenVEX writes d as an OpenVEX v0.2.0 document. Statements with the
// same vulnerability, status and justification are grouped with all their
// products.
func WriteOpenVEX(w io.Writer, d Document) error {
	type product struct {
		ID string `json:"@id"`
	}
	type stmt struct {
		Vulnerability struct {
			Name string `json:"name"`
		} `json:"vulnerability"`
		Products        []product `json:"products"`
		Status          string    `json:"status"`
		Justification   string    `json:"justification,omitempty"`
		ImpactStatement string    `json:"impact_statement,omitempty"`
		ActionStatement string    `json:"action_statement,omitempty"`
	}
	out := struct {
		Context    string `json:"@context"`
		ID         string `json:"@id"`
		Author     string `json:"author"`
		Timestamp  string `json:"timestamp"`
		Version    int    `json:"version"`
		Statements []stmt `json:"statements"`
	}{Context: "https://openvex.dev/ns/v0.2.0", ID: d.ID, Author: d.Author, Timestamp: d.Timestamp.UTC().Format(time.RFC3339), Version: 1, Statements: []stmt{}}
	index := map[string]int{}
	for _, s := range d.Statements {
		if !validStatus[s.Status] {
			return fmt.Errorf("statement %s %s: status %q", s.Product, s.Vulnerability, s.Status)
		}
		k := s.Vulnerability + "\x00" + s.Status + "\x00" + s.Justification + "\x00" + s.Statement
		i, ok := index[k]
		if !ok {
			var st stmt
			st.Vulnerability.Name = s.Vulnerability
			st.Status, st.Justification = s.Status, s.Justification
			switch s.Status {
			case Affected:
				st.ActionStatement = cmpOr(s.Statement, "Update the component to a version without the vulnerability.")
			case NotAffected:
				st.ImpactStatement = s.Statement
			}
			out.Statements = append(out.Statements, st)
			i = len(out.Statements) - 1
			index[k] = i
		}
		out.Statements[i].Products = append(out.Statements[i].Products, product{ID: s.Product})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
