package stage

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"iotwatch/internal/assess"
	"iotwatch/internal/fsutil"
	"iotwatch/internal/geo"
	"iotwatch/internal/report"
	"iotwatch/internal/report/sources"
	"iotwatch/internal/store"
)

// Assess assesses the evidence of runIDs (every run when none) against
// every baseline and stores the outcome as a run of kind "assess"; see
// assess.Run.
func Assess(ctx context.Context, st *store.Store, opts assess.RunOptions, runIDs ...int64) (*assess.Result, int64, error) {
	return assess.Run(ctx, st, opts, runIDs...)
}

// WireReport fixes the runs in covers (the newest when it names none) and
// connects its optional providers to the stages: vulnerability database,
// flow detection, assessment (see report/sources) and the country of each
// address (the embedded country database). The dashboard wires its reports
// with it too.
func WireReport(ctx context.Context, st *store.Store, in *report.Inputs) error {
	if len(in.RunIDs) == 0 {
		runs, err := report.ResolveRuns(ctx, st, *in)
		if err != nil {
			return err
		}
		for _, r := range runs {
			in.RunIDs = append(in.RunIDs, r.ID)
		}
	}
	sources.Wire(st, in)
	if at, err := geo.New(""); err == nil {
		in.Region = func(a netip.Addr) string { return at.Attribute(a).Country }
	}
	return nil
}

// BuildReport builds the threat-assessment report of in, wired by
// WireReport. An assessment made just before for the same runs may be
// passed in res so that it is not made again.
func BuildReport(ctx context.Context, st *store.Store, in report.Inputs, res *assess.Result) (*report.Report, error) {
	if err := WireReport(ctx, st, &in); err != nil {
		return nil, err
	}
	if res != nil {
		in.Assessment = func(context.Context) (report.AssessmentSummary, error) { return sources.AssessmentSummary(res), nil }
	}
	return report.Build(ctx, st, in)
}

// WriteReport writes r in each format into dir as report.<format>, each
// file whole or not at all, and returns the paths written.
func WriteReport(r *report.Report, dir string, formats ...string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range formats {
		path := filepath.Join(dir, "report."+f)
		if err := fsutil.WriteFileAtomic(path, 0o644, func(w io.Writer) error { return r.Write(w, f) }); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
