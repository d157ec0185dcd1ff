package assess

import (
	"context"
	"encoding/json"
	"fmt"

	"iotwatch/internal/declare"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Kinds of the findings Save stores.
const (
	findingNonconformity = "nonconformity" // one per failed provision
	findingAssessment    = "assessment"    // one per subject and baseline, with every outcome
	// FindingContradiction is one per declared claim observation shows false.
	FindingContradiction = "declaration-contradicted"
)

// AssessmentRecord is the Data of an "assessment" finding: enough to count
// conformance per provision without re-running the assessment.
type AssessmentRecord struct {
	Baseline string            `json:"baseline"`
	Tier     string            `json:"tier"`
	Counts   Counts            `json:"counts"`
	Outcomes map[string]string `json:"outcomes"` // provision id -> outcome
}

// Findings turns a result into findings: one "nonconformity" per failed
// provision (severity: critical for critical rules, high for mandatory, low
// for recommended), one "assessment" summary per subject and baseline, and
// one "entity-list-match" per screening hit.
func (r *Result) Findings() []model.Finding {
	var out []model.Finding
	for _, s := range r.Subjects {
		for _, b := range s.Baselines {
			rec := AssessmentRecord{Baseline: b.ID, Tier: s.Tier, Counts: b.Counts, Outcomes: map[string]string{}}
			for _, p := range b.Provisions {
				rec.Outcomes[p.ID] = p.Outcome
				if p.Outcome != Fail {
					continue
				}
				sev := model.SeverityLow
				switch {
				case isCritical(p.Rule):
					sev = model.SeverityCritical
				case p.Status == Mandatory:
					sev = model.SeverityHigh
				}
				ev := []model.Evidence{{Source: "assess", Detail: "rule " + p.Rule + ": " + p.Reason, Data: p.Refs}}
				out = append(out, model.Finding{Kind: findingNonconformity, Subject: s.Subject.ID, Severity: sev,
					Title: fmt.Sprintf("%s %s: %s", b.ID, p.ID, p.Title), Detail: p.Reason, Evidence: ev, Time: r.Generated})
			}
			out = append(out, model.Finding{Kind: findingAssessment, Subject: s.Subject.ID, Severity: model.SeverityInfo,
				Title:    fmt.Sprintf("%s assessment: tier %s", b.ID, s.Tier),
				Detail:   fmt.Sprintf("%d pass, %d fail, %d unknown, %d not applicable", b.Counts.Pass, b.Counts.Fail, b.Counts.Unknown, b.Counts.NotApplicable),
				Evidence: []model.Evidence{{Source: "assess", Detail: s.TierReason, Data: rec}}, Time: r.Generated})
		}
		for _, c := range s.Contradictions {
			out = append(out, model.Finding{Kind: FindingContradiction, Subject: s.Subject.ID, Severity: model.SeverityHigh,
				Title:    fmt.Sprintf("declaration contradicted: %s (%s)", c.Claim, c.Source),
				Detail:   fmt.Sprintf("declared %s = %s; observed: %s", c.Field, c.Declared, c.Observed),
				Evidence: []model.Evidence{{Source: "assess", Detail: "declared " + c.Field + " in " + s.Declaration, Data: c.Refs}},
				Time:     r.Generated})
		}
		for _, h := range s.EntityHits {
			f := h.Finding(s.Subject.ID)
			f.Time = r.Generated
			out = append(out, f)
		}
	}
	return out
}

func isCritical(rule string) bool {
	for _, c := range criticalRules {
		if c == rule {
			return true
		}
	}
	return false
}

// Save records the result as a run of kind "assess" with its findings and
// returns the run id.
func Save(ctx context.Context, st *store.Store, r *Result, targets []string) (int64, error) {
	run := &model.Run{Kind: RunKindAssess, Targets: targets, Stages: []string{"assess"}}
	if err := st.StartRun(ctx, run); err != nil {
		return 0, err
	}
	fs := r.Findings()
	err := st.SaveFindings(ctx, run.ID, fs)
	run.Counts = map[string]int64{"subjects": int64(len(r.Subjects)), "findings": int64(len(fs))}
	for _, s := range r.Subjects {
		run.Counts["pass"] += int64(s.Counts.Pass)
		run.Counts["fail"] += int64(s.Counts.Fail)
		run.Counts["unknown"] += int64(s.Counts.Unknown)
		run.Counts["not_applicable"] += int64(s.Counts.NotApplicable)
	}
	if err := st.EndRun(ctx, run, err); err != nil {
		return run.ID, fmt.Errorf("save assessment: %w", err)
	}
	return run.ID, nil
}

// Run loads the evidence of runIDs (all runs if none), assesses it and
// saves the result as an "assess" run: the one call a pipeline needs.
// Declarations and SBOMs are not in the store; pass them in ro.
func Run(ctx context.Context, st *store.Store, ro RunOptions, runIDs ...int64) (*Result, int64, error) {
	ev, err := LoadEvidence(ctx, st, runIDs...)
	if err != nil {
		return nil, 0, err
	}
	ev.Declarations, ev.SBOMs, ev.Stages = ro.Declarations, ro.SBOMs, ro.Stages
	res, err := Assess(ctx, ev, ro.Options)
	if err != nil {
		return nil, 0, err
	}
	id, err := Save(ctx, st, res, ro.Targets)
	return res, id, err
}

// RunOptions are the inputs of Run besides the store.
type RunOptions struct {
	Options
	Declarations []*declare.Declaration
	SBOMs        []SBOMSuppliers
	Stages       []string // stages known to have run (see Evidence.Stages)
	Targets      []string // recorded on the assess run
}

// ParseRecord returns the AssessmentRecord of an "assessment" finding read
// back from the store, and whether f is one.
func ParseRecord(f model.Finding) (AssessmentRecord, bool) {
	var rec AssessmentRecord
	if f.Kind != findingAssessment || len(f.Evidence) == 0 {
		return rec, false
	}
	b, err := json.Marshal(f.Evidence[0].Data)
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Baseline == "" {
		return rec, false
	}
	return rec, true
}
