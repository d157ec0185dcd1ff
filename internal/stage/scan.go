package stage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
)

// ScanStages are the stages a scan run records.
var ScanStages = []string{"discovery", "handshake", "fingerprint"}

// ScanOptions describe a scan stage.
type ScanOptions struct {
	// Config is what to scan and how; its Checkpoint is set by Scan.
	Config scan.Config
	// Ports is the port list as the user wrote it, kept with the checkpoint
	// so that a resumed scan walks the same space.
	Ports string
	// From is the checkpoint of the scan this one continues (set by
	// PrepareResume), nil for a new scan.
	From *scan.Resumable
	// Emit, when set, sees every service found (one at a time) before it
	// is stored; an error stops the scan.
	Emit func(model.Service) error
	// SuccessOnly stores only services whose handshake succeeded.
	SuccessOnly bool
	// Commit, when set, runs in the transaction of the last batch when the
	// scan finished without error: what it writes (a job's completion)
	// commits with the last services and checkpoint or not at all.
	Commit func(context.Context, *sql.Tx) error
}

// ScanResult is what a scan stage did.
type ScanResult struct {
	Stats scan.Stats
	// Resumed is the run the scan continued (Resume), 0 otherwise.
	Resumed int64
	// Stored counts the services stored.
	Stored int
}

// ErrResumeTargets reports a --resume whose targets differ from the scan it
// would continue.
var ErrResumeTargets = errors.New("targets differ from the interrupted scan's")

// PrepareResume loads the checkpoint of the newest scan that did not
// complete (interrupted, failed or abandoned) and points opts at it:
// Config's targets, ports, lists, seed and shard become that scan's, which
// opts.Config.Targets, when given, must equal.
func PrepareResume(ctx context.Context, st *store.Store, opts *ScanOptions) (scan.Resumable, error) {
	if st == nil {
		return scan.Resumable{}, errors.New("resume: a scan can only be resumed from the database")
	}
	prev, err := scan.LatestCheckpoint(ctx, st)
	if err != nil {
		return prev, err
	}
	cfg := &opts.Config
	if len(cfg.Targets) > 0 && !slices.Equal(cfg.Targets, prev.Targets) {
		return prev, fmt.Errorf("resume: %w (%v)", ErrResumeTargets, prev.Targets)
	}
	cfg.Targets, cfg.Blocklist, cfg.Allowlist = prev.Targets, prev.Blocklist, prev.Allowlist
	cfg.Ports, cfg.TCPPorts, cfg.UDPPorts = nil, nil, nil
	if prev.Ports != "" {
		if cfg.Ports, err = target.ParsePorts(prev.Ports); err != nil {
			return prev, fmt.Errorf("resume: ports: %w", err)
		}
	}
	cp := prev.Checkpoint
	cfg.Seed, cfg.Shard, cfg.Shards, cfg.Start, cfg.Pending = cp.Seed, cp.Shard, cp.Shards, cp.Position, cp.Pending
	opts.Ports = prev.Ports
	opts.From = &prev
	return prev, nil
}

// Scan runs the scan stage for run: discovery, handshakes and fingerprints,
// services stored in batches. Each checkpoint commits in the transaction
// that stores the services found before it, so a scan killed at any point
// and resumed finds every service an uninterrupted scan finds.
func Scan(ctx context.Context, st *store.Store, run *Run, opts ScanOptions) (ScanResult, error) {
	var res ScanResult
	if opts.From != nil {
		res.Resumed = opts.From.RunID
	}
	if !run.Recorded() {
		st = nil
	}
	cfg := opts.Config
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	if cfg.Seed == 0 { // fixed now, so that the checkpoint can name it
		cfg.Seed = scan.NewSeed()
	}
	resumable := scan.Resumable{RunID: run.ID, Targets: cfg.Targets, Ports: opts.Ports, Blocklist: cfg.Blocklist, Allowlist: cfg.Allowlist}
	batch := NewBatch(st, func(ctx context.Context, tx *sql.Tx, svcs []model.Service) error {
		return st.SaveServicesTx(ctx, tx, run.ID, svcs)
	})
	if st != nil {
		if res.Resumed != 0 {
			// The resumed scan and the one it continues are one logical
			// scan for the report, the API and `runs`.
			if err := st.SetRunParent(ctx, run.ID, res.Resumed); err != nil {
				return res, err
			}
			run.Parent = res.Resumed
			// The new run takes the old one's place: its first checkpoint is
			// the old one, and the old one is no longer resumable.
			r := resumable
			r.Checkpoint = opts.From.Checkpoint
			err := batch.Flush(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if err := scan.SaveCheckpoint(ctx, st, tx, r); err != nil {
					return err
				}
				return scan.DropCheckpoint(ctx, st, tx, res.Resumed)
			})
			if err != nil {
				return res, err
			}
		}
		cfg.Checkpoint = func(cp scan.Checkpoint) {
			r := resumable
			r.Checkpoint = cp
			err := batch.Flush(ctx, func(ctx context.Context, tx *sql.Tx) error { return scan.SaveCheckpoint(ctx, st, tx, r) })
			if err != nil {
				cfg.Logger.Warn("checkpoint not saved", "err", err)
			}
		}
	}
	stats, err := scan.Run(ctx, cfg, func(s model.Service) error {
		s.Time = run.At(s.Time)
		if opts.Emit != nil {
			if err := opts.Emit(s); err != nil {
				return err
			}
		}
		if opts.SuccessOnly && s.Status != model.StatusSuccess {
			return nil
		}
		return batch.Add(ctx, s)
	})
	res.Stats = stats
	// scan.Run has taken its last checkpoint with the rest of the batch; an
	// error before that leaves services queued.
	var commit func(context.Context, *sql.Tx) error
	if err == nil {
		commit = opts.Commit
	}
	ferr := batch.Flush(ctx, commit)
	res.Stored = batch.Saved()
	run.Count("items", int64(stats.Items))
	run.Count("open", stats.Open)
	run.Count("services", stats.Emitted)
	for k, v := range stats.ByStatus {
		run.Count(string(k), v)
	}
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted at position %d (%d pending): %w", stats.Position, len(stats.Pending), err)
	}
	return res, errors.Join(err, ferr)
}
