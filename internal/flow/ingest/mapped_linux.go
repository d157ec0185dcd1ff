package ingest

import (
	"crypto/sha256"
	"os"

	"golang.org/x/sys/unix"
)

// mapInput maps the first size bytes of f and starts hashing them (see
// mappedInput).
func mapInput(f *os.File, size int64) (*mappedInput, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, errNotMapped
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	m := &mappedInput{data: data, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go m.hash(sha256.New())
	return m, nil
}

// release gives back the pages of the mapping's first n bytes that are not
// yet (whole pages only: the next ones may still be read).
func (m *mappedInput) release(n int) {
	n &^= os.Getpagesize() - 1
	if n > m.released {
		_ = unix.Madvise(m.data[m.released:n], unix.MADV_DONTNEED)
		m.released = n
	}
}

func unmap(data []byte) error { return unix.Munmap(data) }
