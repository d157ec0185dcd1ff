package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"iotwatch/internal/model"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// LeaseTTL is how long a host stays leased to an audit batch whose worker
// died without releasing it (its retry takes the lease back at once).
var LeaseTTL = 15 * time.Minute

// DeferAfter is how long a follow-up batch of hosts leased by another
// batch waits before it runs.
var DeferAfter = 2 * time.Second

type auditWorker struct {
	river.WorkerDefaults[AuditArgs]
	c *Client
	w *worker
}

func (w *auditWorker) Work(ctx context.Context, job *river.Job[AuditArgs]) error {
	st, a := w.c.st, job.Args
	allowed, err := allowedBy(ctx, a.Targets)
	if err != nil {
		return river.JobCancel(err)
	}
	svcs, err := batchServices(ctx, st, a)
	if err != nil {
		return err
	}
	if len(a.Hosts) > 0 {
		svcs = slices.DeleteFunc(svcs, func(s model.Service) bool { return !slices.Contains(a.Hosts, s.IP.String()) })
	}
	var hosts []string
	for _, s := range svcs {
		if h := s.IP.String(); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	run, _, err := startRun(ctx, st, job.ID, a.Group, "audit", a.Targets, []string{"audit"})
	if err != nil {
		return err
	}
	got, busy, err := lease(ctx, st, job.ID, hosts)
	if err != nil {
		return run.Finish(ctx, err)
	}
	svcs = slices.DeleteFunc(svcs, func(s model.Service) bool { return !slices.Contains(got, s.IP.String()) })
	cfg := auditConfig(a.Audit)
	cfg.Allowed, cfg.Logger = allowed, w.c.log
	opts := stage.AuditOptions{Config: cfg}
	opts.Commit = func(ctx context.Context, tx *sql.Tx) error {
		if len(busy) > 0 {
			rest := a
			rest.Hosts = busy
			err := follow(ctx, tx, []river.InsertManyParams{{Args: rest, InsertOpts: &river.InsertOpts{ScheduledAt: time.Now().Add(DeferAfter)}}})
			if err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, st.Rebind(`DELETE FROM audit_host_leases WHERE job_id = ?`), job.ID); err != nil {
			return fmt.Errorf("release audited hosts: %w", err)
		}
		run.Status, run.Error = model.RunComplete, ""
		if err := st.FinishRunTx(ctx, tx, &run.Run); err != nil {
			return err
		}
		return complete(ctx, tx, job)
	}
	// Commit runs in the last batch's transaction even when there was
	// nothing to audit.
	_, err = stage.Audit(ctx, st, run, svcs, opts)
	return run.Finish(ctx, err)
}

// lease takes the hosts no other running audit batch holds for job id (its
// own leases, from an earlier attempt, included) and returns them and the
// busy rest.
func lease(ctx context.Context, st *store.Store, job int64, hosts []string) (got, busy []string, err error) {
	now := time.Now()
	err = st.Tx(ctx, func(tx *sql.Tx) error {
		got, busy = got[:0], busy[:0]
		q := st.Rebind(`INSERT INTO audit_host_leases (ip, job_id, expires_at) VALUES (?, ?, ?)
ON CONFLICT (ip) DO UPDATE SET job_id = excluded.job_id, expires_at = excluded.expires_at
WHERE audit_host_leases.job_id = excluded.job_id OR audit_host_leases.expires_at < ?`)
		for _, h := range hosts {
			res, err := tx.ExecContext(ctx, q, h, job, now.Add(LeaseTTL).UnixMilli(), now.UnixMilli())
			if err != nil {
				return fmt.Errorf("lease host %s: %w", h, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				got = append(got, h)
			} else {
				busy = append(busy, h)
			}
		}
		return nil
	})
	return got, busy, err
}

// batchServices returns the services batch a audits: those of its run, or
// of its runs on the hosts of its part.
func batchServices(ctx context.Context, st *store.Store, a AuditArgs) ([]model.Service, error) {
	if len(a.Runs) == 0 {
		return st.Services(ctx, a.Run)
	}
	var out []model.Service
	for _, r := range a.Runs {
		svcs, err := st.Services(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			if hostPart(s.IP, a.Parts) == a.Part {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// hostPart is the part of n an address belongs to.
func hostPart(ip netip.Addr, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	b := ip.As16()
	_, _ = h.Write(b[:])
	return int(h.Sum32() % uint32(n))
}
