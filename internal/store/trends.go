package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"iotwatch/internal/model"
)

// RunCounts are one run's headline counts, as the report's trend section
// shows them: devices and services with an open service, devices with a
// weak credential, and the sampled devices (either).
type RunCounts struct {
	RunID       int64
	Devices     int
	Services    int
	WeakDevices int
	Sampled     int
}

// RunCountsUpTo returns the counts of every run with id <= maxID that
// stored an open service or a weak credential, by run id. A credential
// record is weak unless it is a lockout record (model.CredentialResult.Weak).
func (s *Store) RunCountsUpTo(ctx context.Context, maxID int64) (map[int64]*RunCounts, error) {
	out := map[int64]*RunCounts{}
	get := func(id int64) *RunCounts {
		c := out[id]
		if c == nil {
			c = &RunCounts{RunID: id}
			out[id] = c
		}
		return c
	}
	closed := []any{string(model.StatusRefused), string(model.StatusTimeout)}
	// Weak credentials only: lockout and unknown-verdict records are
	// observations about a service, not weak credentials.
	weak := make([]any, len(model.WeakKinds))
	for i, k := range model.WeakKinds {
		weak[i] = k
	}
	weakIn := "kind IN (?" + strings.Repeat(", ?", len(weak)-1) + ")"
	queries := []struct {
		q    string
		args []any
		set  func(c *RunCounts, n, m int)
	}{
		{`SELECT run_id, COUNT(DISTINCT ip), COUNT(*) FROM services WHERE status NOT IN (?, ?) AND run_id <= ? GROUP BY run_id`,
			append(closed, maxID), func(c *RunCounts, n, m int) { c.Devices, c.Services = n, m }},
		{`SELECT run_id, COUNT(DISTINCT ip), 0 FROM credentials WHERE ` + weakIn + ` AND run_id <= ? GROUP BY run_id`,
			append(slices.Clone(weak), maxID), func(c *RunCounts, n, _ int) { c.WeakDevices = n }},
		{`SELECT run_id, COUNT(DISTINCT ip), 0 FROM (
			SELECT run_id, ip FROM services WHERE status NOT IN (?, ?) AND run_id <= ?
			UNION SELECT run_id, ip FROM credentials WHERE ` + weakIn + ` AND run_id <= ?) u GROUP BY run_id`,
			append(append(closed, maxID), append(slices.Clone(weak), maxID)...), func(c *RunCounts, n, _ int) { c.Sampled = n }},
	}
	for _, q := range queries {
		rows, err := s.db.QueryContext(ctx, s.Rebind(q.q), q.args...)
		if err != nil {
			return nil, fmt.Errorf("run counts: %w", err)
		}
		for rows.Next() {
			var id int64
			var n, m int
			if err := rows.Scan(&id, &n, &m); err != nil {
				rows.Close()
				return nil, fmt.Errorf("run counts: %w", err)
			}
			q.set(get(id), n, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("run counts: %w", err)
		}
	}
	return out, nil
}
