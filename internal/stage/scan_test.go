package stage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"iotwatch/internal/cli"
	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/target"
	"iotwatch/internal/testpeer"
)

// helperArgs makes the test binary run the iotwatch command line with these
// arguments (one per line) instead of the tests: the process a test kills.
const helperArgs = "IOTWATCH_STAGE_CLI_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(helperArgs); a != "" {
		err := cli.Execute(context.Background(), strings.Split(a, "\n"), os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "iotwatch:", err)
			os.Exit(cli.ExitCode(err))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fleet starts a small simulated fleet on its own loopback prefix and
// returns it with the scan arguments that cover it.
func fleet(t *testing.T, prefix string, devices int) (*simulate.Fleet, []string, string) {
	t.Helper()
	f, err := simulate.Start(context.Background(), simulate.Options{Prefix: netip.MustParsePrefix(prefix), Devices: devices, Seed: 7, Weak: 0.3})
	if err != nil {
		t.Skipf("simulated fleet: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	var ports []string
	for _, p := range f.TCPPorts() {
		ports = append(ports, strconv.Itoa(int(p)))
	}
	for _, p := range f.UDPPorts() {
		ports = append(ports, strconv.Itoa(int(p))+"/udp")
	}
	return f, []string{prefix}, strings.Join(ports, ",")
}

// endpoints lists the distinct services stored by every run in db.
func endpoints(t *testing.T, db string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query(`SELECT DISTINCT ip, port, transport, protocol FROM services ORDER BY 1, 2, 3, 4`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ip, tr, proto string
		var port int
		if err := rows.Scan(&ip, &port, &tr, &proto); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d/%s %s", ip, port, tr, proto))
	}
	return out
}

// databases returns, per backend, a function that names a new database:
// SQLite always, PostgreSQL when IOTWATCH_TEST_PG names a server.
func databases(t *testing.T) map[string]func(name string) string {
	dbs := map[string]func(string) string{}
	for name, newDB := range testpeer.Databases(t) {
		dbs[name] = func(string) string { return newDB() }
	}
	return dbs
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := cli.Execute(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("iotwatch %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// checkpointed returns the stored checkpoint position of the newest scan
// in db, 0 when there is none yet.
func checkpointed(db string) uint64 {
	st, err := store.Open(context.Background(), db)
	if err != nil {
		return 0
	}
	defer st.Close()
	var pos string
	st.DB().QueryRow(`SELECT position FROM scan_checkpoints ORDER BY run_id DESC LIMIT 1`).Scan(&pos)
	n, _ := strconv.ParseUint(pos, 10, 64)
	return n
}

// TestScanKilledThenResumed (issue 14.2): a scan killed with SIGKILL once its
// checkpoint has moved, then resumed, stores the same services as an
// uninterrupted scan; the killed run is listed as abandoned.
func TestScanKilledThenResumed(t *testing.T) {
	_, targets, ports := fleet(t, "127.61.0.0/26", 60)
	args := append([]string{"--log-level", "warn", "scan", "--ports", ports, "--rate", "200", "--seed", "7", "--format", "jsonl"}, targets...)
	for name, newDB := range databases(t) {
		t.Run(name, func(t *testing.T) { killThenResume(t, newDB, args, targets) })
	}
}

func killThenResume(t *testing.T, newDB func(string) string, args, targets []string) {
	whole := newDB("whole")
	runCLI(t, append([]string{"--db", whole}, args...)...)
	want := endpoints(t, whole)
	if len(want) < 60 {
		t.Fatalf("uninterrupted scan stored %d services; the fleet has more", len(want))
	}

	killed := newDB("killed")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join(append([]string{"--db", killed}, args...), "\n"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for checkpointed(killed) == 0 {
		select {
		case err := <-done:
			t.Fatalf("scan ended (%v) before its first checkpoint", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	<-done
	before := len(endpoints(t, killed))
	if before >= len(want) {
		t.Fatalf("the scan finished (%d services) before it was killed", before)
	}

	var listed []model.Run
	for _, l := range strings.Split(strings.TrimSpace(runCLI(t, "--db", killed, "runs", "--json")), "\n") {
		var r model.Run
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		listed = append(listed, r)
	}
	if len(listed) != 1 || listed[0].Status != model.RunAbandoned {
		t.Fatalf("runs after the kill = %+v, want one abandoned run", listed)
	}

	runCLI(t, append([]string{"--db", killed}, slices.Concat(args[:len(args)-len(targets)], []string{"--resume"})...)...)
	got := endpoints(t, killed)
	if !slices.Equal(got, want) {
		t.Errorf("killed (with %d services stored) and resumed: %d services, uninterrupted: %d\nmissing: %v",
			before, len(got), len(want), missing(want, got))
	}
	// The resumed run matches vulnerabilities over the whole logical scan.
	wantV, gotV := vulns(t, whole), vulns(t, killed)
	if len(wantV) == 0 || !slices.Equal(gotV, wantV) {
		t.Errorf("vulnerability matches: killed and resumed %d, uninterrupted %d\nmissing: %v", len(gotV), len(wantV), missing(wantV, gotV))
	}
}

// vulns lists the distinct vulnerability matches stored in db.
func vulns(t *testing.T, db string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query(`SELECT DISTINCT subject, port, cve FROM vuln_matches ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var subject, cve string
		var port int
		if err := rows.Scan(&subject, &port, &cve); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d %s", subject, port, cve))
	}
	return out
}

func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// TestScanInterruptedResumesWhereItStopped (issue 14.11): a scan cancelled
// (Ctrl-C) while an early item hangs resumes after the last item it
// dispatched and redoes only the items in flight, not everything since the
// hanging one: the two runs together try every item exactly once.
func TestScanInterruptedResumesWhereItStopped(t *testing.T) {
	_, targets, ports := fleet(t, "127.61.1.0/26", 40)
	// A tarpit that accepts and never answers holds its item in flight.
	tarpit := "127.62.1.1"
	ln, err := net.Listen("tcp", tarpit+":"+strings.Split(ports, ",")[0])
	if err != nil {
		t.Skipf("tarpit: %v", err)
	}
	defer ln.Close()
	var held atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Store(true)
			defer c.Close()
		}
	}()
	targets = append(targets, tarpit)
	pp, err := target.ParsePorts(ports)
	if err != nil {
		t.Fatal(err)
	}
	cfg := scan.Config{Targets: targets, Ports: pp, Rate: 300, Seed: 11, Concurrency: 50, Timeout: 20 * time.Second}
	for name, newDB := range databases(t) {
		t.Run(name, func(t *testing.T) { interruptThenResume(t, newDB("interrupted"), cfg, ports, &held) })
	}
}

func interruptThenResume(t *testing.T, db string, cfg scan.Config, ports string, held *atomic.Bool) {
	ctx := context.Background()
	targets := cfg.Targets
	held.Store(false)
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	sp, err := scan.Space(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	total := sp.Len()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var after int
	run1, _ := stage.Start(ctx, st, "scan", targets, stage.ScanStages)
	res1, err := stage.Scan(cctx, st, run1, stage.ScanOptions{Config: cfg, Ports: ports, Emit: func(model.Service) error {
		if held.Load() {
			if after++; after == 30 {
				cancel()
			}
		}
		return nil
	}})
	run1.Finish(ctx, err)
	if after < 30 {
		t.Fatalf("the scan ended (%v) before the tarpit held an item and 30 more services came: seed 11 puts the tarpit too late", err)
	}
	opts := stage.ScanOptions{}
	if _, err := stage.PrepareResume(ctx, st, &opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Config.Pending) == 0 {
		t.Fatal("checkpoint lists no pending item; the tarpit's was in flight")
	}
	opts.Config.Rate, opts.Config.Timeout = 0, time.Second
	run2, _ := stage.Start(ctx, st, "scan", opts.Config.Targets, stage.ScanStages)
	res2, err := stage.Scan(ctx, st, run2, opts)
	if err = run2.Finish(ctx, err); err != nil {
		t.Fatal(err)
	}
	if got := res1.Stats.Items + res2.Stats.Items; got != total {
		t.Errorf("interrupted run tried %d items, resumed run %d (from position %d, %d pending): %d in all, want %d (each once)",
			res1.Stats.Items, res2.Stats.Items, opts.Config.Start, len(opts.Config.Pending), got, total)
	}
	if _, err := stage.PrepareResume(ctx, st, &stage.ScanOptions{}); err == nil {
		t.Error("after the resumed scan completed, --resume still finds a scan to continue")
	}
}
