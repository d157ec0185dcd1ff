package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/secret"
)

// SaveFirmwareAccounts stores the accounts a firmware run proved, their
// passwords sealed (secrets.go). Without a sealing key it stores nothing and
// returns secret.ErrNoKey: a raw password is never written.
func (s *Store) SaveFirmwareAccounts(ctx context.Context, runID int64, as []model.FirmwareAccount) error {
	if len(as) == 0 {
		return nil
	}
	if !s.CanReveal() {
		return fmt.Errorf("save firmware accounts (key %s): %w", s.KeySource(), secret.ErrNoKey)
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO firmware_accounts (run_id, image, username, sha256, data, seen_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, image, username) DO UPDATE SET sha256 = excluded.sha256, data = excluded.data, seen_at = excluded.seen_at`))
		if err != nil {
			return fmt.Errorf("save firmware accounts: %w", err)
		}
		defer st.Close()
		for _, a := range as {
			if a.Time.IsZero() {
				a.Time = time.Now()
			}
			a.RunID = runID
			b, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("save firmware account: %w", err)
			}
			var secrets []string
			if a.Password != "" {
				secrets = []string{a.Password}
			}
			if b, err = s.secrets.SealJSON(b, secrets); err != nil {
				return fmt.Errorf("save firmware account (key %s): %w", s.KeySource(), err)
			}
			if _, err := st.ExecContext(ctx, runID, a.Image, a.Username, a.SHA256, string(b), Time(a.Time)); err != nil {
				return fmt.Errorf("save firmware account: %w", err)
			}
		}
		return nil
	})
}

// FirmwareAccounts returns the accounts every firmware run proved, newest
// run first, with raw passwords when the store holds the key (placeholders
// otherwise: see secret.IsPlaceholder).
func (s *Store) FirmwareAccounts(ctx context.Context) ([]model.FirmwareAccount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM firmware_accounts ORDER BY run_id DESC, image, username`)
	if err != nil {
		return nil, fmt.Errorf("read firmware accounts: %w", err)
	}
	defer rows.Close()
	var out []model.FirmwareAccount
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("read firmware accounts: %w", err)
		}
		if data, err = s.openJSON(data); err != nil {
			return nil, fmt.Errorf("read firmware account: %w", err)
		}
		var a model.FirmwareAccount
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return nil, fmt.Errorf("read firmware account: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
