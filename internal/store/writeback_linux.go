package store

import (
	"os"

	"golang.org/x/sys/unix"
)

const writebackSupported = true

// startWrite has the system start writing f's dirty pages, without waiting
// for them.
func startWrite(f *os.File) error {
	return unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
