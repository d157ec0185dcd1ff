package unpack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrLimit is returned (wrapped) when extraction hits a size, count or depth cap.
var ErrLimit = errors.New("extraction limit reached")

// ErrUnsafePath is returned (wrapped) for archive entries whose names would
// leave the extraction directory.
var ErrUnsafePath = errors.New("unsafe path")

// Limits caps what one Unpack may produce, against decompression bombs and
// archive floods.
type Limits struct {
	MaxBytes    int64 // total bytes written
	MaxFileSize int64 // bytes of any one extracted file or decompressed stream
	MaxFiles    int   // files and directories created
	MaxDepth    int   // container nesting
	MaxAttempts int   // failed signature parses per blob before giving up on the blob
}

// DefaultLimits are generous enough for real router and camera images.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 30, MaxFileSize: 512 << 20, MaxFiles: 200_000, MaxDepth: 8, MaxAttempts: 4000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxAttempts <= 0 {
		l.MaxAttempts = d.MaxAttempts
	}
	return l
}

// sandbox writes extracted entries below one directory. It never creates
// symbolic links or device nodes (links are recorded, not materialised), so no
// path component inside it can point outside; os.Root enforces the same.
//
// It is safe for concurrent use: filesystem walkers extract files in parallel.
type sandbox struct {
	root  *os.Root
	dir   string
	lim   Limits
	bytes atomic.Int64 // bytes written, all files

	mu       sync.Mutex        // guards the fields below
	files    int               // files, directories and links created
	links    map[string]string // sandbox-relative link path → link target as stored
	rejected []string          // entry names refused as unsafe
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func newSandbox(dir string, lim Limits) (*sandbox, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open extraction root: %w", err)
	}
	return &sandbox{root: r, dir: dir, lim: lim, links: map[string]string{}}, nil
}

func (s *sandbox) close() error { return s.root.Close() }

// safeJoin joins an archive entry name below base (sandbox-relative). Absolute
// names are re-rooted; names that climb with ".." or hold NUL are refused.
func safeJoin(base, name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: %q contains NUL", ErrUnsafePath, name)
	}
	n := strings.ReplaceAll(name, "\\", "/")
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q climbs out", ErrUnsafePath, name)
		}
	}
	n = strings.TrimLeft(path.Clean("/"+n), "/")
	if n == "" {
		return base, nil
	}
	if base == "" {
		return n, nil
	}
	return base + "/" + n, nil
}

func (s *sandbox) reject(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rejected) < 1000 {
		s.rejected = append(s.rejected, fmt.Sprintf("%q: %v", name, err))
	}
}

func (s *sandbox) count() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files++
	if s.files > s.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d files", ErrLimit, s.lim.MaxFiles)
	}
	return nil
}

func (s *sandbox) mkdir(rel string) error {
	if rel == "" {
		return nil
	}
	if err := s.count(); err != nil {
		return err
	}
	if err := s.root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", rel, err)
	}
	return nil
}

// link records a symbolic or hard link without creating it.
func (s *sandbox) link(rel, target string) error {
	if err := s.count(); err != nil {
		return err
	}
	s.mu.Lock()
	s.links[rel] = target
	s.mu.Unlock()
	return nil
}

// writeFile copies r into rel, enforcing the per-file and total caps. A
// partial file is kept when a cap is hit and the error wraps ErrLimit.
func (s *sandbox) writeFile(rel string, r io.Reader) (int64, []byte, error) {
	if err := s.count(); err != nil {
		return 0, nil, err
	}
	if d := path.Dir(rel); d != "." {
		if err := s.root.MkdirAll(d, 0o755); err != nil {
			return 0, nil, fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	f, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		// Duplicate entry names (tar append, cpio hard links): keep the first.
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("create %s: %w", rel, err)
	}
	lw := &limitWriter{w: f, fileLeft: s.lim.MaxFileSize, total: &s.bytes, max: s.lim.MaxBytes}
	buf := copyBufs.Get().(*[]byte)
	n, cerr := io.CopyBuffer(lw, r, *buf)
	copyBufs.Put(buf)
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	return n, lw.head, cerr
}

// uncount takes back a file counted by writeFile and then removed.
func (s *sandbox) uncount() {
	s.mu.Lock()
	s.files--
	s.mu.Unlock()
}

// fileCount returns how many entries were created.
func (s *sandbox) fileCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files
}

// limitWriter fails with ErrLimit once the file or total budget is spent.
type limitWriter struct {
	w        io.Writer
	fileLeft int64
	total    *atomic.Int64
	max      int64
	head     []byte // first maxHeadMagic bytes written
}

func (l *limitWriter) Write(p []byte) (int, error) {
	// Reserve the bytes in the shared total first, then give back what the
	// caps do not allow; concurrent writers never overshoot together.
	want := min(int64(len(p)), max(l.fileLeft, 0))
	after := l.total.Add(want)
	allowed := want
	if after > l.max {
		allowed = max(want-(after-l.max), 0)
		l.total.Add(allowed - want)
	}
	trunc := allowed < int64(len(p))
	p = p[:allowed]
	if len(l.head) < maxHeadMagic {
		l.head = append(l.head, p[:min(len(p), maxHeadMagic-len(l.head))]...)
	}
	n, err := l.w.Write(p)
	l.fileLeft -= int64(n)
	if int64(n) < allowed {
		l.total.Add(int64(n) - allowed)
	}
	if err != nil {
		return n, err
	}
	if trunc {
		if l.fileLeft <= 0 {
			return n, fmt.Errorf("%w: file larger than the per-file cap", ErrLimit)
		}
		return n, fmt.Errorf("%w: total extracted bytes over %d", ErrLimit, l.max)
	}
	return n, nil
}
