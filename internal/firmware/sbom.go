package firmware

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"iotwatch/internal/model"
)

// BuildSBOM makes a CycloneDX BOM: the image as metadata component, one
// component per identified component (CPE, purl, where found), and the
// vulnerability matches.
func BuildSBOM(r *Result) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + uuidFromHash(r.SHA256)
	bom.Metadata = &cdx.Metadata{
		Timestamp: time.Now().UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "iotwatch"}}},
		Component: &cdx.Component{
			BOMRef: "image", Type: cdx.ComponentTypeFirmware, Name: filepath.Base(r.Image),
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: r.SHA256}},
		},
	}
	comps := []cdx.Component{}
	refs := map[string]string{} // CPE → bom-ref
	for i, c := range r.Components {
		ref := fmt.Sprintf("c%d-%s", i, c.Name)
		props := []cdx.Property{{Name: "iotwatch:source", Value: c.Source}}
		for _, p := range c.Paths {
			props = append(props, cdx.Property{Name: "iotwatch:path", Value: p})
		}
		if c.Evidence != "" {
			props = append(props, cdx.Property{Name: "iotwatch:evidence", Value: c.Evidence})
		}
		typ := cdx.ComponentType(c.Type)
		if typ == "" {
			typ = cdx.ComponentTypeApplication
		}
		comp := cdx.Component{BOMRef: ref, Type: typ, Name: c.Name, Version: c.Version, CPE: c.CPE, PackageURL: c.PURL, Properties: &props}
		if c.Vendor != "" {
			comp.Supplier = &cdx.OrganizationalEntity{Name: c.Vendor}
		}
		comps = append(comps, comp)
		if c.CPE != "" {
			if _, ok := refs[c.CPE]; !ok {
				refs[c.CPE] = ref
			}
		}
	}
	bom.Components = &comps
	var vulns []cdx.Vulnerability
	seen := map[string]bool{}
	for _, m := range slices.Concat(r.Matches, r.Fixed) {
		key := m.CVE + "\x00" + m.CPE
		if seen[key] {
			continue
		}
		seen[key] = true
		ref := refs[m.CPE]
		if ref == "" {
			ref = "image"
		}
		v := cdx.Vulnerability{BOMRef: "v-" + m.CVE + "-" + ref, ID: m.CVE, Description: m.Summary,
			Source:  &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/" + m.CVE},
			Affects: &[]cdx.Affects{{Ref: ref}}}
		if m.CVSS > 0 {
			score := m.CVSS
			v.Ratings = &[]cdx.VulnerabilityRating{{Score: &score, Severity: cdxSeverity(m.Severity), Method: cvssMethod(m.CVSSVector), Vector: m.CVSSVector}}
		}
		if !m.Affects() {
			// A distribution backport or VEX statement: CycloneDX's VEX analysis.
			state := cdx.IASResolved
			if m.Status == "not_affected" {
				state = cdx.IASNotAffected
			}
			v.Analysis = &cdx.VulnerabilityAnalysis{State: state,
				Detail: strings.TrimSpace(fmt.Sprintf("%s %s %s", m.Advisory, fixedIn(m.FixedIn), m.Justification))}
		}
		vulns = append(vulns, v)
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	return bom
}

func cdxSeverity(s model.Severity) cdx.Severity {
	switch s {
	case model.SeverityCritical:
		return cdx.SeverityCritical
	case model.SeverityHigh:
		return cdx.SeverityHigh
	case model.SeverityMedium:
		return cdx.SeverityMedium
	case model.SeverityLow:
		return cdx.SeverityLow
	}
	return cdx.SeverityInfo
}

func cvssMethod(vec string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(vec, "CVSS:4"):
		return cdx.ScoringMethodCVSSv4
	case strings.HasPrefix(vec, "CVSS:3.1"):
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(vec, "CVSS:3"):
		return cdx.ScoringMethodCVSSv3
	}
	return cdx.ScoringMethodCVSSv2
}

// uuidFromHash derives a stable RFC 4122-shaped id from the image hash.
func uuidFromHash(h string) string {
	h = (h + strings.Repeat("0", 32))[:32]
	b := []byte(h)
	b[12] = '5'
	b[16] = "89ab"[strings.IndexByte("0123456789abcdef", b[16])%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}

// WriteSBOM encodes the BOM as CycloneDX 1.6 JSON.
func WriteSBOM(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("encode sbom: %w", err)
	}
	return nil
}

func fixedIn(v string) string {
	if v == "" {
		return ""
	}
	return "fixed in " + v
}
