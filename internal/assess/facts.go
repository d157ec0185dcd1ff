package assess

import (
	"slices"
	"sort"

	"iotwatch/internal/model"
)

// Facts are the few things a buyer's label shows, drawn from the same
// evidence as the provisions.
type Facts struct {
	Model               string `json:"model,omitempty"`
	Manufacturer        string `json:"manufacturer,omitempty"`
	ManufacturerCountry string `json:"manufacturer_country,omitempty"`
	// SupportEnd is the declared last day of security updates ("" if none).
	SupportEnd     string `json:"support_end,omitempty"`
	SupportOutcome string `json:"support_outcome"` // pass (published, running), fail (ended or none), unknown
	// Password is the default-password status: pass, fail or unknown, with a one-line reason.
	PasswordOutcome string `json:"password_outcome"`
	PasswordReason  string `json:"password_reason"`
	// PasswordBasis says whether the outcome was observed (a credential
	// audit ran on the device) or only declared by the maker.
	PasswordBasis string `json:"password_basis,omitempty"`
	// Update is the update-security status (signed, verified updates).
	UpdateOutcome string   `json:"update_outcome"`
	UpdateReason  string   `json:"update_reason"`
	KEV           []string `json:"kev,omitempty"` // known exploited CVEs
	// KEVOutcome is the outcome of the known-exploited-vulnerabilities
	// check: pass only when vulnerabilities were matched for the subject.
	KEVOutcome   string        `json:"kev_outcome"`
	Vulns        int           `json:"vulns"`      // matched CVEs
	HighVulns    int           `json:"high_vulns"` // of which CVSS >= 7
	Destinations []Destination `json:"destinations,omitempty"`
	EntityHits   int           `json:"entity_hits"`
	Compromised  bool          `json:"compromised,omitempty"` // flows show the device under someone else's control
}

// Destination is a country data goes to, declared or observed.
type Destination struct {
	Country string `json:"country"` // ISO 3166-1 alpha-2, "" if unknown
	Name    string `json:"name,omitempty"`
	Basis   string `json:"basis"` // declared or observed
}

func facts(v *view, sr *SubjectResult) Facts {
	f := Facts{Model: v.subj.Model, Manufacturer: v.subj.Vendor, EntityHits: len(sr.EntityHits)}
	p := Provision{}
	if d := v.decl; d != nil {
		f.Manufacturer, f.ManufacturerCountry = d.Manufacturer.Name, d.Manufacturer.Country
		if d.Support != nil {
			f.SupportEnd = d.Support.EndDate
		}
		if d.Data != nil {
			for _, r := range d.Data.Recipients {
				f.Destinations = append(f.Destinations, Destination{Country: r.Country, Name: r.Name, Basis: BasisDeclared})
			}
		}
	}
	f.SupportOutcome = supportPeriod(v, p).Outcome
	pw := weakDefaultPasswords(v, p)
	f.PasswordOutcome, f.PasswordReason, f.PasswordBasis = pw.Outcome, pw.Reason, pw.Basis
	f.KEVOutcome = knownExploited(v, p).Outcome
	up := updateSigned(v, p)
	f.UpdateOutcome, f.UpdateReason = up.Outcome, up.Reason
	seen := map[string]bool{}
	for _, m := range v.vulns {
		if seen[m.CVE] {
			continue
		}
		seen[m.CVE] = true
		f.Vulns++
		if m.CVSS >= 7 || m.Severity >= model.SeverityHigh {
			f.HighVulns++
		}
		if m.KEV {
			f.KEV = append(f.KEV, m.CVE)
		}
	}
	sort.Strings(f.KEV)
	f.Compromised = compromise(v, p).Outcome == Fail
	for _, fd := range v.findingsFrom(SourceFlows) {
		for _, e := range fd.Evidence {
			m := dataMap(e.Data)
			c := stringField(m, "country", "dst_country", "destination_country")
			if c == "" {
				continue
			}
			d := Destination{Country: c, Name: stringField(m, "owner", "as_org", "org", "host", "domain", "peer", "dst"), Basis: BasisObserved}
			if !slices.Contains(f.Destinations, d) {
				f.Destinations = append(f.Destinations, d)
			}
		}
	}
	return f
}
