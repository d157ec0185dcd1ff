package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// bin is the iotwatch binary built once for every test of the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iotwatch-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "iotwatch")
	build := exec.Command("go", "build", "-o", bin, "iotwatch/cmd/iotwatch")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: build iotwatch:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// campaign is how many interrupted runs a scenario makes per backend, and
// the random source for when to interrupt and with which signal.
type campaign struct {
	iters int
	rng   *rand.Rand
	seed  uint64
}

func newCampaign(t *testing.T, short int) campaign {
	t.Helper()
	n := short
	if s := os.Getenv("IOTWATCH_CRASH_ITER"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("IOTWATCH_CRASH_ITER=%q: want a positive number", s)
		}
		n = v
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IOTWATCH_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("IOTWATCH_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("campaign: %d interrupted runs per backend, IOTWATCH_CRASH_SEED=%d", n, seed)
	return campaign{iters: n, rng: rand.New(rand.NewPCG(seed, 0x10)), seed: seed}
}

// signal picks SIGINT or SIGKILL, alternating so a short campaign has both.
func (c campaign) signal(i int) syscall.Signal {
	if i%2 == 0 {
		return syscall.SIGKILL
	}
	return syscall.SIGINT
}

// within draws a kill time within the middle of an uninterrupted run's
// duration (5% to 90% of it), so most kills land while work is under way.
func (c campaign) within(ref time.Duration) time.Duration {
	lo, hi := ref/20, ref*9/10
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
}

// backend is one evidence store kind: a fresh database per call of dsn.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

func backends(t *testing.T) []backend {
	var bs []backend
	for name := range testpeer.Databases(t) {
		bs = append(bs, backend{name, func(t *testing.T) string { return testpeer.Databases(t)[name]() }})
	}
	slices.SortFunc(bs, func(a, b backend) int { return strings.Compare(a.name, b.name) })
	return bs
}

// result is what one process did.
type result struct {
	code           int
	signaled       bool
	stdout, stderr string
	took           time.Duration
}

// run starts iotwatch with args against db, optionally sends sig after
// delay (0: never), and waits for it (at most limit).
func run(t *testing.T, db string, env []string, sig syscall.Signal, after time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	full := append([]string{"--db", db, "--log-level", "warn"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	if sig != 0 {
		timer := time.AfterFunc(after, func() { _ = cmd.Process.Signal(sig) })
		defer timer.Stop()
	}
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%v: %v", args, err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signaled, r.code = true, -1
		} else {
			r.code = ee.ExitCode()
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within its limit (a hang)\nstderr: %s", args, tail(r.stderr))
	}
	return r
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// mustOK runs args to completion and fails the test unless it exits 0.
func mustOK(t *testing.T, db string, env []string, args ...string) result {
	t.Helper()
	r := run(t, db, env, 0, 0, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d\nstderr: %s", args, r.code, tail(r.stderr))
	}
	return r
}

// query returns the rows of q as sorted strings, one per row, columns
// joined by "|".
func query(t *testing.T, dsn, q string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer st.Close()
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// integrity checks a SQLite database with PRAGMA integrity_check (a
// PostgreSQL server keeps its own consistency).
func integrity(t *testing.T, dsn string) {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres") {
		return
	}
	if got := query(t, dsn, "PRAGMA integrity_check"); len(got) != 1 || got[0] != "ok" {
		t.Errorf("integrity_check: %v", got)
	}
}

// diff reports the elements only in want (lost) and only in got (extra).
func diff(want, got []string) (lost, extra []string) {
	w := map[string]int{}
	for _, s := range want {
		w[s]++
	}
	for _, s := range got {
		if w[s] > 0 {
			w[s]--
			continue
		}
		extra = append(extra, s)
	}
	for s, n := range w {
		for ; n > 0; n-- {
			lost = append(lost, s)
		}
	}
	sort.Strings(lost)
	return lost, extra
}

// counts tallies a campaign for the log line the issue note quotes.
type counts struct {
	kills, resumes, mismatches int
	// completedBeforeKill counts kills that landed after the run had
	// recorded its completion.
	completedBeforeKill int
}

func (c *counts) report(t *testing.T, what string) {
	t.Logf("%s: %d interrupted runs, %d resumes/re-runs, %d mismatches (%d killed after completing)", what, c.kills, c.resumes, c.mismatches, c.completedBeforeKill)
}

// compare checks got against want and counts a mismatch.
func (c *counts) compare(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the uninterrupted run found nothing; the comparison would prove nothing", what)
	}
	lost, extra := diff(want, got)
	if len(lost) > 0 || len(extra) > 0 {
		c.mismatches++
		t.Errorf("%s: %d lost, %d duplicated or extra (of %d)\nlost: %v\nextra: %v", what, len(lost), len(extra), len(want),
			head(lost), head(extra))
	}
}

func head(s []string) []string {
	if len(s) > 8 {
		return append(s[:8:8], fmt.Sprintf("… %d more", len(s)-8))
	}
	return s
}

// interruptThenRerun runs args, interrupts it at a random moment of an
// uninterrupted run's duration (took), and runs it again to completion when
// the interruption cut it short.
func (n *counts) interruptThenRerun(t *testing.T, c campaign, i int, db string, env []string, took time.Duration, args ...string) {
	t.Helper()
	r := run(t, db, env, c.signal(i), c.within(took), args...)
	n.kills++
	if r.code != 0 {
		n.resumes++
		mustOK(t, db, env, args...)
	}
}

// settled checks the store once every process has ended: no run left
// running, the database intact.
func (n *counts) settled(t *testing.T, db string) {
	t.Helper()
	if rs := running(t, db); len(rs) > 0 {
		n.mismatches++
		t.Errorf("runs still 'running' after every process ended: %v", rs)
	}
	integrity(t, db)
}

// running returns runs still marked running once every process has ended.
func running(t *testing.T, dsn string) []string {
	return query(t, dsn, "SELECT id, kind FROM runs WHERE status = 'running'")
}
