package unpack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
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
type sandbox struct {
	root     *os.Root
	dir      string
	lim      Limits
	files    int
	bytes    int64
	links    map[string]string // sandbox-relative link path → link target as stored
	rejected []string          // entry names refused as unsafe
	copyBuf  []byte
}

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
	if len(s.rejected) < 1000 {
		s.rejected = append(s.rejected, fmt.Sprintf("%q: %v", name, err))
	}
}

func (s *sandbox) count() error {
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
	s.links[rel] = target
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
	n, cerr := io.CopyBuffer(lw, r, s.buf())
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	return n, lw.head, cerr
}

func (s *sandbox) buf() []byte {
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 256<<10)
	}
	return s.copyBuf
}

// limitWriter fails with ErrLimit once the file or total budget is spent.
type limitWriter struct {
	w        io.Writer
	fileLeft int64
	total    *int64
	max      int64
	head     []byte // first maxHeadMagic bytes written
}

func (l *limitWriter) Write(p []byte) (int, error) {
	left := min(l.fileLeft, l.max-*l.total)
	trunc := false
	if int64(len(p)) > left {
		p = p[:max(left, 0)]
		trunc = true
	}
	if len(l.head) < maxHeadMagic {
		l.head = append(l.head, p[:min(len(p), maxHeadMagic-len(l.head))]...)
	}
	n, err := l.w.Write(p)
	l.fileLeft -= int64(n)
	*l.total += int64(n)
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
