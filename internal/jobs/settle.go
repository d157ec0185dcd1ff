package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// The end of a sharded scan. Every shard holds some ports of every host
// (the shards split the permuted (address, port) space), so batches per
// shard would each audit a piece of most hosts and take turns on their
// leases. Instead, once the last of its shards has reached a final state
// (completed, or discarded after its last attempt, or cancelled), the scan
// is settled, once: the audit is enqueued over the services its completed
// shards found, split by host (batch i of n audits the hosts whose address
// hashes to i, with their services from every completed shard, and no two
// batches share a host), and the shards lost are recorded in scan_groups
// and on the scan's run, which is marked failed with them as its error
// (the report shows the run incomplete, not silently whole).
//
// Two paths settle a scan, whichever sees it first: the shard that
// completes last, in the transaction of its completion, and every worker's
// sweep (Work, every ScheduleEvery), which sees the shards River discarded
// or a user cancelled (River finalises those without calling our code).
// Both lock the scan's row first, and the row's settled_at makes the
// second a no-op: one audit, however late a retried shard completes.

// finalStates are River's states a job does not leave.
var finalStates = []string{"completed", "cancelled", "discarded"}

// recordGroupTx stores the shard jobs of the scan whose run is group.
func recordGroupTx(ctx context.Context, st *store.Store, tx *sql.Tx, group int64, req ScanRequest, jobs []int64) error {
	ids, _ := json.Marshal(jobs)
	r, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, st.Rebind(`INSERT INTO scan_groups (run_id, jobs, request) VALUES (?, ?, ?)`), group, string(ids), string(r)); err != nil {
		return fmt.Errorf("record shards of scan run %d: %w", group, err)
	}
	return nil
}

// settleTx settles the scan whose run is group in tx if every shard has
// reached a final state and no one settled it yet, and returns the audit
// batches to enqueue with it (none otherwise). self is the shard job
// completing in tx (its row is still running), 0 for the sweep.
func settleTx(ctx context.Context, st *store.Store, tx *sql.Tx, group, self int64) ([]river.InsertManyParams, error) {
	q := `SELECT jobs, request, settled_at FROM scan_groups WHERE run_id = ?`
	if st.Dialect() == store.Postgres {
		q += ` FOR UPDATE` // the transaction's later reads see what committed before the lock was granted
	}
	var rawJobs, rawReq string
	var settled sql.NullInt64
	if err := tx.QueryRowContext(ctx, st.Rebind(q), group).Scan(&rawJobs, &rawReq, &settled); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil // submitted before scan_groups: nothing to settle
		}
		return nil, fmt.Errorf("scan run %d: %w", group, err)
	}
	if settled.Valid {
		return nil, nil
	}
	var shardJobs []int64
	var req ScanRequest
	if err := errors.Join(json.Unmarshal([]byte(rawJobs), &shardJobs), json.Unmarshal([]byte(rawReq), &req)); err != nil {
		return nil, fmt.Errorf("scan run %d: %w", group, err)
	}
	states, err := jobStates(ctx, st, tx, shardJobs)
	if err != nil {
		return nil, err
	}
	runs, err := jobRunsTx(ctx, st, tx, shardJobs)
	if err != nil {
		return nil, err
	}
	var done []int64
	var lost []spec.LostShard
	for shard, id := range shardJobs {
		state, ok := states[id]
		switch {
		case id == self:
			state = "completed"
		case !ok:
			state = "removed" // River's cleaner deletes finalised jobs after a day
		case !slices.Contains(finalStates, state):
			return nil, nil // a shard may still run
		}
		run := runs[id]
		if state == "completed" || (state == "removed" && run.status == model.RunComplete) {
			done = append(done, run.id)
			continue
		}
		lost = append(lost, spec.LostShard{Shard: shard, Job: id, State: state})
	}
	var rawLost any
	if len(lost) > 0 {
		b, _ := json.Marshal(lost)
		rawLost = string(b)
	}
	res, err := tx.ExecContext(ctx, st.Rebind(`UPDATE scan_groups SET settled_at = ?, lost = ? WHERE run_id = ? AND settled_at IS NULL`),
		time.Now().UnixMilli(), rawLost, group)
	if err != nil {
		return nil, fmt.Errorf("settle scan run %d: %w", group, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	if len(lost) > 0 {
		var names []string
		for _, l := range lost {
			names = append(names, fmt.Sprintf("shard %d (job %d, %s)", l.Shard, l.Job, l.State))
		}
		msg := fmt.Sprintf("incomplete: %d of %d shards lost: %s; the audit covers the other %d", len(lost), len(shardJobs), strings.Join(names, ", "), len(done))
		if _, err := tx.ExecContext(ctx, st.Rebind(`UPDATE runs SET status = ?, error = ? WHERE id = ?`), model.RunFailed, msg, group); err != nil {
			return nil, fmt.Errorf("mark scan run %d incomplete: %w", group, err)
		}
	}
	if req.Audit == nil || len(done) == 0 {
		return nil, nil
	}
	slices.Sort(done)
	return auditBatches(ctx, st, tx, group, req, done)
}

// auditBatches returns the audit of the services scan runs found, split
// by host into as many batches as the scan has shards (at most one a host).
func auditBatches(ctx context.Context, st *store.Store, tx *sql.Tx, group int64, req ScanRequest, runs []int64) ([]river.InsertManyParams, error) {
	in := strings.TrimSuffix(strings.Repeat("?,", len(runs)), ",")
	args := []any{model.StatusSuccess}
	for _, r := range runs {
		args = append(args, r)
	}
	var hosts int
	if err := tx.QueryRowContext(ctx, st.Rebind(`SELECT COUNT(DISTINCT ip) FROM services WHERE status = ? AND run_id IN (`+in+`)`), args...).Scan(&hosts); err != nil {
		return nil, fmt.Errorf("hosts of scan run %d: %w", group, err)
	}
	parts := max(min(req.Shards, hosts), 1)
	out := make([]river.InsertManyParams, parts)
	for i := range out {
		out[i] = river.InsertManyParams{Args: AuditArgs{Runs: runs, Part: i, Parts: parts, Group: group, Targets: req.Targets, Audit: *req.Audit}}
	}
	return out, nil
}

// jobStates returns River's state of each job of ids that still has a row.
func jobStates(ctx context.Context, st *store.Store, tx *sql.Tx, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	err := eachRow(ctx, tx, st.Rebind(`SELECT id, state FROM river_job WHERE id IN (`+placeholders(len(ids))+`)`), anys(ids), func(r *sql.Rows) error {
		var id int64
		var s string
		if err := r.Scan(&id, &s); err != nil {
			return err
		}
		out[id] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("states of jobs %v: %w", ids, err)
	}
	return out, nil
}

type jobRunRow struct {
	id     int64
	status string
}

// jobRunsTx returns the run of each job of ids that started one.
func jobRunsTx(ctx context.Context, st *store.Store, tx *sql.Tx, ids []int64) (map[int64]jobRunRow, error) {
	out := map[int64]jobRunRow{}
	q := `SELECT j.job_id, r.id, r.status FROM job_runs j JOIN runs r ON r.id = j.run_id WHERE j.job_id IN (` + placeholders(len(ids)) + `)`
	err := eachRow(ctx, tx, st.Rebind(q), anys(ids), func(r *sql.Rows) error {
		var id int64
		var jr jobRunRow
		if err := r.Scan(&id, &jr.id, &jr.status); err != nil {
			return err
		}
		out[id] = jr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("runs of jobs %v: %w", ids, err)
	}
	return out, nil
}

func eachRow(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args []any, f func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// sweep settles every open scan whose shards have all reached a final
// state, enqueuing their audits through client (a worker's).
func (c *Client) sweep(ctx context.Context, client *river.Client[*sql.Tx]) error {
	var open []int64
	err := eachRow(ctx, c.st.DB(), `SELECT run_id FROM scan_groups WHERE settled_at IS NULL ORDER BY run_id`, nil, func(r *sql.Rows) error {
		var id int64
		err := r.Scan(&id)
		open = append(open, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("open scans: %w", err)
	}
	for _, group := range open {
		err := c.st.Tx(ctx, func(tx *sql.Tx) error {
			next, err := settleTx(ctx, c.st, tx, group, 0)
			if err != nil || len(next) == 0 {
				return err
			}
			if _, err := client.InsertManyTx(ctx, tx, next); err != nil {
				return fmt.Errorf("enqueue the audit of scan run %d: %w", group, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// lostShards returns the shards lost by the scan whose run is group.
func lostShards(ctx context.Context, st *store.Store, group int64) ([]spec.LostShard, error) {
	var raw sql.NullString
	err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT lost FROM scan_groups WHERE run_id = ?`), group).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !raw.Valid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lost shards of scan run %d: %w", group, err)
	}
	var out []spec.LostShard
	if err := json.Unmarshal([]byte(raw.String), &out); err != nil {
		return nil, fmt.Errorf("lost shards of scan run %d: %w", group, err)
	}
	return out, nil
}
