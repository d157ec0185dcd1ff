package jobs

import (
	"context"
	"fmt"
	"slices"

	"github.com/riverqueue/river"

	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/stage"
)

// FlowsArgs is an ingest of flow telemetry files (paths on the worker's
// file system: captures, Zeek logs, nfdump CSV, captured exporter
// datagrams, or directories of them) as one stream through the detectors,
// as `iotwatch flows ingest` reads its file inputs; Networks and Continue
// are its --networks and --continue.
type FlowsArgs struct {
	Sources  []FlowSource `json:"sources"`
	Networks []string     `json:"networks,omitempty"`
	Continue string       `json:"continue,omitempty"`
}

// FlowSource is one input of a flows job: Kind is an ingest.Kind of a file
// ("pcap", "zeek", "nfdump-csv", "netflow-pcap"); a collector is not a job
// (`iotwatch worker --collect`).
type FlowSource struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
}

// fileKinds are the kinds of input a flows job reads.
var fileKinds = []ingest.Kind{ingest.PCAP, ingest.Zeek, ingest.NfdumpCSV, ingest.NetflowPCAP}

// Kind implements river.JobArgs.
func (FlowsArgs) Kind() string { return spec.KindFlows }

// InsertOpts puts ingests on their own queue.
func (FlowsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: spec.KindFlows, MaxAttempts: 5}
}

func (a FlowsArgs) sources() ([]ingest.Source, error) {
	if len(a.Sources) == 0 {
		return nil, fmt.Errorf("%w: no input", ErrBadRequest)
	}
	out := make([]ingest.Source, len(a.Sources))
	for i, s := range a.Sources {
		k := ingest.Kind(s.Kind)
		if !slices.Contains(fileKinds, k) || s.Path == "" {
			return nil, fmt.Errorf("%w: input %q of kind %q: want a path of kind %v", ErrBadRequest, s.Path, s.Kind, fileKinds)
		}
		out[i] = ingest.Source{Kind: k, Path: s.Path}
	}
	return out, nil
}

type flowsWorker struct {
	river.WorkerDefaults[FlowsArgs]
	c *Client
}

// Work ingests the job's inputs (stage.Flows, which records its own run).
// A retry is safe: an input an earlier attempt ingested whole is
// recognised and skipped, one it ingested in part is read from where it
// stopped, so no record is counted twice.
func (w *flowsWorker) Work(ctx context.Context, job *river.Job[FlowsArgs]) error {
	srcs, err := job.Args.sources()
	if err != nil {
		return river.JobCancel(err)
	}
	sum, err := stage.Flows(ctx, w.c.st, srcs, ingest.Options{Networks: job.Args.Networks, Continue: job.Args.Continue, Log: w.c.log})
	if sum != nil && sum.RunID != 0 {
		st := w.c.st
		if _, rerr := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO job_runs (job_id, run_id) VALUES (?, ?)
ON CONFLICT (job_id) DO UPDATE SET run_id = excluded.run_id`), job.ID, sum.RunID); rerr != nil && err == nil {
			err = fmt.Errorf("record run of job %d: %w", job.ID, rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	return nil
}

// SubmitFlows enqueues the ingest of a's inputs (paths on the workers).
func (c *Client) SubmitFlows(ctx context.Context, a FlowsArgs) (int64, error) {
	if _, err := a.sources(); err != nil {
		return 0, err
	}
	return c.submit(ctx, a)
}
