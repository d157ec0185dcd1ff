package flow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"iotwatch/internal/store"
)

// SaveState stores a stream's detector carry-over state, replacing the
// previous one (see detect.SaveState).
func SaveState(ctx context.Context, st *store.Store, stream string, runID int64, data []byte) error {
	_, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO flow_state (stream, run_id, updated, data) VALUES (?,?,?,?)
		ON CONFLICT (stream) DO UPDATE SET run_id = excluded.run_id, updated = excluded.updated, data = excluded.data`),
		stream, runID, store.Time(time.Now()), data)
	if err != nil {
		return fmt.Errorf("save flow state %q: %w", stream, err)
	}
	return nil
}

// LoadState returns a stream's carry-over state and the run that wrote it;
// a stream never saved returns nil data and no error.
func LoadState(ctx context.Context, st *store.Store, stream string) ([]byte, int64, error) {
	var data []byte
	var runID int64
	err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT data, run_id FROM flow_state WHERE stream = ?`), stream).Scan(&data, &runID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load flow state %q: %w", stream, err)
	}
	return data, runID, nil
}
