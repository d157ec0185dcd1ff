package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/riverqueue/river"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
)

// check validates r as the scan command would, with the seed fixed.
func checkRequest(ctx context.Context, r *ScanRequest) error {
	if len(r.Targets) == 0 {
		return fmt.Errorf("%w: no targets", ErrBadRequest)
	}
	if r.Shards <= 0 {
		r.Shards = 1
	}
	if r.Seed == 0 {
		r.Seed = scan.NewSeed()
	}
	cfg, err := scanConfig(r)
	if err != nil {
		return err
	}
	if _, err := scan.NewPlan(ctx, cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// config is the scan.Config of the request (shard 0).
func scanConfig(r *ScanRequest) (scan.Config, error) {
	cfg := scan.Config{
		Targets: r.Targets, Blocklist: r.Blocklist, Allowlist: r.Allowlist, NoDefaultBlocklist: r.NoDefaultBlocklist,
		Concurrency: r.Concurrency, Rate: r.Rate, AllowLarge: r.AllowLarge, Timeout: r.Timeout,
		Seed: r.Seed, Shards: r.Shards, DiscoveryOnly: r.DiscoveryOnly, Communities: r.Communities,
	}
	if r.Ports != "" {
		ports, err := target.ParsePorts(r.Ports)
		if err != nil {
			return cfg, fmt.Errorf("%w: ports: %w", ErrBadRequest, err)
		}
		cfg.Ports = ports
	}
	return cfg, nil
}

// SubmitScan checks req and enqueues its shards as jobs (one transaction).
func (c *Client) SubmitScan(ctx context.Context, req ScanRequest) (Submitted, error) {
	var sub Submitted
	err := c.st.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		sub, err = c.submitScanTx(ctx, c.river, tx, req)
		return err
	})
	return sub, err
}

// submitScanTx records the group run and enqueues req's shards in tx
// (by client, which may be a worker's: a schedule's job submits its scan).
func (c *Client) submitScanTx(ctx context.Context, client *river.Client[*sql.Tx], tx *sql.Tx, req ScanRequest) (Submitted, error) {
	if err := checkRequest(ctx, &req); err != nil {
		return Submitted{}, err
	}
	group, err := c.st.RecordRunTx(ctx, tx, &model.Run{
		Kind: "scan", Targets: req.Targets, Stages: []string{"jobs"}, Status: model.RunComplete,
		Counts: map[string]int64{"shards": int64(req.Shards)},
	})
	if err != nil {
		return Submitted{}, err
	}
	params := make([]river.InsertManyParams, req.Shards)
	for i := range params {
		params[i] = river.InsertManyParams{Args: ScanArgs{Request: req, Shard: i, Group: group}}
	}
	res, err := client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return Submitted{}, fmt.Errorf("submit scan: %w", err)
	}
	sub := Submitted{Group: group}
	for _, r := range res {
		sub.Jobs = append(sub.Jobs, r.Job.ID)
	}
	return sub, recordGroupTx(ctx, c.st, tx, group, req, sub.Jobs)
}

// jobRun returns the run job id recorded its work as (0: none yet).
func jobRun(ctx context.Context, st *store.Store, id int64) (int64, error) {
	var run int64
	err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT run_id FROM job_runs WHERE job_id = ?`), id).Scan(&run)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("run of job %d: %w", id, err)
	}
	return run, nil
}

// startRun starts the run of job id (or, on a retry, reopens the run its
// earlier attempt started) as a child of group. It reports whether the run
// was reopened.
func startRun(ctx context.Context, st *store.Store, id, group int64, kind string, targets, stages []string) (*stage.Run, bool, error) {
	prev, err := jobRun(ctx, st, id)
	if err != nil {
		return nil, false, err
	}
	if prev != 0 {
		r, err := st.ReopenRun(ctx, prev)
		if err != nil {
			return nil, false, err
		}
		return stage.Resume(st, r), true, nil
	}
	run, err := stage.Start(ctx, st, kind, targets, stages)
	if err != nil {
		return nil, false, err
	}
	if group != 0 {
		if err := st.SetRunParent(ctx, run.ID, group); err != nil {
			return nil, false, err
		}
	}
	if _, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO job_runs (job_id, run_id) VALUES (?, ?)`), id, run.ID); err != nil {
		return nil, false, fmt.Errorf("record run of job %d: %w", id, err)
	}
	return run, false, nil
}

// scanWorker works scan shards.
type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	c *Client
	w *worker
}

// shardFault, set by tests only, fails an attempt of a shard before it
// scans (a shard that always fails is discarded after its last attempt).
var shardFault func(ctx context.Context, job *river.Job[ScanArgs]) error

func (w *scanWorker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	st, req := w.c.st, job.Args.Request
	if shardFault != nil {
		if err := shardFault(ctx, job); err != nil {
			return err
		}
	}
	cfg, err := scanConfig(&req)
	if err != nil {
		return river.JobCancel(err)
	}
	cfg.Shard = job.Args.Shard
	cfg.Logger = w.c.log
	cfg.Rate = w.w.scanRate(req.Rate)
	if !req.DiscoveryOnly {
		if cfg.Engine, err = w.w.engine(); err != nil {
			return err
		}
	}
	stages := slices.Clone(stage.ScanStages)
	if !req.DiscoveryOnly {
		stages = append(stages, "vulns")
	}
	run, reopened, err := startRun(ctx, st, job.ID, job.Args.Group, "scan", req.Targets, stages)
	if err != nil {
		return err
	}
	if reopened {
		// Carry on from the checkpoint committed with the services it
		// covers: what the earlier attempt stored is not scanned again.
		if r, err := scan.CheckpointOf(ctx, st, run.ID); err == nil {
			cp := r.Checkpoint
			cfg.Start, cfg.Pending = cp.Position, cp.Pending
			w.c.log.Info("scan shard resumed", "job", job.ID, "run", run.ID, "position", cp.Position, "of", cp.Steps)
		} else if !errors.Is(err, scan.ErrNoCheckpoint) {
			return errors.Join(err, run.Finish(ctx, err))
		}
	}
	opts := stage.ScanOptions{Config: cfg, Ports: req.Ports}
	opts.Commit = func(ctx context.Context, tx *sql.Tx) error {
		run.Status, run.Error = model.RunComplete, ""
		if err := st.FinishRunTx(ctx, tx, &run.Run); err != nil {
			return err
		}
		var next []river.InsertManyParams
		if !req.DiscoveryOnly {
			next = append(next, river.InsertManyParams{Args: VulnsArgs{Run: run.ID, Group: job.Args.Group}})
		}
		batches, err := settleTx(ctx, st, tx, job.Args.Group, job.ID)
		if err != nil {
			return err
		}
		next = append(next, batches...)
		if err := follow(ctx, tx, next); err != nil {
			return err
		}
		return complete(ctx, tx, job)
	}
	_, err = stage.Scan(ctx, st, run, opts)
	return run.Finish(ctx, err)
}

// allowedBy returns the audit's Allowed of targets: the addresses they name.
func allowedBy(ctx context.Context, targets []string) (func(netip.Addr) bool, error) {
	set, err := (&target.Parser{}).Parse(ctx, targets)
	if err != nil {
		return nil, fmt.Errorf("%w: targets: %w", ErrBadRequest, err)
	}
	pairs := map[netip.Addr]bool{}
	for _, p := range set.Pairs {
		pairs[p.Addr()] = true
	}
	return func(a netip.Addr) bool { return set.Contains(a) || pairs[a] }, nil
}

// auditConfig is the audit.Config of r.
func auditConfig(r AuditRequest) audit.Config {
	return audit.Config{MaxAttempts: r.MaxAttempts, PerHost: r.PerHost, Concurrency: r.Concurrency,
		Delay: r.Delay, Timeout: r.Timeout, All: r.All}
}
