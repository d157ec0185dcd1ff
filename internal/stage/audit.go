package stage

import (
	"context"
	"database/sql"
	"time"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/store"
)

// AuditOptions describe an audit stage.
type AuditOptions struct {
	// Config is how to audit; Config.Allowed decides which addresses may be
	// tried (nil: none).
	Config audit.Config
	// Emit, when set, sees every result (one at a time) before it is stored.
	Emit func(model.CredentialResult) error
	// Commit, when set, runs in the transaction of the last batch when the
	// audit finished without error (a job's completion: see ScanOptions).
	Commit func(context.Context, *sql.Tx) error
}

// AuditResult is what an audit stage did.
type AuditResult struct {
	Stats    audit.Stats
	Surfaces int // login services audited
	Results  []model.CredentialResult
}

// Audit tries default and weak credentials on the login surfaces among
// services — those whose protocol the audit speaks, on allowed addresses —
// and stores the results as run's in batches as they come (every 100 or
// 2 s), the last batch also when the audit is interrupted.
func Audit(ctx context.Context, st *store.Store, run *Run, services []model.Service, opts AuditOptions) (AuditResult, error) {
	var res AuditResult
	allowed := opts.Config.Allowed
	var surfaces []model.Service
	for _, s := range services {
		if protocol.Lookup(s.Protocol).Login && allowed != nil && allowed(s.IP) {
			surfaces = append(surfaces, s)
		}
	}
	res.Surfaces = len(surfaces)
	if !run.Recorded() {
		st = nil
	}
	batch := NewBatch(st, func(ctx context.Context, tx *sql.Tx, rs []model.CredentialResult) error {
		return st.SaveCredentialsTx(ctx, tx, run.ID, rs)
	})
	batch.Size, batch.Every = 100, 2*time.Second
	stats, err := audit.Run(ctx, opts.Config, surfaces, func(r model.CredentialResult) error {
		r.Time = run.At(r.Time)
		res.Results = append(res.Results, r)
		if opts.Emit != nil {
			if err := opts.Emit(r); err != nil {
				return err
			}
		}
		return batch.Add(ctx, r)
	})
	var commit func(context.Context, *sql.Tx) error
	if err == nil {
		commit = opts.Commit
	}
	if ferr := batch.Flush(ctx, commit); err == nil {
		err = ferr
	}
	res.Stats = stats
	run.Count("audited", int64(stats.Audited))
	run.Count("attempts", stats.Attempts)
	run.Count("found", int64(stats.Found))
	run.Count("lockouts", int64(stats.Lockouts))
	run.Count("unknown", int64(stats.Unknown))
	return res, err
}
