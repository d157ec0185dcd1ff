package store

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const writebackSupported = true

// startWrite has the system start writing f's dirty pages, without waiting
// for them.
func startWrite(f *os.File) error { return startWriteFD(int(f.Fd())) }

// startWriteFD is startWrite on a descriptor.
func startWriteFD(fd int) error {
	return unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// openFD returns a descriptor this process has open on the file path (the
// same device and inode), or -1: SQLite's own, since a descriptor of our
// own, once closed, would release SQLite's locks on the file (POSIX locks
// belong to the process, and closing any descriptor of the file drops
// them). The descriptor is SQLite's: it is used, never closed.
func openFD(path string) int {
	var want unix.Stat_t
	if unix.Stat(path, &want) != nil {
		return -1
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Dev == want.Dev && st.Ino == want.Ino {
			return fd
		}
	}
	return -1
}
