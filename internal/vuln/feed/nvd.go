package feed

import (
	"fmt"
	"strings"
)

// nvdCVE is the "cve" object of the NVD CVE API 2.0 (and of the 2.0 feeds).
type nvdCVE struct {
	ID           string `json:"id"`
	Published    string `json:"published"`
	LastModified string `json:"lastModified"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics struct {
		V40 []nvdMetric `json:"cvssMetricV40"`
		V31 []nvdMetric `json:"cvssMetricV31"`
		V30 []nvdMetric `json:"cvssMetricV30"`
		V2  []nvdMetric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Weaknesses []struct {
		Source      string `json:"source"`
		Type        string `json:"type"`
		Description []struct {
			Value string `json:"value"`
		} `json:"description"`
	} `json:"weaknesses"`
	Configurations []struct {
		Operator string `json:"operator"`
		Negate   bool   `json:"negate"`
		Nodes    []struct {
			Operator string `json:"operator"`
			Negate   bool   `json:"negate"`
			CPEMatch []struct {
				Vulnerable            bool   `json:"vulnerable"`
				Criteria              string `json:"criteria"`
				VersionStartIncluding string `json:"versionStartIncluding"`
				VersionStartExcluding string `json:"versionStartExcluding"`
				VersionEndIncluding   string `json:"versionEndIncluding"`
				VersionEndExcluding   string `json:"versionEndExcluding"`
			} `json:"cpeMatch"`
		} `json:"nodes"`
	} `json:"configurations"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
	CISAExploitAdd        string `json:"cisaExploitAdd"`
	CISAActionDue         string `json:"cisaActionDue"`
	CISARequiredAction    string `json:"cisaRequiredAction"`
	CISAVulnerabilityName string `json:"cisaVulnerabilityName"`
}

type nvdMetric struct {
	Source   string `json:"source"`
	Type     string `json:"type"`
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
	} `json:"cvssData"`
}

// maxRefs bounds the references kept per record.
const maxRefs = 16

// pickMetric prefers NVD's own Primary score, then any Primary, then the first.
func pickMetric(ms []nvdMetric) Score {
	if len(ms) == 0 {
		return Score{}
	}
	best := ms[0]
	for _, m := range ms {
		if m.Type == "Primary" && m.Source == "nvd@nist.gov" {
			best = m
			break
		}
		if m.Type == "Primary" && best.Type != "Primary" {
			best = m
		}
	}
	return Score{Version: best.CVSSData.Version, Score: best.CVSSData.BaseScore, Vector: best.CVSSData.VectorString}
}

func (c *nvdCVE) record() (*Record, error) {
	if c.ID == "" {
		return nil, fmt.Errorf("NVD record without id: %w", ErrUnknownFormat)
	}
	r := &Record{
		ID:           strings.TrimSpace(c.ID),
		Source:       "nvd",
		Published:    parseTime(c.Published),
		LastModified: parseTime(c.LastModified),
		Status:       c.VulnStatus,
		Rejected:     strings.EqualFold(c.VulnStatus, "Rejected"),
	}
	for _, d := range c.Descriptions {
		if d.Lang == "en" {
			r.Description = d.Value
			break
		}
	}
	if r.Description == "" && len(c.Descriptions) > 0 {
		r.Description = c.Descriptions[0].Value
	}
	r.CVSS4 = pickMetric(c.Metrics.V40)
	r.CVSS3 = pickMetric(c.Metrics.V31)
	if r.CVSS3.Vector == "" {
		r.CVSS3 = pickMetric(c.Metrics.V30)
	}
	r.CVSS2 = pickMetric(c.Metrics.V2)
	seen := map[string]bool{}
	// NVD's own (Primary) weaknesses first, then the CNA's.
	for pass := 0; pass < 2; pass++ {
		for _, w := range c.Weaknesses {
			if (w.Type == "Primary") != (pass == 0) {
				continue
			}
			for _, d := range w.Description {
				v := d.Value
				if strings.HasPrefix(v, "CWE-") && !seen[v] {
					seen[v] = true
					r.CWEs = append(r.CWEs, v)
				}
			}
		}
	}
	for _, cfg := range c.Configurations {
		out := Config{Operator: strings.ToUpper(cfg.Operator), Negate: cfg.Negate}
		for _, n := range cfg.Nodes {
			node := Node{Operator: strings.ToUpper(n.Operator), Negate: n.Negate}
			for _, m := range n.CPEMatch {
				node.Matches = append(node.Matches, Match{
					Vulnerable: m.Vulnerable,
					Criteria:   m.Criteria,
					StartIncl:  m.VersionStartIncluding,
					StartExcl:  m.VersionStartExcluding,
					EndIncl:    m.VersionEndIncluding,
					EndExcl:    m.VersionEndExcluding,
				})
			}
			out.Nodes = append(out.Nodes, node)
		}
		r.Configs = append(r.Configs, out)
	}
	refs := map[string]bool{}
	for _, ref := range c.References {
		if len(r.References) == maxRefs {
			break
		}
		if !refs[ref.URL] {
			refs[ref.URL] = true
			r.References = append(r.References, ref.URL)
		}
	}
	if c.CISAExploitAdd != "" {
		r.KEV = &KEV{
			CVE:       r.ID,
			Name:      c.CISAVulnerabilityName,
			DateAdded: c.CISAExploitAdd,
			DueDate:   c.CISAActionDue,
			Action:    c.CISARequiredAction,
		}
	}
	return r, nil
}
