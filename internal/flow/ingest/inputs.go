package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/store"
)

// A re-run must update, not duplicate. Every file input read completely is
// recorded (flow_inputs: path, bytes read from the start, their SHA-256). Before
// a file is read, its bytes are hashed once (per input, never per record):
//   - the same bytes already recorded, under any name: the input is skipped
//     and said so; its records stay counted once;
//   - a recorded input of the same path is a prefix of the file (a capture or
//     log that grew by appending): only the new part is read, after the
//     format's header (pcap global header, pcapng section and interface
//     blocks, Zeek '#' directives, the nfdump CSV header line); an exporter
//     capture first replays the old part into no sink, so the NetFlow v9 and
//     IPFIX templates it declared decode the new part;
//   - otherwise the file is new and read whole.
// Line formats changed in the last minute are read up to their last complete
// line: a line still being written is read by the next ingest. A capture cut mid-record (still being
// written) is recorded up to its last complete record, where the next ingest
// reads on. A grown file whose new part cannot be read alone (a pcapng header
// that does not parse) is skipped with a warning rather than counted twice.

// inputPlan is what to read of one file input.
type inputPlan struct {
	in    flow.Input  // the record to save once the input is read (Size = end; SHA256 "" = hash while reading)
	start int64       // first byte of new data (0 = the whole file)
	skip  *flow.Input // the same bytes were ingested already
	prev  *flow.Input // the prefix read by an earlier ingest (start > 0)
}

// stillWritten is how recently a log must have changed for an unterminated
// last line to count as still being written (and be left for the next
// ingest); an older file's last line is read even without its newline.
const stillWritten = time.Minute

// lineFormat reports whether a kind is read line by line.
func lineFormat(k Kind) bool { return k == Zeek || k == NfdumpCSV }

// planInput hashes the file and decides what to read of it.
// done are the inputs read earlier in this run.
func planInput(ctx context.Context, st *store.Store, s Source, f *os.File, done []flow.Input) (*inputPlan, error) {
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end := fi.Size()
	if lineFormat(s.Kind) && time.Since(fi.ModTime()) < stillWritten {
		if end, err = lastLineEnd(f, end); err != nil {
			return nil, err
		}
	}
	var prior []flow.Input
	if st != nil { // nil: a new store (RunAllNew), which has recorded no input
		if prior, err = flow.InputsAt(ctx, st, abs); err != nil {
			return nil, err
		}
	}
	// Only an earlier ingest of the file as this format can be extended:
	// the same bytes named as another format are read (and refused) anew.
	prior = slices.DeleteFunc(prior, func(in flow.Input) bool { return in.Kind != string(s.Kind) })
	var cuts []int64
	for _, p := range prior {
		if p.Size > 0 && p.Size < end {
			cuts = append(cuts, p.Size)
		}
	}
	p := &inputPlan{in: flow.Input{Kind: string(s.Kind), Path: abs, Size: end}}
	if len(cuts) == 0 {
		// No earlier version of this file to extend; unless an input of the
		// same size was recorded, it cannot be a repeat: hash it while
		// reading instead of in a pass of its own.
		same := slices.ContainsFunc(done, func(in flow.Input) bool { return in.Size == end })
		if !same && st != nil { // nil: a new store has recorded no input
			var err error
			if same, err = flow.InputOfSizeRecorded(ctx, st, end); err != nil {
				return p, err
			}
		}
		if !same {
			return p, nil
		}
	}
	sum, at, err := hashPrefixes(ctx, f, end, cuts)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", s.Path, err)
	}
	p.in.SHA256 = sum
	if st == nil {
		return p, nil // the same bytes earlier in this run: the caller skips them
	}
	if p.skip, err = flow.IngestedInput(ctx, st, string(s.Kind), sum, end); err != nil || p.skip != nil {
		return p, err
	}
	for i := len(prior) - 1; i >= 0; i-- {
		if h, ok := at[prior[i].Size]; ok && h == prior[i].SHA256 {
			p.prev, p.start = &prior[i], prior[i].Size
			break
		}
	}
	return p, nil
}

// lastLineEnd returns the offset just after the last newline of the file's
// first size bytes (size itself when it ends in one, or holds none in its
// last MiB).
func lastLineEnd(f *os.File, size int64) (int64, error) {
	const window = 1 << 20
	from := max(0, size-window)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 {
		return size, nil
	}
	return from + int64(i) + 1, nil
}

// hashPrefixes returns the SHA-256 of the file's first end bytes and of its
// first n bytes for each n in cuts.
func hashPrefixes(ctx context.Context, f *os.File, end int64, cuts []int64) (string, map[int64]string, error) {
	slices.Sort(cuts)
	h := sha256.New()
	at := map[int64]string{}
	var off int64
	buf := make([]byte, 1<<20)
	for _, c := range append(cuts, end) {
		for off < c {
			if err := ctx.Err(); err != nil {
				return "", nil, err
			}
			n, err := f.ReadAt(buf[:min(int64(len(buf)), c-off)], off)
			h.Write(buf[:n])
			off += int64(n)
			if err != nil && off < c {
				return "", nil, err
			}
		}
		at[c] = hex.EncodeToString(h.Sum(nil))
	}
	return at[end], at, nil
}

// tailReader returns the format's header followed by the bytes [start, end):
// what a reader needs to decode the part of a file appended since start.
func tailReader(k Kind, f *os.File, start, end int64) (io.Reader, error) {
	var hdr []byte
	var err error
	switch k {
	case PCAP, NetflowPCAP:
		hdr, err = captureHeader(f, start)
	case Zeek:
		hdr, err = leadingLines(f, start, func(l []byte) bool { return bytes.HasPrefix(l, []byte("#")) })
	case NfdumpCSV:
		first := true
		hdr, err = leadingLines(f, start, func([]byte) bool { ok := first; first = false; return ok })
	default:
		return nil, fmt.Errorf("%s input cannot be read in part", k)
	}
	if err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(hdr), io.NewSectionReader(f, start, end-start)), nil
}

// captureHeader returns what precedes the first packet of a pcap (the 24-byte
// global header) or pcapng capture (section header and interface blocks).
func captureHeader(f *os.File, limit int64) ([]byte, error) {
	var m [12]byte
	if _, err := f.ReadAt(m[:], 0); err != nil {
		return nil, fmt.Errorf("capture header: %w", err)
	}
	if binary.BigEndian.Uint32(m[:4]) != 0x0A0D0D0A {
		if limit < 24 {
			return nil, errors.New("capture header: shorter than 24 bytes")
		}
		hdr := make([]byte, 24)
		_, err := f.ReadAt(hdr, 0)
		return hdr, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(m[8:]) == 0x1A2B3C4D {
		bo = binary.BigEndian
	}
	var off int64
	for off < limit {
		var bh [8]byte
		if _, err := f.ReadAt(bh[:], off); err != nil {
			return nil, fmt.Errorf("pcapng block at %d: %w", off, err)
		}
		typ, n := bo.Uint32(bh[:4]), int64(bo.Uint32(bh[4:]))
		if typ == 2 || typ == 3 || typ == 6 { // packet blocks
			break
		}
		if n < 12 || off+n > limit {
			return nil, fmt.Errorf("pcapng block at %d: length %d", off, n)
		}
		off += n
	}
	hdr := make([]byte, off)
	_, err := f.ReadAt(hdr, 0)
	return hdr, err
}

// leadingLines returns the file's first lines, up to limit bytes, for which
// keep holds.
func leadingLines(f *os.File, limit int64, keep func([]byte) bool) ([]byte, error) {
	br := bufio.NewReader(io.NewSectionReader(f, 0, limit))
	var out []byte
	for {
		l, err := br.ReadBytes('\n')
		if len(l) == 0 || !keep(l) {
			return out, nil
		}
		out = append(out, l...)
		if err != nil {
			return out, nil
		}
	}
}

// discard is a sink that drops everything: an exporter capture's old part is
// replayed into it only to learn its templates.
type discard struct{}

func (discard) Flow(flow.Record)   {}
func (discard) DNS(flow.DNSAnswer) {}

var _ flow.Sink = discard{}

// nowInput stamps an input record.
func nowInput(in flow.Input) flow.Input {
	in.Time = time.Now()
	return in
}

// hashingReader computes the SHA-256 of what is read through it, on
// goroutines of its own: the reader (an ingest's producer, the pipeline's
// busiest goroutine) only copies each read's bytes; a goroutine per read
// hashes them once the previous one has (the writes to h are in order,
// one at a time), then ends. At most hashAhead reads wait for their hash:
// a reader ahead of that waits.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	last chan struct{} // closed when the latest read's bytes are hashed
	bufs chan []byte   // a read takes one, its hashing gives it back
}

const hashAhead = 4

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if n > 0 {
		if hr.bufs == nil {
			hr.bufs = make(chan []byte, hashAhead)
			for range hashAhead {
				hr.bufs <- nil
			}
		}
		b := append((<-hr.bufs)[:0], p[:n]...)
		prev, done := hr.last, make(chan struct{})
		hr.last = done
		go func() {
			if prev != nil {
				<-prev
			}
			hr.h.Write(b)
			hr.bufs <- b
			close(done)
		}()
	}
	hr.n += int64(n)
	return n, err
}

// finish hashes what the reader of the file left unread up to end and
// returns the digest of the file's first end bytes.
func (hr *hashingReader) finish(ctx context.Context, f *os.File, end int64) (string, error) {
	if hr.last != nil {
		<-hr.last
	}
	if hr.n < end {
		if _, err := io.Copy(hr.h, io.NewSectionReader(f, hr.n, end-hr.n)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(hr.h.Sum(nil)), ctx.Err()
}

// recordsEnd returns the offset just after the last complete record of a
// capture (pcap records, pcapng blocks) between from (a record boundary, or 0
// for the whole file) and end: where a capture cut mid-record, as one still
// being written is, can be read on from next time.
func recordsEnd(f *os.File, from, end int64) (int64, error) {
	var m [12]byte
	if _, err := f.ReadAt(m[:], 0); err != nil {
		return 0, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	ng := binary.BigEndian.Uint32(m[:4]) == 0x0A0D0D0A
	switch {
	case ng && binary.BigEndian.Uint32(m[8:]) == 0x1A2B3C4D:
		bo = binary.BigEndian
	case !ng && (binary.BigEndian.Uint32(m[:4]) == 0xA1B2C3D4 || binary.BigEndian.Uint32(m[:4]) == 0xA1B23C4D):
		bo = binary.BigEndian
	}
	off := from
	if !ng {
		off = max(from, 24)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 1<<16)
	for {
		var h [16]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return off, nil
		}
		var n int64
		if ng {
			n = int64(bo.Uint32(h[4:8])) - 16
			if n < 0 || n%4 != 0 {
				return off, nil
			}
		} else {
			n = int64(bo.Uint32(h[8:12]))
		}
		if d, _ := br.Discard(int(n)); int64(d) < n {
			return off, nil
		}
		off += 16 + n
	}
}
