package scan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

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

// SaveCheckpoint records (or updates) the checkpoint of run r.RunID.
func SaveCheckpoint(ctx context.Context, st *store.Store, r Resumable) error {
	cfg, err := json.Marshal(r)
	if err != nil {
		return err
	}
	cp := r.Checkpoint
	u := strconv.FormatUint
	q := st.Rebind(`INSERT INTO scan_checkpoints (run_id, seed, shard, shards, position, steps, config, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET position = excluded.position, steps = excluded.steps, updated_at = excluded.updated_at`)
	_, err = st.DB().ExecContext(ctx, q, r.RunID, u(cp.Seed, 10), cp.Shard, cp.Shards, u(cp.Position, 10), u(cp.Steps, 10),
		string(cfg), store.Time(time.Now()))
	if err != nil {
		return fmt.Errorf("save scan checkpoint: %w", err)
	}
	return nil
}

// ErrNoCheckpoint reports that no interrupted scan can be resumed.
var ErrNoCheckpoint = errors.New("no interrupted scan with a checkpoint")

// LatestCheckpoint returns the checkpoint of the newest scan run that did
// not complete.
func LatestCheckpoint(ctx context.Context, st *store.Store) (Resumable, error) {
	q := `SELECT c.config, c.position FROM scan_checkpoints c JOIN runs r ON r.id = c.run_id
WHERE r.kind = 'scan' AND r.status <> 'complete' ORDER BY c.run_id DESC LIMIT 1`
	var cfg, pos string
	err := st.DB().QueryRowContext(ctx, q).Scan(&cfg, &pos)
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
	return r, nil
}
