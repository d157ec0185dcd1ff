package stage

import (
	"cmp"
	"context"
	"database/sql"
	"net/netip"
	"time"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/stats"
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
	// FirmwareAccounts are the accounts analysed firmware images proved,
	// tried first on devices of their product.
	FirmwareAccounts int
	Results          []model.CredentialResult
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
	cfg := opts.Config
	if st != nil {
		// Accounts proven by analysed firmware images go first on the
		// devices of their product, identified from all their services.
		accts, err := st.FirmwareAccounts(ctx)
		if err != nil {
			return res, err
		}
		if len(accts) > 0 {
			cfg.Dict = cmp.Or(cfg.Dict, audit.Builtin()).WithFirmware(accts)
			res.FirmwareAccounts = len(cfg.Dict.Firmware)
		}
	}
	if cfg.Identities == nil {
		byHost := map[netip.Addr][]model.Service{}
		for _, s := range services {
			byHost[s.IP] = append(byHost[s.IP], s)
		}
		cfg.Identities = make(map[netip.Addr]stats.Identity, len(byHost))
		for ip, ss := range byHost {
			cfg.Identities[ip] = stats.Identify(ss)
		}
	}
	if !run.Recorded() {
		st = nil
	}
	batch := NewBatch(st, func(ctx context.Context, tx *sql.Tx, rs []model.CredentialResult) error {
		return st.SaveCredentialsTx(ctx, tx, run.ID, rs)
	})
	batch.Size, batch.Every = 100, 2*time.Second
	ast, err := audit.Run(ctx, cfg, surfaces, func(r model.CredentialResult) error {
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
	res.Stats = ast
	run.Count("audited", int64(ast.Audited))
	run.Count("attempts", ast.Attempts)
	run.Count("found", int64(ast.Found))
	run.Count("lockouts", int64(ast.Lockouts))
	run.Count("unknown", int64(ast.Unknown))
	if res.FirmwareAccounts > 0 {
		run.Count("firmware_accounts", int64(res.FirmwareAccounts))
	}
	return res, err
}
