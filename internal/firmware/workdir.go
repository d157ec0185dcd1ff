package firmware

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// An analysis extracts into a private temporary directory named
// iotwatch-fw-<host>-<pid>-<random> that holds a lock file, flock-ed for as
// long as the analysis runs. A killed analysis cannot remove its directory
// (hundreds of megabytes); the next analysis on the same host removes every
// such directory whose lock it can take, because the kernel releases a flock
// when its owner dies, whatever happened to the process id since.

const (
	workPrefix = "iotwatch-fw-"
	workLock   = ".owner.lock"
)

// workDir is one analysis's private extraction directory.
type workDir struct {
	path    string // the directory, holding the lock file
	extract string // where the image is unpacked: a subdirectory, so the lock is not analysed
	lock    *os.File
}

// newWorkDir creates and locks a fresh extraction directory below parent
// ("" = os.TempDir()).
func newWorkDir(parent string) (*workDir, error) {
	host := hostLabel()
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%s-%d-*", workPrefix, host, os.Getpid()))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, workLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	extract := filepath.Join(dir, "extract")
	if err == nil {
		err = os.Mkdir(extract, 0o700)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return &workDir{path: dir, extract: extract, lock: f}, nil
}

// remove deletes the directory and gives up its lock.
func (w *workDir) remove() error {
	err := os.RemoveAll(w.path)
	w.lock.Close()
	return err
}

// removeStaleWorkDirs removes the extraction directories below parent
// ("" = os.TempDir()) left by analyses on this host that are gone, and
// returns how many it removed. Directories of other hosts (a shared
// temporary directory), of live analyses, and anything it cannot judge are
// left alone.
func removeStaleWorkDirs(parent string, log *slog.Logger) int {
	if parent == "" {
		parent = os.TempDir()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	host := hostLabel()
	removed := 0
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), workPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		// <host>-<pid>-<random>; the host label holds no '-'.
		parts := strings.SplitN(name, "-", 3)
		if len(parts) != 3 || parts[0] != host {
			continue
		}
		if _, err := strconv.Atoi(parts[1]); err != nil {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if !ownerGone(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("cannot remove a stale firmware extraction directory", "dir", dir, "err", err)
			continue
		}
		log.Info("removed the extraction directory of an interrupted firmware analysis", "dir", dir)
		removed++
	}
	return removed
}

// ownerGone reports whether dir's lock file exists and nobody holds it.
func ownerGone(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, workLock), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	// EWOULDBLOCK: a live analysis holds it.
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// hostLabel is the host name reduced to characters safe in a file name and
// free of '-'.
func hostLabel() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
