package firmware

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"iotwatch/internal/model"
)

// WriteSARIF writes the findings as a SARIF 2.1.0 log, one rule per kind.
func WriteSARIF(w io.Writer, r *Result) error {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string `json:"id"`
		ShortDescription msg    `json:"shortDescription"`
	}
	type loc struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
		} `json:"physicalLocation"`
	}
	type result struct {
		RuleID    string `json:"ruleId"`
		Level     string `json:"level"`
		Message   msg    `json:"message"`
		Locations []loc  `json:"locations,omitempty"`
	}
	var rules []rule
	var results []result
	for _, f := range r.Findings {
		if !slices.ContainsFunc(rules, func(x rule) bool { return x.ID == f.Kind }) {
			rules = append(rules, rule{ID: f.Kind, ShortDescription: msg{f.Kind}})
		}
		res := result{RuleID: f.Kind, Level: sarifLevel(f.Severity), Message: msg{fmt.Sprintf("%s: %s", f.Title, f.Detail)}}
		if len(f.Evidence) > 0 && f.Evidence[0].Detail != "" {
			var l loc
			l.PhysicalLocation.ArtifactLocation.URI = f.Evidence[0].Detail
			res.Locations = []loc{l}
		}
		results = append(results, res)
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{"name": "iotwatch", "informationUri": "https://example.invalid/iotwatch", "rules": rules}},
			"artifacts": []any{map[string]any{"location": map[string]string{"uri": r.Image},
				"hashes": map[string]string{"sha-256": r.SHA256}}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func sarifLevel(s model.Severity) string {
	switch {
	case s >= model.SeverityHigh:
		return "error"
	case s == model.SeverityMedium:
		return "warning"
	}
	return "note"
}
