package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
)

// startOwner starts a process (this test binary in helper mode "run") that
// records a running run in dsn and then waits to be killed; it returns the
// process and the run's id.
func startOwner(t *testing.T, dsn string) (*exec.Cmd, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=run", helperEnv+"_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("owner process: %v", err)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		t.Fatalf("owner process printed %q", line)
	}
	return cmd, id
}

// TestAbandonedRuns: a run whose process was killed with SIGKILL, or whose
// heartbeat is stale, is shown abandoned by every query and then recorded
// so; a live owner's run stays running.
func TestAbandonedRuns(t *testing.T) {
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			owner, killed := startOwner(t, s.dsn)
			_, alive := startOwner(t, s.dsn)
			if r, err := s.Run(ctx, killed); err != nil || r.Status != model.RunRunning || r.PID != owner.Process.Pid || r.Host == "" {
				t.Fatalf("before the kill: run = %+v, %v; want running, owned by pid %d", r, err, owner.Process.Pid)
			}
			if err := owner.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			owner.Wait()

			// Runs of other hosts are judged by their heartbeat alone.
			insert := func(host string, beat time.Time) int64 {
				var id int64
				err := s.db.QueryRowContext(ctx, s.Rebind(`INSERT INTO runs (kind, status, started_at, host, pid, heartbeat_at)
VALUES ('flows', 'running', ?, ?, 1, ?) RETURNING id`), Time(beat.Add(-time.Hour)), host, Time(beat)).Scan(&id)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			stale := insert("elsewhere.example", time.Now().Add(-StaleAfter-time.Minute))
			fresh := insert("elsewhere.example", time.Now())
			mine := &model.Run{Kind: "audit"}
			if err := s.StartRun(ctx, mine); err != nil {
				t.Fatal(err)
			}
			want := map[int64]string{killed: model.RunAbandoned, stale: model.RunAbandoned,
				alive: model.RunRunning, fresh: model.RunRunning, mine.ID: model.RunRunning}

			runs, err := s.Runs(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			listed := map[int64]model.Run{}
			for _, r := range runs {
				listed[r.ID] = r
			}
			for id, status := range want {
				r, err := s.Run(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != status || listed[id].Status != status {
					t.Errorf("run %d: Run says %q, Runs says %q; want %q", id, r.Status, listed[id].Status, status)
				}
				if status == model.RunAbandoned && r.Error == "" {
					t.Errorf("run %d: abandoned without a reason", id)
				}
			}
			// StartRun (mine) has already recorded them.
			for id, status := range want {
				var stored string
				s.db.QueryRowContext(ctx, s.Rebind(`SELECT status FROM runs WHERE id = ?`), id).Scan(&stored)
				if stored != status {
					t.Errorf("run %d: stored status %q, want %q", id, stored, status)
				}
			}
			if n, err := s.MarkAbandoned(ctx); err != nil || n != 0 {
				t.Errorf("MarkAbandoned again = %d, %v; want 0", n, err)
			}
		})
	}
}

// TestEndRun: how a run ended follows from its error, and is recorded even
// when the run's context is cancelled.
func TestEndRun(t *testing.T) {
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				err  error
				want string
			}{
				{nil, model.RunComplete},
				{context.Canceled, model.RunInterrupted},
				{fmt.Errorf("scan: %w", context.DeadlineExceeded), model.RunInterrupted},
				{errors.New("disk full"), model.RunFailed},
			} {
				ctx, cancel := context.WithCancel(context.Background())
				run := &model.Run{Kind: "scan"}
				if err := s.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				cancel()
				if err := s.EndRun(ctx, run, tc.err); !errors.Is(err, tc.err) {
					t.Errorf("EndRun(%v) returned %v", tc.err, err)
				}
				r, err := s.Run(context.Background(), run.ID)
				if err != nil || r.Status != tc.want || (tc.err != nil && r.Error != tc.err.Error()) {
					t.Errorf("after %v: stored %q (%q), %v; want %q", tc.err, r.Status, r.Error, err, tc.want)
				}
			}
		})
	}
}

// TestEmpty: a new store is empty; a run, or an asset alone, makes it not.
func TestEmpty(t *testing.T) {
	ctx := context.Background()
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			if empty, err := s.Empty(ctx); err != nil || !empty {
				t.Fatalf("new store: empty %v (%v), want true", empty, err)
			}
			if _, err := s.DB().ExecContext(ctx, s.Rebind(`INSERT INTO assets (ip, vendor, product, version, device_type, cpe, first_seen, last_seen)
				VALUES (?, '', '', '', '', '', ?, ?)`), "192.0.2.1", Time(time.Now()), Time(time.Now())); err != nil {
				t.Fatal(err)
			}
			if empty, err := s.Empty(ctx); err != nil || empty {
				t.Errorf("with an asset: empty %v (%v), want false", empty, err)
			}
		})
	}
	for name, s := range openTests(t) {
		t.Run(name+"/run", func(t *testing.T) {
			if err := s.StartRun(ctx, &model.Run{Kind: "flows"}); err != nil {
				t.Fatal(err)
			}
			if empty, err := s.Empty(ctx); err != nil || empty {
				t.Errorf("with a run: empty %v (%v), want false", empty, err)
			}
		})
	}
}
