package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
	"iotwatch/internal/testpeer"
)

// fleetPrefix is this package's loopback range for in-process tests.
var fleetPrefix = netip.MustParsePrefix("127.78.0.0/24")

const fleetPorts = "21,22,23,80,554,1883,2121,2222,2323,8080,8554"

func startFleet(t *testing.T, prefix netip.Prefix, devices int) {
	t.Helper()
	startFleetOpts(t, simulate.Options{Prefix: prefix, Devices: devices, Seed: 78, Weak: 0.4, Empty: 0.05, Anonymous: 0.05})
}

func startFleetOpts(t *testing.T, opts simulate.Options) *simulate.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := simulate.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("simulate: %v", err)
	}
	t.Cleanup(func() { cancel(); f.Close() })
	return f
}

// openClient opens the store at dsn and a jobs client on it, closed with t.
func openClient(t *testing.T, dsn string) (*store.Store, *jobs.Client) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := jobs.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

// Evidence queries compared between a run of jobs and an uninterrupted
// in-process run: what was found, not which run found it.
var (
	servicesQ = `SELECT DISTINCT ip, port, transport, protocol, status FROM services WHERE status NOT IN ('refused', 'timeout')`
	credsQ    = `SELECT DISTINCT ip, port, protocol, username, kind FROM credentials`
	matchesQ  = `SELECT DISTINCT subject, port, cve FROM vuln_matches`
	// Rows stored twice for one thing found: none may exist.
	dupServicesQ = `SELECT ip, port, transport FROM services WHERE run_id IN (SELECT run_id FROM job_runs)
GROUP BY ip, port, transport HAVING COUNT(*) > 1`
	dupCredsQ = `SELECT ip, port, protocol, username, password FROM credentials GROUP BY ip, port, protocol, username, password HAVING COUNT(*) > 1`
)

func rows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out []string
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// reference scans and audits the fleet in-process through the stages, as
// `iotwatch scan` and `iotwatch audit` do, into a database of its own.
func reference(t *testing.T, prefix netip.Prefix) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ports, err := target.ParsePorts(fleetPorts)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{prefix.String()}
	run, err := stage.Start(ctx, st, "scan", targets, stage.ScanStages)
	if err != nil {
		t.Fatal(err)
	}
	opts := stage.ScanOptions{Ports: fleetPorts}
	opts.Config.Targets, opts.Config.Ports, opts.Config.Rate, opts.Config.Timeout = targets, ports, -1, 5*time.Second
	if _, err := stage.Scan(ctx, st, run, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := stage.VulnsOfRun(ctx, st, run); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	svcs, err := st.Services(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	arun, err := stage.Start(ctx, st, "audit", targets, []string{"audit"})
	if err != nil {
		t.Fatal(err)
	}
	aopts := stage.AuditOptions{}
	aopts.Config.Allowed = prefix.Contains
	if _, err := stage.Audit(ctx, st, arun, svcs, aopts); err != nil {
		t.Fatal(err)
	}
	if err := arun.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return st
}

// backends are the databases the in-process tests run on: the embedded
// default (riversqlite on the store's one connection) and PostgreSQL.
var backends = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "jobs.db") }},
	{"postgres", testpeer.Postgres},
}

// workAll works c's jobs in-process (opts, polling every 100 ms) until
// done (settle, or a stricter wait) returns, stops the worker and returns
// what done returned.
func workAll(t *testing.T, c *jobs.Client, opts jobs.WorkOptions, done func(*testing.T, *jobs.Client, time.Duration) []jobs.Job) []jobs.Job {
	t.Helper()
	opts.PollEvery, opts.Grace = 100*time.Millisecond, 5*time.Second
	wctx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Work(wctx, opts) }()
	list := done(t, c, 120*time.Second)
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("worker: %v", err)
	}
	return list
}

// settle waits until no job is left to run and returns every job.
func settle(t *testing.T, c *jobs.Client, within time.Duration) []jobs.Job {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		list, err := c.List(ctx, jobs.ListOptions{Limit: 10000})
		if err != nil && time.Now().Before(deadline) {
			// A connection PostgreSQL closed (a restart): the next
			// query takes a new one.
			t.Logf("list jobs: %v", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, j := range list {
			switch j.State {
			case "completed", "cancelled", "discarded":
			default:
				open++
			}
		}
		if open == 0 && len(list) > 0 {
			return list
		}
		if time.Now().After(deadline) {
			for _, j := range list {
				t.Logf("job %d %s %s attempt %d errors %v", j.ID, j.Kind, j.State, j.Attempt, j.Errors)
			}
			t.Fatalf("%d jobs still open after %s", open, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func byKind(list []jobs.Job) map[string]int {
	out := map[string]int{}
	for _, j := range list {
		if j.State != "completed" {
			out[j.Kind+"/"+j.State]++
			continue
		}
		out[j.Kind]++
	}
	return out
}

// compare checks that db holds the evidence of ref and nothing twice.
func compare(t *testing.T, ref, db *sql.DB) {
	t.Helper()
	for _, q := range []string{servicesQ, credsQ, matchesQ} {
		want, got := rows(t, ref, q), rows(t, db, q)
		if len(want) == 0 {
			t.Fatalf("reference found nothing for %s", q)
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s:\n got %d rows, want %d\n missing %v\n extra %v", q, len(got), len(want), minus(want, got), minus(got, want))
		}
	}
	for _, q := range []string{dupServicesQ, dupCredsQ} {
		if d := rows(t, db, q); len(d) > 0 {
			t.Errorf("stored twice: %v", d)
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], "…")
	}
	return out
}

// TestInProcess runs a sharded scan with audit as jobs worked in-process,
// on the embedded default (riversqlite on the store's one connection) and
// on PostgreSQL, and compares the evidence with the stages run directly.
func TestInProcess(t *testing.T) {
	startFleet(t, fleetPrefix, 24)
	ref := reference(t, fleetPrefix)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { inProcess(t, ref, b.dsn(t)) })
	}
}

func inProcess(t *testing.T, ref *store.Store, dsn string) {
	ctx := context.Background()
	st, c := openClient(t, dsn)
	sub, err := c.SubmitScan(ctx, jobs.ScanRequest{
		Targets: []string{fleetPrefix.String()}, Ports: fleetPorts, Rate: -1, Timeout: 5 * time.Second,
		Shards: 3, Audit: &jobs.AuditRequest{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Jobs) != 3 || sub.Group == 0 {
		t.Fatalf("submitted %+v, want 3 jobs and a group run", sub)
	}
	list := workAll(t, c, jobs.WorkOptions{}, settle)
	kinds := byKind(list)
	if kinds[spec.KindScan] != 3 || kinds[spec.KindVulns] != 3 || kinds[spec.KindAudit] < 3 || len(kinds) != 3 {
		t.Errorf("jobs by kind %v, want 3 scan, 3 vulns, at least 3 audit, all completed", kinds)
	}
	compare(t, ref.DB(), st.DB())
	auditSplitByHost(t, st.DB(), list, 3)
	// The shards are one logical scan with the submission's run.
	ids, err := st.LogicalRuns(ctx, []int64{sub.Group})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 1+3+3+3 {
		t.Errorf("logical run of the submission: %v, want the group, 3 shards, 3 matches, 3 audits", ids)
	}
	for _, id := range sub.Jobs {
		j, err := c.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Run == 0 || j.Progress == nil || j.Progress.Done != j.Progress.Total || j.Progress.Total == 0 {
			t.Errorf("job %d: run %d progress %+v, want a run and a full walk", id, j.Run, j.Progress)
		}
		r, err := st.Run(ctx, j.Run)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != model.RunComplete || r.Parent != sub.Group {
			t.Errorf("run of job %d: %s, parent %d; want complete under %d", id, r.Status, r.Parent, sub.Group)
		}
	}
}

// auditSplitByHost checks the audit of a scan of shards shards: enqueued
// after its last shard, in one batch per shard over every shard's services,
// and no host audited by two batches.
func auditSplitByHost(t *testing.T, db *sql.DB, list []jobs.Job, shards int) {
	t.Helper()
	var lastShard time.Time
	for _, j := range list {
		if j.Kind == spec.KindScan && j.FinalizedAt != nil && j.FinalizedAt.After(lastShard) {
			lastShard = *j.FinalizedAt
		}
	}
	parts := map[int]bool{}
	for _, j := range list {
		if j.Kind != spec.KindAudit {
			continue
		}
		var a jobs.AuditArgs
		if err := json.Unmarshal(j.Args, &a); err != nil {
			t.Fatal(err)
		}
		if len(a.Hosts) == 0 { // not a follow-up of busy hosts
			parts[a.Part] = true
		}
		if len(a.Runs) != shards || a.Parts != shards || j.CreatedAt.Before(lastShard.Add(-time.Second)) {
			t.Errorf("audit job %d: runs %v, part %d of %d, created %s (last shard done %s); want every shard's runs, %d parts, after the last shard",
				j.ID, a.Runs, a.Part, a.Parts, j.CreatedAt, lastShard, shards)
		}
	}
	if len(parts) != shards {
		t.Errorf("audit parts %v, want %d", parts, shards)
	}
	if shared := rows(t, db, `SELECT c.ip FROM credentials c JOIN job_runs r ON r.run_id = c.run_id
GROUP BY c.ip HAVING COUNT(DISTINCT c.run_id) > 1`); len(shared) > 0 {
		t.Errorf("hosts audited by more than one batch: %v", shared)
	}
}
