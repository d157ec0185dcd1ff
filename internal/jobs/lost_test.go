package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/stage"
)

var lostPrefix = netip.MustParsePrefix("127.78.1.0/26")

// TestLostShard runs a scan of three shards with audit in which shard 1
// always fails, on the embedded default (riversqlite) and on PostgreSQL:
// River discards it after its last attempt, and the audit still runs, once,
// over the services the two completed shards found; the scan's jobs and
// run say shard 1 was lost. Three cases:
//   - "discarded last": shard 1 fails only once the others completed, so
//     no completing shard can settle the scan (the worker's sweep must);
//   - "retry completes late": shard 1 is discarded at once, and shard 2,
//     which fails its first attempt, completes last after River's backoff
//     (it settles the scan in its completion; the sweep runs meanwhile);
//   - "cancelled": shard 1 is cancelled (`jobs cancel`) before it runs.
func TestLostShard(t *testing.T) {
	startFleet(t, lostPrefix, 24)
	for _, b := range backends {
		for _, mode := range []string{"discarded last", "retry completes late", "cancelled"} {
			t.Run(b.name+"/"+mode, func(t *testing.T) { lostShard(t, b.dsn(t), mode) })
		}
	}
}

func lostShard(t *testing.T, dsn, mode string) {
	discardLast, lostState := mode == "discarded last", "discarded"
	if mode == "cancelled" {
		lostState = "cancelled"
	}
	ctx := context.Background()
	st, c := openClient(t, dsn)
	sub, err := c.SubmitScan(ctx, jobs.ScanRequest{
		Targets: []string{lostPrefix.String()}, Ports: fleetPorts, Rate: -1, Timeout: 5 * time.Second,
		Shards: 3, Audit: &jobs.AuditRequest{},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Shard 1 is on its last attempt (as after nine failures).
	if _, err := st.DB().ExecContext(ctx, st.Rebind(`UPDATE river_job SET max_attempts = 1 WHERE id = ?`), sub.Jobs[1]); err != nil {
		t.Fatal(err)
	}
	if mode == "cancelled" {
		if _, err := c.Cancel(ctx, sub.Jobs[1]); err != nil {
			t.Fatal(err)
		}
	}
	jobs.SetShardFault(func(ctx context.Context, shard, attempt int) error {
		switch {
		case shard == 1 && discardLast:
			// Fail only once the other two shards completed.
			for {
				n := 0
				for _, id := range []int64{sub.Jobs[0], sub.Jobs[2]} {
					if j, err := c.Get(ctx, id); err == nil && j.State == "completed" {
						n++
					}
				}
				if n == 2 {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			return errors.New("shard 1 always fails")
		case shard == 1:
			return errors.New("shard 1 always fails")
		case shard == 2 && attempt == 1 && mode == "retry completes late":
			return errors.New("shard 2 fails its first attempt")
		}
		return nil
	})
	t.Cleanup(func() { jobs.SetShardFault(nil) })
	list := workAll(t, c, jobs.WorkOptions{ScheduleEvery: 200 * time.Millisecond, Concurrency: map[string]int{spec.KindScan: 3}},
		func(t *testing.T, c *jobs.Client, within time.Duration) []jobs.Job {
			settleAudited(t, c, within)
			// A few more sweeps: none may settle the scan again.
			time.Sleep(time.Second)
			return settle(t, c, 10*time.Second)
		})
	jobs.SetShardFault(nil)

	states := map[int64]string{}
	var shardRuns []int64
	for _, j := range list {
		states[j.ID] = j.State
		if j.Kind == spec.KindScan && j.State == "completed" {
			shardRuns = append(shardRuns, j.Run)
		}
	}
	if states[sub.Jobs[0]] != "completed" || states[sub.Jobs[1]] != lostState || states[sub.Jobs[2]] != "completed" {
		t.Fatalf("shard jobs %v: %s, %s, %s; want completed, %s, completed", sub.Jobs,
			states[sub.Jobs[0]], states[sub.Jobs[1]], states[sub.Jobs[2]], lostState)
	}
	if mode == "retry completes late" {
		var s1, s2 jobs.Job
		for _, j := range list {
			switch j.ID {
			case sub.Jobs[1]:
				s1 = j
			case sub.Jobs[2]:
				s2 = j
			}
		}
		if s2.Attempt != 2 || s1.FinalizedAt == nil || s2.FinalizedAt == nil || !s2.FinalizedAt.After(*s1.FinalizedAt) {
			t.Errorf("shard 2 completed at attempt %d (%v), shard 1 discarded %v; want the retry to complete after the discard",
				s2.Attempt, s2.FinalizedAt, s1.FinalizedAt)
		}
	}
	// One audit, split by host over the two completed shards' services.
	slices.Sort(shardRuns)
	parts := map[int]int{}
	audits := 0
	for _, j := range list {
		if j.Kind != spec.KindAudit {
			continue
		}
		audits++
		var a jobs.AuditArgs
		if err := json.Unmarshal(j.Args, &a); err != nil {
			t.Fatal(err)
		}
		if len(a.Hosts) == 0 {
			parts[a.Part]++
		}
		if !slices.Equal(a.Runs, shardRuns) || j.State != "completed" {
			t.Errorf("audit job %d: %s over runs %v, want completed over the completed shards' %v", j.ID, j.State, a.Runs, shardRuns)
		}
	}
	if len(parts) != 3 {
		t.Errorf("audit parts %v, want 3", parts)
	}
	for p, n := range parts {
		if n != 1 {
			t.Errorf("audit part %d enqueued %d times", p, n)
		}
	}
	// The audit covered every host the completed shards found.
	found := rows(t, st.DB(), fmt.Sprintf(`SELECT DISTINCT ip FROM services WHERE status = 'success' AND run_id IN (%d, %d)`, shardRuns[0], shardRuns[1]))
	audited := rows(t, st.DB(), `SELECT DISTINCT ip FROM credentials`)
	if len(found) == 0 || len(audited) == 0 {
		t.Fatalf("%d hosts found, %d audited", len(found), len(audited))
	}
	if extra := minus(audited, found); len(extra) > 0 {
		t.Errorf("audited hosts no completed shard found: %v", extra)
	}
	// The jobs and the scan's run say shard 1 was lost.
	want := []spec.LostShard{{Shard: 1, Job: sub.Jobs[1], State: lostState}}
	for _, id := range sub.Jobs {
		j, err := c.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(j.Lost, want) {
			t.Errorf("job %d: lost shards %+v, want %+v", id, j.Lost, want)
		}
	}
	r, err := st.Run(ctx, sub.Group)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != model.RunFailed || !strings.Contains(r.Error, fmt.Sprintf("shard 1 (job %d, %s)", sub.Jobs[1], lostState)) {
		t.Errorf("scan run %d: %s %q, want failed naming shard 1", sub.Group, r.Status, r.Error)
	}
	// The report covers the scan's run as failed, not as a whole scan.
	rep, err := stage.BuildReport(ctx, st, report.Inputs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Runs, func(r report.RunRef) bool { return r.ID == sub.Group && r.Status == model.RunFailed }) {
		t.Errorf("report runs %+v: want scan run %d, failed", rep.Runs, sub.Group)
	}
}

// settleAudited waits until every job is final and the audit ran.
func settleAudited(t *testing.T, c *jobs.Client, within time.Duration) []jobs.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		list := settle(t, c, time.Until(deadline))
		if slices.ContainsFunc(list, func(j jobs.Job) bool { return j.Kind == spec.KindAudit }) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit enqueued within %s", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
