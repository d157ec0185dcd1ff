package firmware

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaleWorkDirs leaves a work directory behind from a process that dies
// without cleaning up, keeps one of a live analysis, and expects the next
// sweep to remove only the first.
func TestStaleWorkDirs(t *testing.T) {
	if parent := os.Getenv("IOTWATCH_WORKDIR_CHILD"); parent != "" {
		wd, err := newWorkDir(parent)
		if err != nil {
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(wd.extract, "big"), make([]byte, 1<<20), 0o644)
		os.Exit(0) // killed: no cleanup
	}
	parent := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleWorkDirs$")
	cmd.Env = append(os.Environ(), "IOTWATCH_WORKDIR_CHILD="+parent)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	stale, _ := filepath.Glob(filepath.Join(parent, workPrefix+"*"))
	if len(stale) != 1 || !strings.Contains(filepath.Base(stale[0]), fmt.Sprintf("-%d-", cmd.Process.Pid)) {
		t.Fatalf("left behind: %v, want one directory naming pid %d", stale, cmd.Process.Pid)
	}
	live, err := newWorkDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove()
	// Neither an old-style directory nor another host's is judged.
	other := filepath.Join(parent, workPrefix+"otherhost-1-123")
	old := filepath.Join(parent, workPrefix+"123456")
	for _, d := range []string{other, old} {
		os.MkdirAll(d, 0o700)
		os.WriteFile(filepath.Join(d, workLock), nil, 0o600)
	}

	log := slog.New(slog.DiscardHandler)
	if got := removeStaleWorkDirs(parent, log); got != 1 {
		t.Errorf("removed %d directories, want 1", got)
	}
	for _, d := range []string{live.path, other, old} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v, want it kept", d, err)
		}
	}
	if _, err := os.Stat(stale[0]); !os.IsNotExist(err) {
		t.Errorf("stale %s: %v, want it removed", stale[0], err)
	}
	if got := removeStaleWorkDirs(parent, log); got != 0 {
		t.Errorf("second sweep removed %d, want 0 (the live one is locked)", got)
	}
}
