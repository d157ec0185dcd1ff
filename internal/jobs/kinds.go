package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"iotwatch/internal/firmware"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// VulnsArgs is a vulnerability match of new evidence: the services scan run
// Run stored (a finished shard), or, with Run 0, the re-match of the whole
// stored inventory against the database as it is now (stage.Rematch, a
// schedule after `vulndb update`).
type VulnsArgs struct {
	Run   int64 `json:"run,omitempty"`
	Group int64 `json:"group,omitempty"`
}

// Kind implements river.JobArgs.
func (VulnsArgs) Kind() string { return spec.KindVulns }

// InsertOpts puts matches on their own queue.
func (VulnsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: spec.KindVulns, MaxAttempts: 10}
}

type vulnsWorker struct {
	river.WorkerDefaults[VulnsArgs]
	c *Client
}

func (w *vulnsWorker) Work(ctx context.Context, job *river.Job[VulnsArgs]) error {
	st := w.c.st
	if job.Args.Run == 0 {
		// The re-match of `vulndb rematch`: a run with what changed; an
		// empty store has nothing to re-match.
		if _, err := stage.Rematch(ctx, st, stage.RematchOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	svcs, err := st.Services(ctx, job.Args.Run)
	if err != nil {
		return err
	}
	run, _, err := startRun(ctx, st, job.ID, job.Args.Group, "vulns", []string{fmt.Sprintf("services of run %d", job.Args.Run)}, []string{"vulns"})
	if err != nil {
		return err
	}
	// Matches are stored as the run's (replacing an earlier attempt's);
	// the run's end and the job's completion commit together.
	if _, err := stage.Vulns(ctx, st, run, svcs); err != nil {
		return run.Finish(ctx, err)
	}
	return run.Finish(ctx, finish(ctx, run, job))
}

// finish records run complete and completes job in one transaction.
func finish[T river.JobArgs](ctx context.Context, run *stage.Run, job *river.Job[T]) error {
	st := run.Store()
	return st.Tx(ctx, func(tx *sql.Tx) error {
		run.Status, run.Error = model.RunComplete, ""
		if err := st.FinishRunTx(ctx, tx, &run.Run); err != nil {
			return err
		}
		return complete(ctx, tx, job)
	})
}

// FirmwareArgs is a firmware analysis of the image at Path (on the worker's
// file system); findings are stored by the image's content hash, so a
// retried analysis of the same image replaces, not adds.
type FirmwareArgs struct {
	Path  string `json:"path"`
	Vulns bool   `json:"vulns"`
}

// Kind implements river.JobArgs.
func (FirmwareArgs) Kind() string { return spec.KindFirmware }

// InsertOpts puts analyses on their own queue.
func (FirmwareArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: spec.KindFirmware, MaxAttempts: 5}
}

type firmwareWorker struct {
	river.WorkerDefaults[FirmwareArgs]
	c *Client
}

func (w *firmwareWorker) Work(ctx context.Context, job *river.Job[FirmwareArgs]) error {
	run, _, err := startRun(ctx, w.c.st, job.ID, 0, "firmware", []string{job.Args.Path}, stage.FirmwareStages)
	if err != nil {
		return err
	}
	opts := stage.FirmwareOptions{Analyze: firmware.Options{Log: w.c.log}, Vulns: job.Args.Vulns}
	if _, err := stage.Firmware(ctx, w.c.st, run, job.Args.Path, opts); err != nil {
		return run.Finish(ctx, err)
	}
	return run.Finish(ctx, finish(ctx, run, job))
}

type reportWorker struct {
	river.WorkerDefaults[ReportArgs]
	c *Client
}

func (w *reportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	if job.Args.Dir == "" {
		return river.JobCancel(errors.New("report: no directory"))
	}
	r, err := stage.BuildReport(ctx, w.c.st, report.Inputs{Title: job.Args.Title}, nil)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	formats := job.Args.Formats
	if len(formats) == 0 {
		formats = []string{"html", "json"}
	}
	_, err = stage.WriteReport(r, job.Args.Dir, formats...)
	return err
}

// SubmitVulns enqueues a match of the whole stored inventory against the
// vulnerability database as it is now.
func (c *Client) SubmitVulns(ctx context.Context) (int64, error) {
	return c.submit(ctx, VulnsArgs{})
}

// SubmitFirmware enqueues the analysis of the image at path (a path on the
// workers' file system).
func (c *Client) SubmitFirmware(ctx context.Context, path string, vulns bool) (int64, error) {
	if path == "" {
		return 0, fmt.Errorf("%w: no image", ErrBadRequest)
	}
	return c.submit(ctx, FirmwareArgs{Path: path, Vulns: vulns})
}

// SubmitReport enqueues a report build into a.Dir (on the worker).
func (c *Client) SubmitReport(ctx context.Context, a ReportArgs) (int64, error) {
	if a.Dir == "" {
		return 0, fmt.Errorf("%w: no directory", ErrBadRequest)
	}
	return c.submit(ctx, a)
}

func (c *Client) submit(ctx context.Context, args river.JobArgs) (int64, error) {
	res, err := c.river.Insert(ctx, args, nil)
	if err != nil {
		return 0, fmt.Errorf("submit %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}
