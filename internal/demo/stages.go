package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"iotwatch/internal/assess"
	"iotwatch/internal/fsutil"
	"iotwatch/internal/report"
	"iotwatch/internal/report/sources"
	"iotwatch/internal/store"
)

// assessRun assesses the evidence of run runID against every baseline and
// stores the outcome as an assessment run.
func assessRun(ctx context.Context, st *store.Store, runID int64) (*assess.Result, error) {
	ev, err := assess.LoadEvidence(ctx, st, runID)
	if err != nil {
		return nil, err
	}
	res, err := assess.Assess(ctx, ev, assess.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := assess.Save(ctx, st, res, []string{fmt.Sprintf("run %d", runID)}); err != nil {
		return nil, err
	}
	return res, nil
}

// writeReports builds the report of run runID and writes report.html and
// report.json into dir. Files are written whole or not at all.
func writeReports(ctx context.Context, st *store.Store, runID int64, res *assess.Result, dir string, sum *Summary) error {
	in := report.Inputs{RunIDs: []int64{runID}, Title: "iotwatch demo: simulated IoT fleet"}
	sources.Wire(st, &in)
	if res != nil {
		in.Assessment = func(context.Context) (report.AssessmentSummary, error) { return sources.AssessmentSummary(res), nil }
	}
	r, err := report.Build(ctx, st, in)
	if err != nil {
		return err
	}
	sum.ReportHTML = filepath.Join(dir, "report.html")
	sum.ReportJSON = filepath.Join(dir, "report.json")
	for path, format := range map[string]string{sum.ReportHTML: "html", sum.ReportJSON: "json"} {
		if err := fsutil.WriteFileAtomic(path, 0o644, func(w io.Writer) error { return r.Write(w, format) }); err != nil {
			return err
		}
	}
	return nil
}
