package testpeer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var exportedRE = regexp.MustCompile(`Flows exported: \d+ \((\d+) records\)`)

// Softflowd replays the capture pcapPath with the real softflowd as
// NetFlow/IPFIX (version "5", "9" or "10") to the collector at addr
// (host:port) and returns the number of records it says it exported.
func Softflowd(t testing.TB, pcapPath, addr, version string) int {
	t.Helper()
	bin := needBinary(t, "softflowd")
	ctl := needBinary(t, "softflowctl")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl")
	var out bytes.Buffer
	cmd := exec.Command(bin, "-d", "-r", pcapPath, "-n", addr, "-v", version, "-m", "100000", "-c", sock, "-p", filepath.Join(dir, "pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// softflowd 1.1.0 may wait on its control socket after EOF: expire and shut down.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			m := exportedRE.FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("softflowd output without export count (%v):\n%s", err, out.String())
			}
			n, _ := strconv.Atoi(m[1])
			return n
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("softflowd did not finish:\n%s", out.String())
		case <-tick.C:
			if _, err := os.Stat(sock); err == nil {
				_ = exec.Command(ctl, "-c", sock, "expire-all").Run()
				_ = exec.Command(ctl, "-c", sock, "shutdown").Run()
			}
		}
	}
}
