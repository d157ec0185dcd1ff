package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/cli"
	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// The worker processes of these tests are this test binary run again as
// the iotwatch command (the re-exec pattern): no separate build.
const asIotwatch = "IOTWATCH_JOBS_TEST_AS_IOTWATCH"

func TestMain(m *testing.M) {
	if os.Getenv(asIotwatch) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "iotwatch:", err)
			os.Exit(cli.ExitCode(err))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// clusterPrefix is the loopback range of the multi-process tests.
var clusterPrefix = netip.MustParsePrefix("127.79.0.0/26")

// proc is a worker process.
type proc struct {
	id  string
	cmd *exec.Cmd
	out *bytes.Buffer
}

// startWorker starts `iotwatch worker --id id` on dsn with extra flags.
func startWorker(t *testing.T, dsn, id string, flags ...string) *proc {
	t.Helper()
	args := append([]string{"worker", "--db", dsn, "--id", id, "--poll", "200ms", "--job-timeout", "15s", "--rescue-after", "16s", "--grace", "5s"}, flags...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asIotwatch+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{id: id, cmd: cmd, out: &out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test is over; how it ends does not matter
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("worker %s:\n%s", id, tail(out.String()))
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait() // killed: its status is the signal
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("worker %s after SIGTERM: %v\n%s", p.id, err, tail(p.out.String()))
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// runningOn waits until a job of kind runs on worker id (and ready says
// so) and returns it.
func runningOn(t *testing.T, c *jobs.Client, kind, id string, within time.Duration, ready func(jobs.Job) bool) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		list, err := c.List(context.Background(), jobs.ListOptions{Kinds: []string{kind}, States: []string{"running"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range list {
			if n := len(j.AttemptedBy); n > 0 && j.AttemptedBy[n-1] == id && ready(j) {
				return j
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s job ran on worker %s within %s", kind, id, within)
	return jobs.Job{}
}

// TestClusterKill runs a sharded scan with audit on PostgreSQL with three
// worker processes, kills one with SIGKILL in the middle of a scan shard
// and another in the middle of an audit batch: River retries both jobs on
// other workers, and the evidence equals an uninterrupted in-process run's,
// nothing stored twice.
func TestClusterKill(t *testing.T) {
	dsn := testpeer.Postgres(t)
	startFleet(t, clusterPrefix, 40)
	ref := reference(t, clusterPrefix)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := jobs.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	off := "audit=0,vulns=0,firmware=0,report=0,schedule=0"
	scanner := startWorker(t, dsn, "scanner", "--concurrency", off+",scan=1")
	auditor := startWorker(t, dsn, "auditor", "--concurrency", "scan=0,vulns=0,firmware=0,report=0,schedule=0,audit=1")
	steady := startWorker(t, dsn, "steady", "--concurrency", "scan=1,vulns=1,audit=0")
	// Each shard takes about 3 s at 40 probes/s.
	sub, err := c.SubmitScan(ctx, jobs.ScanRequest{
		Targets: []string{clusterPrefix.String()}, Ports: fleetPorts, Rate: 40, Timeout: 5 * time.Second,
		Shards: 6, Audit: &jobs.AuditRequest{},
	})
	if err != nil {
		t.Fatal(err)
	}
	shard := runningOn(t, c, spec.KindScan, "scanner", 60*time.Second, func(j jobs.Job) bool { return j.Progress != nil && j.Progress.Done > 0 })
	scanner.kill(t)
	// The audit follows the last shard, the killed one's retry included.
	batch := runningOn(t, c, spec.KindAudit, "auditor", 120*time.Second, func(jobs.Job) bool { return true })
	auditor.kill(t)
	t.Logf("killed scanner in shard job %d (%d/%d), auditor in audit job %d", shard.ID, shard.Progress.Done, shard.Progress.Total, batch.ID)
	// The audits now need a worker: a fresh one, with every kind.
	replacement := startWorker(t, dsn, "replacement")

	// River's leader rescues the killed workers' jobs after --rescue-after
	// (its rescuer looks every 30 s).
	list := settle(t, c, 120*time.Second)
	steady.stop(t)
	replacement.stop(t)
	kinds := byKind(list)
	if kinds[spec.KindScan] != 6 || kinds[spec.KindVulns] != 6 || kinds[spec.KindAudit] < 6 || len(kinds) != 3 {
		t.Errorf("jobs by kind %v, want 6 scan, 6 vulns, at least 6 audit, all completed", kinds)
	}
	for _, id := range []int64{shard.ID, batch.ID} {
		j, err := c.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		last := j.AttemptedBy[len(j.AttemptedBy)-1]
		if j.State != "completed" || j.Attempt < 2 || last == "scanner" || last == "auditor" {
			t.Errorf("killed job %d: %s after %d attempts, last on %s (by %v); want completed elsewhere",
				id, j.State, j.Attempt, last, j.AttemptedBy)
		}
	}
	// The retried shard carried on with the run (and checkpoint) of the
	// attempt that was killed.
	if j, err := c.Get(ctx, shard.ID); err != nil || j.Run != shard.Run || j.Progress == nil || j.Progress.Done != j.Progress.Total {
		t.Errorf("retried shard job %d: run %d, progress %+v (%v); want run %d walked to the end", shard.ID, j.Run, j.Progress, err, shard.Run)
	}
	if !slices.Contains(sub.Jobs, shard.ID) {
		t.Errorf("killed shard job %d is not one of the submitted %v", shard.ID, sub.Jobs)
	}
	compare(t, ref.DB(), st.DB())
}

// TestScheduleOncePerPeriod runs a schedule every 2 s with two worker
// processes alive: each period's run is enqueued once (River's leader, a
// job unique per period), and each run's work once.
func TestScheduleOncePerPeriod(t *testing.T) {
	dsn := testpeer.Postgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := jobs.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	const every = 2 * time.Second
	if err := c.AddSchedule(ctx, jobs.Schedule{Name: "tick", Every: every, Vulns: true}); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--concurrency", "scan=0,audit=0"}
	a := startWorker(t, dsn, "a", flags...)
	b := startWorker(t, dsn, "b", flags...)
	time.Sleep(11 * time.Second)
	a.stop(t)
	b.stop(t)
	list, err := c.List(ctx, jobs.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var runs []time.Time
	vulns := 0
	for _, j := range list {
		switch j.Kind {
		case spec.KindSchedule:
			if !strings.Contains(string(j.Args), `"tick"`) {
				t.Errorf("schedule job %d: args %s", j.ID, j.Args)
			}
			runs = append(runs, j.CreatedAt)
		case spec.KindVulns:
			vulns++
		}
	}
	slices.SortFunc(runs, func(x, y time.Time) int { return x.Compare(y) })
	// Started within 11 s of the workers (leader election and the first
	// period included): at least 3 periods, at most one run per period.
	if len(runs) < 3 || len(runs) > 6 {
		t.Errorf("%d runs of a 2 s schedule in 11 s: %v", len(runs), runs)
	}
	for i := 1; i < len(runs); i++ {
		if gap := runs[i].Sub(runs[i-1]); gap < every*3/4 {
			t.Errorf("runs %d and %d of the schedule %s apart, want one per %s", i-1, i, gap, every)
		}
	}
	if vulns > len(runs) || vulns < len(runs)-1 { // the last period's work may still be waiting
		t.Errorf("%d schedule runs enqueued %d matches, want one each", len(runs), vulns)
	}
}
