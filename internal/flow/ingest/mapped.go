package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest/pcap"
)

// mappedInput is the first bytes of a file mapped into memory and read in
// place: the pcap reader parses its packets where they are (pcap.Buffered),
// with no read of them into a buffer, and its SHA-256 is computed from the
// mapping on a goroutine of its own (hash), at most hashAhead windows ahead
// of the reader. Pages that both have passed are given back to the system
// (release), so that the process holds a few windows of the file, not all
// of it. A file cut shorter while mapped faults at its lost pages: the
// reading (readMapped) and the hashing report that as errShrunk.
type mappedInput struct {
	data []byte
	off  int // the reader's
	fn   func(int64, int64)
	last time.Time

	passed   atomic.Int64 // off, for the hashing
	wake     chan struct{}
	stop     atomic.Bool
	done     chan struct{} // closed when the hashing ended
	sum      []byte
	hashErr  error
	released int // bytes given back, from the start (hashing's)
}

// mappedWindow is how many bytes the mapping shows the reader at once
// (Buffered): the reader discards them, and reports progress, a window at
// a time, as it does with its own buffer.
const mappedWindow = 1 << 20

var (
	errShrunk    = errors.New("the file was cut shorter while it was read")
	errNotMapped = errors.New("not mapped") // mapInput's: the file is to be read
)

var _ pcap.Buffered = (*mappedInput)(nil)

// Peek returns the next n bytes without passing them.
func (m *mappedInput) Peek(n int) ([]byte, error) {
	if rest := len(m.data) - m.off; n > rest {
		return m.data[m.off:], io.EOF
	}
	return m.data[m.off : m.off+n : m.off+n], nil
}

// Discard passes n bytes.
func (m *mappedInput) Discard(asked int) (int, error) {
	n := min(asked, len(m.data)-m.off)
	m.off += n
	m.passed.Store(int64(m.off))
	select {
	case m.wake <- struct{}{}:
	default:
	}
	if m.fn != nil && (m.off == len(m.data) || time.Since(m.last) > 200*time.Millisecond) {
		m.fn(int64(m.off), int64(len(m.data)))
		m.last = time.Now()
	}
	if n < asked {
		return n, io.EOF
	}
	return n, nil
}

// Buffered returns how many bytes the reader may peek at: a window.
func (m *mappedInput) Buffered() int { return min(mappedWindow, len(m.data)-m.off) }

// Size is the window's size.
func (m *mappedInput) Size() int { return mappedWindow }

func (m *mappedInput) Read(p []byte) (int, error) {
	if m.off == len(m.data) {
		return 0, io.EOF
	}
	n := copy(p, m.data[m.off:])
	_, _ = m.Discard(n)
	return n, nil
}

// hash computes h over the mapping, window by window, at most hashAhead
// windows ahead of the reader, giving back the pages both have passed.
func (m *mappedInput) hash(h hash.Hash) {
	defer close(m.done)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			m.hashErr = m.fault(v)
		}
	}()
	for pos := 0; pos < len(m.data); {
		if m.stop.Load() {
			return
		}
		if int64(pos) >= m.passed.Load()+hashAhead*mappedWindow {
			<-m.wake
			continue
		}
		end := min(pos+mappedWindow, len(m.data))
		h.Write(m.data[pos:end])
		pos = end
		m.release(min(pos, int(m.passed.Load())))
	}
	m.sum = h.Sum(nil)
}

// fault returns errShrunk for the panic v of a fault in the mapping (and
// panics again with any other).
func (m *mappedInput) fault(v any) error {
	if f, ok := v.(interface{ Addr() uintptr }); ok {
		if at := f.Addr() - uintptr(unsafe.Pointer(unsafe.SliceData(m.data))); at < uintptr(len(m.data)) {
			return fmt.Errorf("%w (byte %d of %d is gone)", errShrunk, at, len(m.data))
		}
	}
	panic(v)
}

// finish hashes what the reader left (it is done) and returns the digest
// of the mapped bytes.
func (m *mappedInput) finish(ctx context.Context) (string, error) {
	m.passed.Store(int64(len(m.data)))
	select {
	case m.wake <- struct{}{}:
	default:
	}
	<-m.done
	m.release(len(m.data)) // the hashing's end may have come before the reader's
	if m.hashErr != nil {
		return "", m.hashErr
	}
	if m.sum == nil {
		return "", errors.New("hashing stopped")
	}
	return hex.EncodeToString(m.sum), ctx.Err()
}

// close stops the hashing and unmaps the file: nothing read from it may be
// used after.
func (m *mappedInput) close() error {
	m.stop.Store(true)
	select {
	case m.wake <- struct{}{}:
	default:
	}
	<-m.done
	return unmap(m.data)
}

// readMapped runs read, which reads m in place: a fault in m's pages (the
// file was cut shorter meanwhile) ends it with errShrunk.
func readMapped(m *mappedInput, read func() (flow.Counts, error)) (c flow.Counts, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = m.fault(v)
		}
	}()
	return read()
}
