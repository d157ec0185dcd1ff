package flow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"iotwatch/internal/store"
)

// Input is one file input as ingested: which bytes of which file a run read.
// Size counts bytes from the file's start and SHA256 is their digest, so the
// same bytes ingested again are recognised whatever the file is now called,
// and a file that grew since is recognised by its unchanged prefix.
type Input struct {
	Kind   string    `json:"kind"`
	Path   string    `json:"path"` // absolute
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	RunID  int64     `json:"run_id"`
	Time   time.Time `json:"ingested"`
}

// IngestedInput returns the input of this kind recorded with exactly these
// bytes, or nil. The kind is part of the identity: the same bytes named as
// another format are not a repeat but a mistake the reader must report.
func IngestedInput(ctx context.Context, st *store.Store, kind, sha256 string, size int64) (*Input, error) {
	in := Input{SHA256: sha256, Size: size}
	var t string
	err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT kind, path, run_id, ingested FROM flow_inputs WHERE sha256 = ? AND size = ? AND kind = ?`),
		sha256, size, kind).Scan(&in.Kind, &in.Path, &in.RunID, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up ingested input: %w", err)
	}
	in.Time = store.ParseTime(t)
	return &in, nil
}

// InputOfSizeRecorded reports whether any input of exactly size bytes was
// recorded: when none was, a file of that size cannot have been ingested.
func InputOfSizeRecorded(ctx context.Context, st *store.Store, size int64) (bool, error) {
	var n int
	err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT COUNT(*) FROM flow_inputs WHERE size = ?`), size).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up ingested inputs: %w", err)
	}
	return n > 0, nil
}

// InputsAt returns the inputs recorded for a path, smallest first.
func InputsAt(ctx context.Context, st *store.Store, path string) ([]Input, error) {
	rows, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT kind, size, sha256, run_id, ingested FROM flow_inputs WHERE path = ? ORDER BY size`), path)
	if err != nil {
		return nil, fmt.Errorf("read ingested inputs of %s: %w", path, err)
	}
	defer rows.Close()
	var out []Input
	for rows.Next() {
		in := Input{Path: path}
		var t string
		if err := rows.Scan(&in.Kind, &in.Size, &in.SHA256, &in.RunID, &t); err != nil {
			return nil, err
		}
		in.Time = store.ParseTime(t)
		out = append(out, in)
	}
	return out, rows.Err()
}

// saveInputs records inputs under runID inside tx; bytes already recorded
// keep their first run.
func saveInputs(ctx context.Context, st *store.Store, tx *sql.Tx, runID int64, ins []Input) error {
	return insertRows(ctx, st, tx, `INSERT INTO flow_inputs (kind, path, size, sha256, run_id, ingested) VALUES (?,?,?,?,?,?)
		ON CONFLICT (sha256, size) DO NOTHING`, func(exec func(...any) error) error {
		for _, in := range ins {
			if err := exec(in.Kind, in.Path, in.Size, in.SHA256, runID, store.Time(in.Time)); err != nil {
				return err
			}
		}
		return nil
	})
}

// IngestedMeanwhileError is Save's refusal to store a result when one of
// its inputs was recorded by another run after this one began: two
// processes ingested the same file at the same time, and storing both
// would count its records twice. Nothing of the result is stored; reading
// the inputs again skips those recorded (see IngestedInput).
type IngestedMeanwhileError struct {
	Input Input // as this run read it
	RunID int64 // the run that recorded it
}

func (e *IngestedMeanwhileError) Error() string {
	return fmt.Sprintf("input %s was ingested meanwhile by run %d (another process): nothing stored from this run", e.Input.Path, e.RunID)
}

// claimInputs fails with *IngestedMeanwhileError when one of ins is already
// recorded, inside Save's transaction and before it writes: SQLite's
// transaction holds the database's write lock from its start, and on
// PostgreSQL a transaction lock per input keeps a concurrent Save of the
// same input waiting until this one commits or rolls back.
func claimInputs(ctx context.Context, st *store.Store, tx *sql.Tx, ins []Input) error {
	if st.Dialect() == store.Postgres {
		keys := make([]string, 0, len(ins))
		for _, in := range ins {
			keys = append(keys, fmt.Sprintf("iotwatch.flow_input.%s.%d", in.SHA256, in.Size))
		}
		slices.Sort(keys) // one order for every process: no deadlock
		for _, k := range slices.Compact(keys) {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, k); err != nil {
				return fmt.Errorf("lock ingested input: %w", err)
			}
		}
	}
	for _, in := range ins {
		var run int64
		err := tx.QueryRowContext(ctx, st.Rebind(`SELECT run_id FROM flow_inputs WHERE sha256 = ? AND size = ?`), in.SHA256, in.Size).Scan(&run)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up ingested input: %w", err)
		}
		return &IngestedMeanwhileError{Input: in, RunID: run}
	}
	return nil
}
