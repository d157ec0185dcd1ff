package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"iotwatch/internal/model"
)

// StartRun records the start of a run and sets run.ID.
func (s *Store) StartRun(ctx context.Context, run *model.Run) error {
	if run.StartedAt.IsZero() {
		run.StartedAt = time.Now()
	}
	if run.Status == "" {
		run.Status = model.RunRunning
	}
	targets, _ := json.Marshal(nonNil(run.Targets))
	stages, _ := json.Marshal(nonNil(run.Stages))
	err := s.db.QueryRowContext(ctx, s.Rebind(
		`INSERT INTO runs (kind, targets, stages, status, started_at) VALUES (?, ?, ?, ?, ?) RETURNING id`),
		run.Kind, string(targets), string(stages), run.Status, Time(run.StartedAt)).Scan(&run.ID)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	return nil
}

// FinishRun records the end state of a run: status, stages, counts, error.
// It uses its own short context so that a run cancelled by a signal is still
// recorded as interrupted.
func (s *Store) FinishRun(ctx context.Context, run *model.Run) error {
	if run.EndedAt.IsZero() {
		run.EndedAt = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	stages, _ := json.Marshal(nonNil(run.Stages))
	counts, _ := json.Marshal(run.Counts)
	if run.Counts == nil {
		counts = []byte("{}")
	}
	_, err := s.db.ExecContext(ctx, s.Rebind(
		`UPDATE runs SET status = ?, stages = ?, ended_at = ?, counts = ?, error = ? WHERE id = ?`),
		run.Status, string(stages), Time(run.EndedAt), string(counts), run.Error, run.ID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", run.ID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// MarkStaleRuns marks runs left "running" by a killed process as interrupted.
// It returns how many were marked.
func (s *Store) MarkStaleRuns(ctx context.Context, olderThan time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.Rebind(
		`UPDATE runs SET status = ?, error = 'process ended before the run finished' WHERE status = ? AND started_at < ?`),
		model.RunInterrupted, model.RunRunning, Time(olderThan))
	if err != nil {
		return 0, fmt.Errorf("mark stale runs: %w", err)
	}
	return res.RowsAffected()
}

const runCols = `id, kind, targets, stages, status, started_at, ended_at, counts, error`

func scanRun(sc interface{ Scan(...any) error }) (model.Run, error) {
	var r model.Run
	var targets, stages, started, ended, counts string
	if err := sc.Scan(&r.ID, &r.Kind, &targets, &stages, &r.Status, &started, &ended, &counts, &r.Error); err != nil {
		return r, err
	}
	json.Unmarshal([]byte(targets), &r.Targets)
	json.Unmarshal([]byte(stages), &r.Stages)
	json.Unmarshal([]byte(counts), &r.Counts)
	r.StartedAt, r.EndedAt = ParseTime(started), ParseTime(ended)
	return r, nil
}

// Run returns one run by id.
func (s *Store) Run(ctx context.Context, id int64) (model.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, s.Rebind(`SELECT `+runCols+` FROM runs WHERE id = ?`), id))
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
	r, err := scanRun(s.db.QueryRowContext(ctx, s.Rebind(q), args...))
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
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
