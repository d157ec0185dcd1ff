package scan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Resumable is what --resume needs to continue a scan: the checkpoint and
// the inputs that define the space (which must not change).
type Resumable struct {
	RunID      int64      `json:"run_id"`
	Checkpoint Checkpoint `json:"checkpoint"`
	Targets    []string   `json:"targets"`
	Ports      string     `json:"ports"`
	Blocklist  []string   `json:"blocklist,omitempty"`
	Allowlist  []string   `json:"allowlist,omitempty"`
}

// SaveCheckpoint records (or updates) the checkpoint of run r.RunID in tx,
// which should be the transaction that stores the services emitted before
// the checkpoint was taken: then the checkpoint never moves past a service
// that is not stored, however the process ends.
func SaveCheckpoint(ctx context.Context, st *store.Store, tx *sql.Tx, r Resumable) error {
	cp := r.Checkpoint
	r.Checkpoint.Pending = nil // kept in its own column, updated with the position
	cfg, err := json.Marshal(r)
	if err != nil {
		return err
	}
	u := strconv.FormatUint
	pending := make([]string, len(cp.Pending))
	for i, p := range cp.Pending {
		pending[i] = u(p, 10)
	}
	q := st.Rebind(`INSERT INTO scan_checkpoints (run_id, seed, shard, shards, position, steps, config, updated_at, pending)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET position = excluded.position, steps = excluded.steps, updated_at = excluded.updated_at,
pending = excluded.pending`)
	_, err = tx.ExecContext(ctx, q, r.RunID, u(cp.Seed, 10), cp.Shard, cp.Shards, u(cp.Position, 10), u(cp.Steps, 10),
		string(cfg), store.Time(time.Now()), strings.Join(pending, ","))
	if err != nil {
		return fmt.Errorf("save scan checkpoint: %w", err)
	}
	return nil
}

// DropCheckpoint removes the checkpoint of run id (in tx): a resumed scan's
// new run carries it on.
func DropCheckpoint(ctx context.Context, st *store.Store, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, st.Rebind(`DELETE FROM scan_checkpoints WHERE run_id = ?`), id); err != nil {
		return fmt.Errorf("drop scan checkpoint of run %d: %w", id, err)
	}
	return nil
}

// ErrNoCheckpoint reports that no interrupted scan can be resumed.
var ErrNoCheckpoint = errors.New("no interrupted scan with a checkpoint")

// LatestCheckpoint returns the checkpoint of the newest scan run that
// ended without completing: interrupted, failed, or abandoned (its process
// was killed). A scan still running is not resumable.
func LatestCheckpoint(ctx context.Context, st *store.Store) (Resumable, error) {
	if _, err := st.MarkAbandoned(ctx); err != nil {
		return Resumable{}, err
	}
	q := st.Rebind(`SELECT c.config, c.position, c.pending FROM scan_checkpoints c JOIN runs r ON r.id = c.run_id
WHERE r.kind = 'scan' AND r.status IN (?, ?, ?) ORDER BY c.run_id DESC LIMIT 1`)
	return readCheckpoint(st.DB().QueryRowContext(ctx, q, model.RunInterrupted, model.RunFailed, model.RunAbandoned))
}

// CheckpointOf returns the checkpoint of scan run id, whatever its status,
// or ErrNoCheckpoint (a job's retried scan shard continues its run).
func CheckpointOf(ctx context.Context, st *store.Store, id int64) (Resumable, error) {
	q := st.Rebind(`SELECT config, position, pending FROM scan_checkpoints WHERE run_id = ?`)
	return readCheckpoint(st.DB().QueryRowContext(ctx, q, id))
}

func readCheckpoint(row *sql.Row) (Resumable, error) {
	var cfg, pos, pending string
	err := row.Scan(&cfg, &pos, &pending)
	if errors.Is(err, sql.ErrNoRows) {
		return Resumable{}, ErrNoCheckpoint
	}
	if err != nil {
		return Resumable{}, fmt.Errorf("load scan checkpoint: %w", err)
	}
	var r Resumable
	if err := json.Unmarshal([]byte(cfg), &r); err != nil {
		return Resumable{}, fmt.Errorf("scan checkpoint config: %w", err)
	}
	if r.Checkpoint.Position, err = strconv.ParseUint(pos, 10, 64); err != nil {
		return Resumable{}, fmt.Errorf("scan checkpoint position %q: %w", pos, err)
	}
	r.Checkpoint.Pending = nil
	for _, f := range strings.FieldsFunc(pending, func(r rune) bool { return r == ',' }) {
		p, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return Resumable{}, fmt.Errorf("scan checkpoint pending %q: %w", f, err)
		}
		r.Checkpoint.Pending = append(r.Checkpoint.Pending, p)
	}
	return r, nil
}
