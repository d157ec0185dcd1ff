package feed

import (
	"strings"

	"iotwatch/internal/distro"
)

// osvRecord is an OSV record (ossf/osv-schema 1.x).
type osvRecord struct {
	ID        string   `json:"id"`
	Modified  string   `json:"modified"`
	Published string   `json:"published"`
	Withdrawn string   `json:"withdrawn"`
	Aliases   []string `json:"aliases"`
	Upstream  []string `json:"upstream"`
	Summary   string   `json:"summary"`
	Details   string   `json:"details"`
	Severity  []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
			PURL      string `json:"purl"`
		} `json:"package"`
		Ranges   []osvRange `json:"ranges"`
		Versions []string   `json:"versions"`
	} `json:"affected"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
	DatabaseSpecific struct {
		CWEIDs []string `json:"cwe_ids"`
	} `json:"database_specific"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced   string `json:"introduced"`
		Fixed        string `json:"fixed"`
		LastAffected string `json:"last_affected"`
	} `json:"events"`
}

// maxOSVVersions bounds the enumerated versions turned into criteria.
const maxOSVVersions = 256

func (o *osvRecord) record() *Record {
	r := &Record{
		ID:           strings.TrimSpace(o.ID),
		Source:       "osv",
		Published:    parseTime(o.Published),
		LastModified: parseTime(o.Modified),
		Aliases:      o.Aliases,
		Rejected:     o.Withdrawn != "",
		Description:  o.Summary,
	}
	if r.Description == "" {
		r.Description = o.Details
	}
	if r.Published.IsZero() {
		r.Published = r.LastModified
	}
	for _, s := range o.Severity {
		switch s.Type {
		case "CVSS_V3":
			r.CVSS3 = Score{Version: "3.1", Vector: s.Score, Score: BaseScore3(s.Score)}
			if strings.HasPrefix(s.Score, "CVSS:3.0/") {
				r.CVSS3.Version = "3.0"
			}
		case "CVSS_V4":
			r.CVSS4 = Score{Version: "4.0", Vector: s.Score}
		}
	}
	for _, c := range o.DatabaseSpecific.CWEIDs {
		if strings.HasPrefix(c, "CWE-") {
			r.CWEs = append(r.CWEs, c)
		}
	}
	for i, ref := range o.References {
		if i == maxRefs {
			break
		}
		r.References = append(r.References, ref.URL)
	}
	distroOnly := len(o.Affected) > 0
	var cves []string
	for _, a := range o.Affected {
		if distro.IsEcosystem(a.Package.Ecosystem) {
			// Distribution versions (1:9.2p1-2+deb12u3) are not upstream
			// versions: the advisory is kept apart, for backports.
			if cves == nil {
				cves = osvCVEs(o)
			}
			r.Distro = append(r.Distro, distroFixes(o, a.Package.Ecosystem, a.Package.Name, a.Ranges, cves)...)
			continue
		}
		distroOnly = false
		name := a.Package.Name
		if i := strings.LastIndexAny(name, "/:"); i >= 0 { // Go module paths, Maven group:artifact
			name = name[i+1:]
		}
		base := "cpe:2.3:a:*:" + cpeValue(name) + ":*:*:*:*:*:*:*:*"
		var node Node
		for _, rg := range a.Ranges {
			if rg.Type == "GIT" {
				continue
			}
			cur := -1 // index of the open range in node.Matches
			for _, ev := range rg.Events {
				switch {
				case ev.Introduced != "":
					m := Match{Vulnerable: true, Criteria: base}
					if ev.Introduced != "0" {
						m.StartIncl = ev.Introduced
					}
					node.Matches = append(node.Matches, m)
					cur = len(node.Matches) - 1
				case ev.Fixed != "" && cur >= 0:
					node.Matches[cur].EndExcl = ev.Fixed
					cur = -1
				case ev.LastAffected != "" && cur >= 0:
					node.Matches[cur].EndIncl = ev.LastAffected
					cur = -1
				}
			}
		}
		for i, v := range a.Versions {
			if i == maxOSVVersions || len(node.Matches) > 0 {
				break
			}
			node.Matches = append(node.Matches, Match{Vulnerable: true, Criteria: withVersion(base, v)})
		}
		if len(node.Matches) > 0 {
			r.Configs = append(r.Configs, Config{Nodes: []Node{node}})
		}
	}
	r.DistroOnly = distroOnly
	return r
}
