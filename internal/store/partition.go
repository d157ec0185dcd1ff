package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DayTables are the tables that grow with every day of evidence: services,
// credential results, flow roll-ups with their relations (flow_devices) and
// findings. On PostgreSQL they are partitioned by the UTC day their run
// started (migrations 00020 and 00038), and retention drops whole
// partitions; on SQLite they keep their plain layout and retention deletes
// rows.
var DayTables = []string{"services", "credentials", "flow_devices", "findings"}

// PartitionsAhead is how many days ahead of today Open creates partitions,
// so that a long-running worker rarely creates one on the way.
const PartitionsAhead = 7

// Partitioned reports whether the day tables are partitioned by day, so
// that their rows carry the partition key "day" (PostgreSQL).
func (s *Store) Partitioned() bool { return s.dialect == Postgres }

// dayOf is the partition day of a run started at t.
func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// RunDay returns the partition day (YYYY-MM-DD, UTC) of run id: the day it
// started. q is the transaction the caller writes in (or nil).
func (s *Store) RunDay(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id int64) (string, error) {
	if d, ok := s.runDays.Load(id); ok {
		return d.(string), nil
	}
	if q == nil {
		q = s.db
	}
	var started string
	if err := q.QueryRowContext(ctx, s.Rebind(`SELECT started_at FROM runs WHERE id = ?`), id).Scan(&started); err != nil {
		return "", fmt.Errorf("day of run %d: %w", id, err)
	}
	t := ParseTime(started)
	if t.IsZero() {
		return "", fmt.Errorf("day of run %d: bad start time %q", id, started)
	}
	d := dayOf(t)
	s.runDays.Store(id, d)
	return d, nil
}

// EnsurePartitions creates the day partitions of every day table for the
// days from..to (inclusive) that do not exist yet (PostgreSQL; nothing on
// SQLite). A day whose rows already went to the default partition, or whose
// parent table stayed locked, keeps using the default partition.
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	if !s.Partitioned() {
		return nil
	}
	for d := from.UTC().Truncate(24 * time.Hour); !d.After(to); d = d.Add(24 * time.Hour) {
		day := dayOf(d)
		if _, ok := s.partDays.Load(day); ok {
			continue
		}
		for _, t := range DayTables {
			var ok bool
			if err := s.db.QueryRowContext(ctx, `SELECT iotwatch_day_partition($1, $2)`, t, day).Scan(&ok); err != nil {
				return fmt.Errorf("create partition of %s for %s: %w", t, day, err)
			}
		}
		s.partDays.Store(day, true)
	}
	return nil
}

// Partition is one day partition of a day table.
type Partition struct {
	Table string `json:"table"` // parent: one of DayTables
	Name  string `json:"name"`
	Day   string `json:"day,omitempty"` // YYYY-MM-DD; empty for the default partition
	Bytes int64  `json:"bytes"`         // pg_total_relation_size
	Rows  int64  `json:"rows"`
}

// Partitions lists the day partitions of the day tables (from pg_inherits),
// oldest first; nil on SQLite.
func (s *Store) Partitions(ctx context.Context) ([]Partition, error) {
	if !s.Partitioned() {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT p.relname, c.relname, pg_total_relation_size(c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace n ON n.oid = p.relnamespace
		WHERE n.nspname = current_schema() AND p.relname = ANY($1)`, DayTables)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Name, &p.Bytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		p.Day = partitionDay(p.Table, p.Name)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	for i := range out {
		// The name comes from pg_class; quoting keeps it an identifier.
		q := `SELECT COUNT(*) FROM "` + strings.ReplaceAll(out[i].Name, `"`, `""`) + `"`
		if err := s.db.QueryRowContext(ctx, q).Scan(&out[i].Rows); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", out[i].Name, err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Day < out[j].Day
	})
	return out, nil
}

// partitionDay reads the day of a partition named TABLE_pYYYYMMDD, or "".
func partitionDay(table, name string) string {
	d, ok := strings.CutPrefix(name, table+"_p")
	if !ok || len(d) != 8 {
		return ""
	}
	if _, err := strconv.Atoi(d); err != nil {
		return ""
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:]
}

// PruneResult is what retention removed.
type PruneResult struct {
	// Before is the first day kept (YYYY-MM-DD): evidence of runs started
	// before it was removed.
	Before string `json:"before"`
	// Dropped are the partitions dropped whole (PostgreSQL).
	Dropped []string `json:"dropped,omitempty"`
	// Deleted counts rows deleted per table: from the default partitions on
	// PostgreSQL, from the tables on SQLite.
	Deleted map[string]int64 `json:"deleted"`
}

// Prune applies retention: the evidence in the day tables of runs started
// more than retain ago (before the UTC day of now-retain) is removed. On
// PostgreSQL the partitions of those days are dropped whole and the default
// partitions are cleared of those days; on SQLite the rows are deleted. Runs,
// assets, vulnerability matches and flow alerts (flow_alerts) are kept (they
// are small: the daily series stay whole); the findings of old runs go.
func (s *Store) Prune(ctx context.Context, now time.Time, retain time.Duration) (*PruneResult, error) {
	if retain <= 0 {
		return nil, fmt.Errorf("prune: retention must be positive, not %s", retain)
	}
	res := &PruneResult{Before: dayOf(now.Add(-retain)), Deleted: map[string]int64{}}
	if !s.Partitioned() {
		err := s.Tx(ctx, func(tx *sql.Tx) error {
			for _, t := range DayTables {
				r, err := tx.ExecContext(ctx, s.Rebind(`DELETE FROM `+t+` WHERE run_id IN (SELECT id FROM runs WHERE started_at < ?)`), res.Before)
				if err != nil {
					return fmt.Errorf("prune %s: %w", t, err)
				}
				n, _ := r.RowsAffected()
				res.Deleted[t] = n
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	parts, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if p.Day == "" || p.Day >= res.Before {
			continue
		}
		q := `DROP TABLE IF EXISTS "` + strings.ReplaceAll(p.Name, `"`, `""`) + `"`
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return res, fmt.Errorf("prune: drop %s: %w", p.Name, err)
		}
		s.partDays.Delete(p.Day)
		res.Dropped = append(res.Dropped, p.Name)
	}
	for _, t := range DayTables {
		r, err := s.db.ExecContext(ctx, `DELETE FROM `+t+`_default WHERE day < $1`, res.Before)
		if err != nil {
			return res, fmt.Errorf("prune %s_default: %w", t, err)
		}
		n, _ := r.RowsAffected()
		res.Deleted[t] = n
	}
	return res, nil
}

// ParseRetention reads a retention period: a number of days ("400d") or a
// Go duration ("72h").
func ParseRetention(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("retention %q: want a positive number of days such as 400d", v)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want days (400d) or a duration (72h)", v)
	}
	return d, nil
}

// DayKey is what a writer of a day table adds for the partition key of run
// id's rows: on PostgreSQL the column (", day") for its column list and
// ON CONFLICT target, its placeholder (", ?"), and args, which appends the
// run's day to a row's values; on SQLite nothing.
func (s *Store) DayKey(ctx context.Context, tx *sql.Tx, id int64) (args func(...any) []any, col, val string, err error) {
	if !s.Partitioned() {
		return func(v ...any) []any { return v }, "", "", nil
	}
	var q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}
	if tx != nil {
		q = tx
	}
	day, err := s.RunDay(ctx, q, id)
	if err != nil {
		return nil, "", "", err
	}
	return func(v ...any) []any { return append(v, day) }, ", day", ", ?", nil
}
