package unpack

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Extracted files are carved through read-only file mappings. Every page of
// a mapping that is read stays in the process's resident set until the
// mapping goes, so carving a 500 MiB decompressed stream used to hold 500 MiB
// resident. The carver therefore gives back the pages it has finished with
// (madvise MADV_DONTNEED: for a read-only shared file mapping the kernel
// simply drops them; a later read faults them in again from the page cache),
// and resident memory stays flat whatever the size of the largest file.

// pageSize is the granularity of MADV_DONTNEED.
var pageSize = os.Getpagesize()

// mappedSpans are the file mappings currently open, so that release never
// touches memory that is not a file mapping (on anonymous memory
// MADV_DONTNEED would zero it).
type mappedSpans struct {
	mu    sync.Mutex // guards spans
	spans [][2]uintptr
}

func (m *mappedSpans) add(b []byte) {
	if len(b) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	m.mu.Lock()
	m.spans = append(m.spans, [2]uintptr{p, p + uintptr(len(b))})
	m.mu.Unlock()
}

func (m *mappedSpans) remove(b []byte) {
	if len(b) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.spans {
		if s[0] == p {
			m.spans = append(m.spans[:i], m.spans[i+1:]...)
			return
		}
	}
}

// release drops the whole pages of b from the resident set when b lies in a
// file mapping; otherwise it does nothing.
func (m *mappedSpans) release(b []byte) {
	if m == nil || len(b) < pageSize {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	end := start + uintptr(len(b))
	m.mu.Lock()
	inside := false
	for _, s := range m.spans {
		if start >= s[0] && end <= s[1] {
			inside = true
			break
		}
	}
	m.mu.Unlock()
	if !inside {
		return
	}
	ps := uintptr(pageSize)
	a := (start + ps - 1) &^ (ps - 1)
	z := end &^ (ps - 1)
	if z <= a {
		return
	}
	off := a - start
	_ = unix.Madvise(b[off:off+(z-a)], unix.MADV_DONTNEED)
}

// dropBehind gives back the pages of the input a decompressor has consumed,
// every dropEvery bytes, while its output is copied to disk.
type dropBehind struct {
	r        interface{ Read([]byte) (int, error) }
	data     []byte
	consumed func() int
	m        *mappedSpans
	done     int // bytes of data already released
}

const dropEvery = 8 << 20

func (d *dropBehind) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if c := d.consumed() - 1<<20; c-d.done >= dropEvery {
		d.m.release(d.data[d.done:c])
		d.done = c
	}
	return n, err
}
