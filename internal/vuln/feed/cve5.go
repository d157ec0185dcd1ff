package feed

import (
	"strings"
)

// cve5 is a CVE JSON 5.x record (cve.org / CVEProject/cvelistV5).
type cve5 struct {
	Metadata struct {
		CveID         string `json:"cveId"`
		State         string `json:"state"`
		DatePublished string `json:"datePublished"`
		DateUpdated   string `json:"dateUpdated"`
	} `json:"cveMetadata"`
	Containers struct {
		CNA cve5Container   `json:"cna"`
		ADP []cve5Container `json:"adp"`
	} `json:"containers"`
}

type cve5Container struct {
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Affected []struct {
		Vendor        string   `json:"vendor"`
		Product       string   `json:"product"`
		CPEs          []string `json:"cpes"`
		DefaultStatus string   `json:"defaultStatus"`
		Versions      []struct {
			Version         string `json:"version"`
			Status          string `json:"status"`
			LessThan        string `json:"lessThan"`
			LessThanOrEqual string `json:"lessThanOrEqual"`
		} `json:"versions"`
	} `json:"affected"`
	Metrics []struct {
		V40 *cve5CVSS `json:"cvssV4_0"`
		V31 *cve5CVSS `json:"cvssV3_1"`
		V30 *cve5CVSS `json:"cvssV3_0"`
	} `json:"metrics"`
	ProblemTypes []struct {
		Descriptions []struct {
			CweID string `json:"cweId"`
		} `json:"descriptions"`
	} `json:"problemTypes"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

type cve5CVSS struct {
	Version      string  `json:"version"`
	BaseScore    float64 `json:"baseScore"`
	VectorString string  `json:"vectorString"`
}

func (c *cve5CVSS) score() Score {
	if c == nil {
		return Score{}
	}
	return Score{Version: c.Version, Score: c.BaseScore, Vector: c.VectorString}
}

// cpeValue turns free text (a CNA's vendor or product) into a CPE value.
func cpeValue(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Join(strings.Fields(s), "_")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	if b.Len() == 0 || s == "n/a" {
		return "*"
	}
	return b.String()
}

func unspecified(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "*", "0", "n/a", "unspecified", "all", "-":
		return true
	}
	return false
}

func (c *cve5) record() *Record {
	m := c.Metadata
	r := &Record{
		ID:           strings.TrimSpace(m.CveID),
		Source:       "cve5",
		Published:    parseTime(m.DatePublished),
		LastModified: parseTime(m.DateUpdated),
		Status:       m.State,
		Rejected:     strings.EqualFold(m.State, "REJECTED"),
	}
	if r.LastModified.IsZero() {
		r.LastModified = r.Published
	}
	cna := c.Containers.CNA
	for _, d := range cna.Descriptions {
		if strings.HasPrefix(d.Lang, "en") {
			r.Description = d.Value
			break
		}
	}
	seen := map[string]bool{}
	for _, ct := range append([]cve5Container{cna}, c.Containers.ADP...) {
		for _, mt := range ct.Metrics {
			if r.CVSS4.Vector == "" && mt.V40 != nil {
				r.CVSS4 = mt.V40.score()
			}
			if r.CVSS3.Vector == "" && mt.V31 != nil {
				r.CVSS3 = mt.V31.score()
			}
			if r.CVSS3.Vector == "" && mt.V30 != nil {
				r.CVSS3 = mt.V30.score()
			}
		}
		for _, pt := range ct.ProblemTypes {
			for _, d := range pt.Descriptions {
				if strings.HasPrefix(d.CweID, "CWE-") && !seen[d.CweID] {
					seen[d.CweID] = true
					r.CWEs = append(r.CWEs, d.CweID)
				}
			}
		}
	}
	for i, ref := range cna.References {
		if i == maxRefs {
			break
		}
		r.References = append(r.References, ref.URL)
	}
	for _, a := range cna.Affected {
		bases := a.CPEs
		if len(bases) == 0 {
			bases = []string{"cpe:2.3:a:" + cpeValue(a.Vendor) + ":" + cpeValue(a.Product) + ":*:*:*:*:*:*:*:*"}
		}
		var node Node
		for _, base := range bases {
			for _, v := range a.Versions {
				if !strings.EqualFold(v.Status, "affected") {
					continue
				}
				mt := Match{Vulnerable: true, Criteria: base}
				switch {
				case v.LessThan != "" || v.LessThanOrEqual != "":
					if !unspecified(v.Version) {
						mt.StartIncl = v.Version
					}
					if v.LessThan != "" && v.LessThan != "*" {
						mt.EndExcl = v.LessThan
					}
					if v.LessThanOrEqual != "" && v.LessThanOrEqual != "*" {
						mt.EndIncl = v.LessThanOrEqual
					}
				case unspecified(v.Version):
					// every version
				default:
					mt.Criteria = withVersion(base, v.Version)
				}
				node.Matches = append(node.Matches, mt)
			}
			if len(a.Versions) == 0 && strings.EqualFold(a.DefaultStatus, "affected") {
				node.Matches = append(node.Matches, Match{Vulnerable: true, Criteria: base})
			}
		}
		if len(node.Matches) > 0 {
			r.Configs = append(r.Configs, Config{Nodes: []Node{node}})
		}
	}
	return r
}

// withVersion puts version v into the version attribute of formatted CPE base.
func withVersion(base, v string) string {
	parts := splitColons(base)
	if len(parts) < 6 {
		return base
	}
	parts[5] = cpeValue(v)
	return strings.Join(parts, ":")
}

func splitColons(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
