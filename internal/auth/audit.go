package auth

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"iotwatch/internal/store"
)

// Entry is one line of the audit log: who (Actor, from Remote) did what
// (Action on Target) with which Outcome, and when. Actions are dotted
// names: login, logout, user.add, user.disable, user.unlock, user.lock,
// user.password, scope.add, scope.remove, token.create, token.revoke,
// job.submit, job.cancel, schedule.add, secret.reveal, access.denied.
type Entry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target,omitempty"`
	Outcome string    `json:"outcome"` // ok, failed, refused
	Remote  string    `json:"remote,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// Record appends e to the audit log (At defaults to now). The log has no
// update or delete path: the code offers none and the database refuses them
// (migration 00026).
func (s *Service) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	if e.Actor == "" {
		e.Actor = "-"
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`INSERT INTO audit_log (at, actor, action, target, outcome, remote, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		store.Time(e.At), e.Actor, e.Action, e.Target, e.Outcome, e.Remote, e.Detail); err != nil {
		return fmt.Errorf("audit log %s: %w", e.Action, err)
	}
	return nil
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	AfterID int64 // only entries with a larger id
	Limit   int   // at most this many, newest first (0: all, oldest first)
}

// Audit calls fn for each selected entry.
func (s *Service) Audit(ctx context.Context, q AuditQuery, fn func(Entry) error) error {
	query := `SELECT id, at, actor, action, target, outcome, remote, detail FROM audit_log WHERE id > ?`
	args := []any{q.AfterID}
	if q.Limit > 0 {
		query += ` ORDER BY id DESC LIMIT ?`
		args = append(args, q.Limit)
	} else {
		query += ` ORDER BY id`
	}
	rows, err := s.st.DB().QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e  Entry
			at string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Remote, &e.Detail); err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
		e.At = store.ParseTime(at)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ExportAudit writes the audit log after entry afterID as JSON Lines, oldest
// first, and returns how many entries it wrote.
func (s *Service) ExportAudit(ctx context.Context, w io.Writer, afterID int64) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := s.Audit(ctx, AuditQuery{AfterID: afterID}, func(e Entry) error {
		n++
		return enc.Encode(e)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}
