package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"iotwatch/internal/model"
)

// HeartbeatInterval is how often the process that owns a running run
// records that it is alive; StaleAfter is how old a heartbeat may get before
// the run counts as abandoned (its process is gone, wherever it ran).
const (
	HeartbeatInterval = 10 * time.Second
	StaleAfter        = 2 * time.Minute
)

// Empty reports whether the store holds no run and no asset, as a store
// just created does.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	var some bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM runs) OR EXISTS (SELECT 1 FROM assets)`).Scan(&some)
	if err != nil {
		return false, fmt.Errorf("read runs: %w", err)
	}
	return !some, nil
}

// StartRun records the start of a run, owned by this process on this host,
// and sets run.ID. Until FinishRun the store records a heartbeat for it every
// HeartbeatInterval. Runs left running by processes that are gone are marked
// abandoned on the way.
func (s *Store) StartRun(ctx context.Context, run *model.Run) error {
	if run.StartedAt.IsZero() {
		run.StartedAt = time.Now()
	}
	if run.Status == "" {
		run.Status = model.RunRunning
	}
	// The heartbeat is the real clock's, even for a run recorded as
	// started earlier (stage.StartAt), so that it is not taken for abandoned.
	run.Host, run.PID, run.Heartbeat = s.host, os.Getpid(), time.Now()
	if _, err := s.MarkAbandoned(ctx); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	// The run's evidence goes to the partitions of the day it starts.
	if err := s.EnsurePartitions(ctx, run.StartedAt, run.StartedAt); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	targets, _ := json.Marshal(nonNil(run.Targets))
	stages, _ := json.Marshal(nonNil(run.Stages))
	err := s.db.QueryRowContext(ctx, s.Rebind(
		`INSERT INTO runs (kind, targets, stages, status, started_at, host, pid, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		run.Kind, string(targets), string(stages), run.Status, Time(run.StartedAt), run.Host, run.PID, Time(run.Heartbeat)).Scan(&run.ID)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	s.runDays.Store(run.ID, dayOf(run.StartedAt))
	if run.Status == model.RunRunning {
		s.startHeartbeat(run.ID)
	}
	return nil
}

// RecordRunTx records run, which has ended (a run that stands for work done
// by others: a submitted scan whose shards are jobs), in tx and sets its ID.
func (s *Store) RecordRunTx(ctx context.Context, tx *sql.Tx, run *model.Run) (int64, error) {
	now := time.Now()
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if run.EndedAt.IsZero() {
		run.EndedAt = now
	}
	run.Host, run.PID = s.host, os.Getpid()
	targets, _ := json.Marshal(nonNil(run.Targets))
	stages, _ := json.Marshal(nonNil(run.Stages))
	counts, _ := json.Marshal(run.Counts)
	if run.Counts == nil {
		counts = []byte("{}")
	}
	err := tx.QueryRowContext(ctx, s.Rebind(
		`INSERT INTO runs (kind, targets, stages, status, started_at, ended_at, counts, host, pid, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		run.Kind, string(targets), string(stages), run.Status, Time(run.StartedAt), Time(run.EndedAt), string(counts),
		run.Host, run.PID, Time(run.EndedAt)).Scan(&run.ID)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return run.ID, nil
}

// startHeartbeat keeps run id's heartbeat fresh until stopHeartbeat or Close.
func (s *Store) startHeartbeat(id int64) {
	ctx, cancel := context.WithCancel(context.Background())
	s.hbMu.Lock()
	s.heartbeats[id] = cancel
	s.hbMu.Unlock()
	s.hbWG.Add(1)
	go func() {
		defer s.hbWG.Done()
		tick := time.NewTicker(s.heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A heartbeat that cannot be written now (a long write of
			// another goroutine) is skipped; the next one follows.
			hctx, hcancel := context.WithTimeout(ctx, s.heartbeatEvery)
			_, _ = s.db.ExecContext(hctx, s.Rebind(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = ?`),
				Time(time.Now()), id, model.RunRunning)
			hcancel()
		}
	}()
}

func (s *Store) stopHeartbeat(id int64) {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	if cancel := s.heartbeats[id]; cancel != nil {
		cancel()
		delete(s.heartbeats, id)
	}
}

// FinishRun records the end state of a run: status, stages, counts, error.
// It uses its own short context so that a run cancelled by a signal is still
// recorded as interrupted. Then it brings the device inventory up to date
// (IndexDevices), unless ctx has ended.
func (s *Store) FinishRun(ctx context.Context, run *model.Run) error {
	octx := ctx
	s.stopHeartbeat(run.ID)
	if run.EndedAt.IsZero() {
		run.EndedAt = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.finishRun(ctx, s.db, run); err != nil {
		return err
	}
	if octx.Err() != nil { // interrupted: the next run to end indexes it
		return nil
	}
	return s.IndexDevices(octx)
}

// FinishRunTx records the end state of run in the caller's transaction tx,
// with what tx commits (a job's last results and its completion). The
// heartbeat goes on, and the device inventory waits, until FinishRun, which
// may follow with the same state.
func (s *Store) FinishRunTx(ctx context.Context, tx *sql.Tx, run *model.Run) error {
	if run.EndedAt.IsZero() {
		run.EndedAt = time.Now()
	}
	return s.finishRun(ctx, tx, run)
}

func (s *Store) finishRun(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, run *model.Run) error {
	stages, _ := json.Marshal(nonNil(run.Stages))
	counts, _ := json.Marshal(run.Counts)
	if run.Counts == nil {
		counts = []byte("{}")
	}
	_, err := db.ExecContext(ctx, s.Rebind(
		`UPDATE runs SET status = ?, stages = ?, ended_at = ?, counts = ?, error = ? WHERE id = ?`),
		run.Status, string(stages), Time(run.EndedAt), string(counts), run.Error, run.ID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", run.ID, err)
	}
	return nil
}

// ReopenRun makes run id, which ended or lost its process, running again
// and owned by this process (a job retried after its worker died carries on
// with the run its first attempt started, so that what it stores again
// replaces, not duplicates, what was stored before). It returns the run.
func (s *Store) ReopenRun(ctx context.Context, id int64) (model.Run, error) {
	now := time.Now()
	_, err := s.db.ExecContext(ctx, s.Rebind(
		`UPDATE runs SET status = ?, ended_at = '', error = '', host = ?, pid = ?, heartbeat_at = ? WHERE id = ?`),
		model.RunRunning, s.host, os.Getpid(), Time(now), id)
	if err != nil {
		return model.Run{}, fmt.Errorf("reopen run %d: %w", id, err)
	}
	r, err := s.Run(ctx, id)
	if err != nil {
		return r, err
	}
	s.hbMu.Lock()
	_, beating := s.heartbeats[id]
	s.hbMu.Unlock()
	if !beating {
		s.startHeartbeat(id)
	}
	return r, nil
}

// RunStatus is the status a run ends with after err: complete when err is
// nil, interrupted when its context was cancelled (Ctrl-C, SIGTERM) or ran
// out of time, failed otherwise.
func RunStatus(err error) string {
	switch {
	case err == nil:
		return model.RunComplete
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return model.RunInterrupted
	default:
		return model.RunFailed
	}
}

// EndRun records that run ended with err (status by RunStatus, error text)
// and returns err joined with any error of recording it. It records even
// when ctx is cancelled.
func (s *Store) EndRun(ctx context.Context, run *model.Run, err error) error {
	run.Status, run.Error = RunStatus(err), ""
	if err != nil {
		run.Error = err.Error()
	}
	if ferr := s.FinishRun(ctx, run); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// abandoned reports whether running run r has lost its owner, and why: its
// heartbeat (or, for runs recorded before heartbeats, its start) is older
// than StaleAfter, or it ran on this host in a process that no longer exists.
func (s *Store) abandoned(r model.Run, now time.Time) (bool, string) {
	if r.Status != model.RunRunning {
		return false, ""
	}
	if r.Host == s.host && r.PID == os.Getpid() {
		s.hbMu.Lock()
		_, mine := s.heartbeats[r.ID]
		s.hbMu.Unlock()
		if mine {
			return false, ""
		}
	}
	last := r.Heartbeat
	if last.IsZero() {
		last = r.StartedAt
	}
	if r.Host != "" && r.Host == s.host && r.PID > 0 && r.PID != os.Getpid() && !processAlive(r.PID) {
		return true, fmt.Sprintf("process %d on %s ended without finishing the run", r.PID, r.Host)
	}
	if now.Sub(last) > StaleAfter {
		return true, fmt.Sprintf("no heartbeat since %s", last.UTC().Format(time.RFC3339))
	}
	return false, ""
}

// MarkAbandoned records every running run whose owner is gone (see
// abandoned) as abandoned, ended at its last heartbeat. It returns how many
// it marked. Queries show such runs as abandoned even before they are marked.
func (s *Store) MarkAbandoned(ctx context.Context) (int64, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT `+runCols+` FROM runs WHERE status = ?`), model.RunRunning)
	if err != nil {
		return 0, fmt.Errorf("mark abandoned runs: %w", err)
	}
	var gone []model.Run
	now := time.Now()
	for rows.Next() {
		r, err := scanRunRaw(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("mark abandoned runs: %w", err)
		}
		if ok, why := s.abandoned(r, now); ok {
			r.Error = why
			gone = append(gone, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("mark abandoned runs: %w", err)
	}
	var n int64
	for _, r := range gone {
		ended := r.Heartbeat
		if ended.IsZero() {
			ended = r.StartedAt
		}
		res, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ? AND status = ?`),
			model.RunAbandoned, r.Error, Time(ended), r.ID, model.RunRunning)
		if err != nil {
			return n, fmt.Errorf("mark run %d abandoned: %w", r.ID, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

const runCols = `id, kind, targets, stages, status, started_at, ended_at, counts, error, host, pid, heartbeat_at, parent_run`

// scanRunRaw reads a run as stored.
func scanRunRaw(sc interface{ Scan(...any) error }) (model.Run, error) {
	var r model.Run
	var targets, stages, started, ended, counts, heartbeat string
	if err := sc.Scan(&r.ID, &r.Kind, &targets, &stages, &r.Status, &started, &ended, &counts, &r.Error,
		&r.Host, &r.PID, &heartbeat, &r.Parent); err != nil {
		return r, err
	}
	for _, f := range []struct {
		name, raw string
		into      any
	}{{"targets", targets, &r.Targets}, {"stages", stages, &r.Stages}, {"counts", counts, &r.Counts}} {
		if err := json.Unmarshal([]byte(f.raw), f.into); err != nil {
			return r, fmt.Errorf("run %d %s: %w", r.ID, f.name, err)
		}
	}
	r.StartedAt, r.EndedAt, r.Heartbeat = ParseTime(started), ParseTime(ended), ParseTime(heartbeat)
	return r, nil
}

// scanRun reads a run as it stands: a running run whose owner is gone is
// shown abandoned, whether or not MarkAbandoned has recorded it yet.
func (s *Store) scanRun(sc interface{ Scan(...any) error }) (model.Run, error) {
	r, err := scanRunRaw(sc)
	if err != nil {
		return r, err
	}
	if ok, why := s.abandoned(r, time.Now()); ok {
		r.Status = model.RunAbandoned
		if r.Error == "" {
			r.Error = why
		}
	}
	return r, nil
}

// Run returns one run by id.
func (s *Store) Run(ctx context.Context, id int64) (model.Run, error) {
	r, err := s.scanRun(s.db.QueryRowContext(ctx, s.Rebind(`SELECT `+runCols+` FROM runs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

// LatestRun returns the newest run of the given kind ("" for any kind),
// optionally only completed ones.
func (s *Store) LatestRun(ctx context.Context, kind string, completeOnly bool) (model.Run, error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE (? = '' OR kind = ?)`
	args := []any{kind, kind}
	if completeOnly {
		q += ` AND status = ?`
		args = append(args, model.RunComplete)
	}
	q += ` ORDER BY id DESC LIMIT 1`
	r, err := s.scanRun(s.db.QueryRowContext(ctx, s.Rebind(q), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("latest %s run: %w", kind, ErrNotFound)
	}
	return r, err
}

// Runs lists runs, newest first.
func (s *Store) Runs(ctx context.Context, limit int) ([]model.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []model.Run
	for rows.Next() {
		r, err := s.scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
