package jobs_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"iotwatch/internal/jobs"
	"iotwatch/internal/jobs/spec"
)

// privatePG starts a PostgreSQL cluster of the test's own (initdb and
// pg_ctl from /usr/lib/postgresql/*/bin, as the postgres user when the test
// runs as root) and returns its URL and a function that restarts it. It
// skips when PostgreSQL's programs are not installed.
func privatePG(t *testing.T) (dsn string, restart func()) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("PostgreSQL's pg_ctl is not installed")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	var as []string // the command prefix running as the cluster's owner
	base, err := os.MkdirTemp("", "iotwatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	data := filepath.Join(base, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(data, uid, gid); err != nil {
			t.Fatal(err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(name string, args ...string) {
		t.Helper()
		argv := append(append(as[:len(as):len(as)], filepath.Join(bin, name)), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	run("initdb", "-D", data, "-A", "trust", "-U", "iotwatch")
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, data)
	run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(data, "log"), "-w", "start")
	t.Cleanup(func() {
		argv := append(as[:len(as):len(as)], filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		_ = exec.Command(argv[0], argv[1:]...).Run() // the cluster's directory is removed next
	})
	run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "iotwatch", "iotwatch")
	return fmt.Sprintf("postgres://iotwatch@127.0.0.1:%d/iotwatch?sslmode=disable", port), func() {
		run("pg_ctl", "-D", data, "-m", "fast", "-o", opts, "-l", filepath.Join(data, "log"), "-w", "restart")
	}
}

// TestPostgresRestart restarts PostgreSQL while two worker processes run a
// sharded scan with audit: the workers reconnect, the jobs that failed are
// retried, and the evidence equals an uninterrupted run's.
func TestPostgresRestart(t *testing.T) {
	dsn, restart := privatePG(t)
	startFleet(t, clusterPrefix, 40)
	ref := reference(t, clusterPrefix)
	ctx := context.Background()
	st, c := openClient(t, dsn)
	a := startWorker(t, dsn, "a")
	b := startWorker(t, dsn, "b")
	if _, err := c.SubmitScan(ctx, jobs.ScanRequest{
		Targets: []string{clusterPrefix.String()}, Ports: fleetPorts, Rate: 40, Timeout: 5 * time.Second,
		Shards: 6, Audit: &jobs.AuditRequest{},
	}); err != nil {
		t.Fatal(err)
	}
	runningOn(t, c, spec.KindScan, "a", 60*time.Second, func(j jobs.Job) bool { return j.Progress != nil && j.Progress.Done > 0 })
	restart()
	t.Log("PostgreSQL restarted in the middle of a shard")
	list := settle(t, c, 150*time.Second)
	a.stop(t)
	b.stop(t)
	kinds := byKind(list)
	if kinds[spec.KindScan] != 6 || kinds[spec.KindVulns] != 6 || kinds[spec.KindAudit] < 6 || len(kinds) != 3 {
		t.Errorf("jobs by kind %v, want 6 scan, 6 vulns, at least 6 audit, all completed", kinds)
	}
	compare(t, ref.DB(), st.DB())
}
