package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"iotwatch/internal/model"
)

// SaveComponents stores the software components a firmware run identified
// (those with a CPE name); saving them again is harmless.
func (s *Store) SaveComponents(ctx context.Context, runID int64, cs []model.Component) error {
	if len(cs) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO firmware_components (run_id, subject, cpe, distro, name, version)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, subject, cpe, distro) DO NOTHING`))
		if err != nil {
			return fmt.Errorf("save components: %w", err)
		}
		defer st.Close()
		for _, c := range cs {
			if c.CPE == "" {
				continue
			}
			pkg := ""
			if c.Distro != (model.Distro{}) {
				b, err := json.Marshal(c.Distro)
				if err != nil {
					return fmt.Errorf("save component %s: %w", c.Name, err)
				}
				pkg = string(b)
			}
			if _, err := st.ExecContext(ctx, runID, c.Subject, c.CPE, pkg, c.Name, c.Version); err != nil {
				return fmt.Errorf("save component %s: %w", c.Name, err)
			}
		}
		return nil
	})
}

// Components returns the components a firmware run stored, in subject and
// CPE order.
func (s *Store) Components(ctx context.Context, runID int64) ([]model.Component, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT subject, cpe, distro, name, version FROM firmware_components
		WHERE run_id = ? ORDER BY subject, cpe, distro`), runID)
	if err != nil {
		return nil, fmt.Errorf("read components: %w", err)
	}
	defer rows.Close()
	var out []model.Component
	for rows.Next() {
		var c model.Component
		var pkg string
		if err := rows.Scan(&c.Subject, &c.CPE, &pkg, &c.Name, &c.Version); err != nil {
			return nil, fmt.Errorf("read components: %w", err)
		}
		if pkg != "" {
			if err := json.Unmarshal([]byte(pkg), &c.Distro); err != nil {
				return nil, fmt.Errorf("read component %s: %w", c.Name, err)
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
