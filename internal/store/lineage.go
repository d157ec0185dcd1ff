package store

import (
	"context"
	"fmt"
	"slices"
)

// SetRunParent records that run id continues run parent (a resumed scan
// and the interrupted scan it resumes).
func (s *Store) SetRunParent(ctx context.Context, id, parent int64) error {
	if parent == id {
		return fmt.Errorf("run %d cannot continue itself", id)
	}
	if _, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE runs SET parent_run = ? WHERE id = ?`), parent, id); err != nil {
		return fmt.Errorf("set parent of run %d: %w", id, err)
	}
	return nil
}

// RunParents returns the parent of every run that has one.
func (s *Store) RunParents(ctx context.Context) (map[int64]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, parent_run FROM runs WHERE parent_run <> 0`)
	if err != nil {
		return nil, fmt.Errorf("read run parents: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, p int64
		if err := rows.Scan(&id, &p); err != nil {
			return nil, fmt.Errorf("read run parents: %w", err)
		}
		out[id] = p
	}
	return out, rows.Err()
}

// LogicalRuns expands run ids to whole logical runs: every run joined to one
// of them by resumption (its parents, and the runs that resumed it), sorted
// and without duplicates.
func (s *Store) LogicalRuns(ctx context.Context, ids []int64) ([]int64, error) {
	parents, err := s.RunParents(ctx)
	if err != nil {
		return nil, err
	}
	return chains(parents, ids), nil
}

// chains closes ids over the parent relation in both directions.
func chains(parents map[int64]int64, ids []int64) []int64 {
	children := map[int64][]int64{}
	for c, p := range parents {
		children[p] = append(children[p], c)
	}
	seen := map[int64]bool{}
	queue := slices.Clone(ids)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		if p, ok := parents[id]; ok {
			queue = append(queue, p)
		}
		queue = append(queue, children[id]...)
	}
	out := make([]int64, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
