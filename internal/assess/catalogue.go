package assess

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed catalogue.yaml
var catalogueYAML []byte

// Requirement levels.
const (
	Mandatory   = "mandatory"
	Recommended = "recommended"
)

// Evidence kinds a provision can be decided by.
const (
	SourceScan        = "scan"
	SourceAudit       = "audit"
	SourceFirmware    = "firmware"
	SourceFlows       = "flows"
	SourceVulnDB      = "vulndb"
	SourceDeclaration = "declaration"
)

// Provision is one requirement of a baseline.
type Provision struct {
	ID       string   `yaml:"id" json:"id"`
	Title    string   `yaml:"title" json:"title"`
	Summary  string   `yaml:"summary" json:"summary"`
	Status   string   `yaml:"status" json:"status"` // mandatory or recommended
	Evidence []string `yaml:"evidence" json:"evidence"`
	Rule     string   `yaml:"rule" json:"rule,omitempty"`
	Tests    string   `yaml:"tests" json:"tests,omitempty"`     // EN 303 645: TS 103 701 test kinds
	Edition  string   `yaml:"edition" json:"edition,omitempty"` // "" = the baseline's base edition
	Maps     []string `yaml:"maps" json:"maps,omitempty"`       // related EN 303 645 provisions
}

// Baseline is a named set of provisions.
type Baseline struct {
	ID         string      `yaml:"id" json:"id"`
	Title      string      `yaml:"title" json:"title"`
	Provisions []Provision `yaml:"provisions" json:"provisions"`
}

// Baseline ids.
const (
	BaselineETSI   = "etsi-en-303-645"
	BaselinePSTI   = "psti"
	BaselineCRA    = "cra"
	BaselineNISTIR = "nistir-8259a"
	BaselineNorms  = "norms"
)

var validSources = []string{SourceScan, SourceAudit, SourceFirmware, SourceFlows, SourceVulnDB, SourceDeclaration}

// Catalogue returns every baseline, in catalogue order. The returned slice is
// a fresh copy.
func Catalogue() []Baseline {
	catalogueOnce.Do(func() {
		var err error
		if catalogue, err = parseCatalogue(catalogueYAML); err != nil {
			panic(err) // the embedded catalogue is checked by tests
		}
	})
	out := slices.Clone(catalogue)
	for i := range out {
		out[i].Provisions = slices.Clone(out[i].Provisions)
	}
	return out
}

var (
	catalogueOnce sync.Once
	catalogue     []Baseline
)

// BaselineIDs lists the baseline ids, in catalogue order.
func BaselineIDs() []string {
	var ids []string
	for _, b := range Catalogue() {
		ids = append(ids, b.ID)
	}
	return ids
}

func parseCatalogue(b []byte) ([]Baseline, error) {
	var doc struct {
		Baselines []Baseline `yaml:"baselines"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	seen := map[string]bool{}
	for _, bl := range doc.Baselines {
		if seen[bl.ID] {
			return nil, fmt.Errorf("catalogue: duplicate baseline %s", bl.ID)
		}
		seen[bl.ID] = true
		ids := map[string]bool{}
		for _, p := range bl.Provisions {
			switch {
			case p.ID == "" || p.Title == "" || p.Summary == "":
				return nil, fmt.Errorf("catalogue: %s: provision %q lacks id, title or summary", bl.ID, p.ID)
			case ids[p.ID]:
				return nil, fmt.Errorf("catalogue: %s: duplicate provision %s", bl.ID, p.ID)
			case p.Status != Mandatory && p.Status != Recommended:
				return nil, fmt.Errorf("catalogue: %s %s: status %q", bl.ID, p.ID, p.Status)
			case len(p.Evidence) == 0:
				return nil, fmt.Errorf("catalogue: %s %s: no evidence kinds", bl.ID, p.ID)
			case p.Rule != "" && rules[p.Rule] == nil:
				return nil, fmt.Errorf("catalogue: %s %s: unknown rule %q", bl.ID, p.ID, p.Rule)
			}
			for _, e := range p.Evidence {
				if !slices.Contains(validSources, e) {
					return nil, fmt.Errorf("catalogue: %s %s: unknown evidence kind %q", bl.ID, p.ID, e)
				}
			}
			ids[p.ID] = true
		}
	}
	return doc.Baselines, nil
}

// selectBaselines returns the baselines named by ids ("all" or none: every one).
func selectBaselines(ids []string) ([]Baseline, error) {
	all := Catalogue()
	if len(ids) == 0 || slices.Contains(ids, "all") {
		return all, nil
	}
	var out []Baseline
	for _, id := range ids {
		i := slices.IndexFunc(all, func(b Baseline) bool { return b.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("unknown baseline %q (known: %v, all)", id, BaselineIDs())
		}
		out = append(out, all[i])
	}
	return out, nil
}
