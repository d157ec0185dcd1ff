package stage_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLargeScanRefused (issue 14.6): `scan 0.0.0.0/0 -p 80` without --rate
// and --allow-large is refused before anything is sent, saying how large
// the scan is. The command runs inside `unshare -n` (no route out), so a
// missing refusal could not send anything anywhere.
func TestLargeScanRefused(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || exec.Command(unshare, "-n", "true").Run() != nil {
		t.Skip("unshare -n is not available (needs root or user namespaces)")
	}
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	for _, extra := range [][]string{nil, {"--rate", "1000"}, {"--allow-large"}} {
		args := append([]string{"--db", db, "scan", "0.0.0.0/0", "-p", "80", "--no-store"}, extra...)
		cmd := exec.Command(unshare, "-n", os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join(args, "\n"))
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("scan 0.0.0.0/0 %v: %v, want exit status 2\n%s", extra, err, errOut.String())
			continue
		}
		msg := errOut.String()
		if !strings.Contains(msg, "larger than a /8") || !strings.Contains(msg, "public") || !strings.Contains(msg, "--allow-large") {
			t.Errorf("scan 0.0.0.0/0 %v: message %q does not say why or what to do", extra, msg)
		}
	}
}
