// Package unpack carves and recursively extracts firmware images in pure Go:
// vendor headers (uImage, TRX), compressed streams (gzip, xz, lzma, bzip2,
// zstd, lz4), archives (zip, tar, cpio), UBI images (volumes reassembled by
// its own reader, then carved) and filesystems (SquashFS 4 via go-diskfs,
// ext2/3/4 via go-diskfs, JFFS2 with its own reader), found at any offset. Extraction is hostile-input safe: entry names are confined to a
// private directory, links are recorded but never created, and size, count,
// depth and attempt caps stop bombs. What is recognised but cannot be unpacked
// (UBIFS volumes, big-endian or LZ4 SquashFS, JFFS2 nodes compressed with
// LZO/LZMA) is reported.
package unpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
)

// Entry is one container found in the image or in something extracted from it.
type Entry struct {
	Format     string `json:"format"`
	Path       string `json:"path"`             // sandbox-relative output (directory or file)
	Parent     string `json:"parent,omitempty"` // sandbox-relative blob it was found in; "" = the image
	Offset     int64  `json:"offset"`
	Size       int64  `json:"size,omitempty"` // input bytes consumed, when known
	Depth      int    `json:"depth"`
	Files      int    `json:"files,omitempty"`
	Filesystem bool   `json:"filesystem,omitempty"` // output is a file tree (rootfs, archive)
	Info       any    `json:"info,omitempty"`
	Error      string `json:"error,omitempty"` // partial extraction or failure
}

// Report says what Unpack found, extracted, could not extract and refused.
type Report struct {
	Dir         string            `json:"dir"`
	Image       string            `json:"image"`
	ImageSize   int64             `json:"image_size"`
	Extracted   []Entry           `json:"extracted"`
	Failed      []Entry           `json:"failed,omitempty"`
	Unsupported []Entry           `json:"unsupported,omitempty"`
	Links       map[string]string `json:"links,omitempty"` // sandbox-relative path → stored target
	Rejected    []string          `json:"rejected,omitempty"`
	Files       int               `json:"files"`
	Bytes       int64             `json:"bytes"`
	LimitHit    string            `json:"limit_hit,omitempty"`
}

// Unpack extracts image into dir (which must exist, and should be a fresh
// private directory) and returns what it did. It returns an error only when
// the image cannot be read at all; everything else is in the report.
func Unpack(ctx context.Context, image, dir string, lim Limits) (*Report, error) {
	lim = lim.withDefaults()
	sb, err := newSandbox(dir, lim)
	if err != nil {
		return nil, err
	}
	defer sb.close()
	data, release, err := mapFile(image)
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", image, err)
	}
	defer release()
	u := &unpacker{ctx: ctx, sb: sb, lim: lim, maps: &mappedSpans{}, rep: &Report{Dir: dir, Image: image, ImageSize: int64(len(data))}}
	u.maps.add(data)
	defer u.maps.remove(data)
	u.blob(data, "", "_"+sanitizeBase(filepath.Base(image))+".extracted", 0, true)
	u.rep.Links = sb.links
	u.rep.Rejected = sb.rejected
	u.rep.Files = sb.fileCount()
	u.rep.Bytes = sb.bytes.Load()
	if err := ctx.Err(); err != nil {
		return u.rep, fmt.Errorf("unpack %s: %w", image, err)
	}
	return u.rep, nil
}

func sanitizeBase(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '/' || r == 0 || r == '\\' {
			r = '_'
		}
		out = append(out, r)
	}
	if len(out) == 0 || string(out) == "." || string(out) == ".." {
		return "image"
	}
	return string(out)
}

// mapFile maps a file read-only; the release func unmaps it.
func mapFile(p string) ([]byte, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file")
	}
	if st.Size() == 0 {
		return nil, func() {}, nil
	}
	if st.Size() > 1<<34 {
		return nil, nil, fmt.Errorf("file of %d bytes is too large", st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return b, func() { _ = syscall.Munmap(b) }, nil // unmapping a mapping we made fails only on a bad address
}

type unpacker struct {
	ctx context.Context
	sb  *sandbox
	lim Limits
	rep *Report
	// maps are the file mappings being carved, whose pages are given back
	// once read.
	maps *mappedSpans
	// heads collects, during one container's extraction, the files written
	// whose first bytes look like another container.
	heads   []headHit
	headsMu sync.Mutex // guards heads while walkers extract in parallel
}

type headHit struct {
	rel  string
	full bool // carve at any offset, not only at 0
}

// handler extracts one container found at data[0:], writing below out, and
// returns the input bytes it consumed (0 when unknown). Errors wrapping
// ErrFormat mean "not really this format" and are not reported.
type handler func(u *unpacker, data []byte, out string, depth int, e *Entry) (int64, error)

type signature struct {
	format   string
	magic    string
	magicOff int  // offset of the magic from the start of the container
	fs       bool // output is a file tree
	h        handler
}

// signatures is the one list of formats the carver knows. It is filled in
// init only because its handlers recurse into the carver that reads it.
var signatures []signature

func init() { signatures = signatureTable() }

func signatureTable() []signature {
	return []signature{
		{format: "uimage", magic: "\x27\x05\x19\x56", h: (*unpacker).uimage},
		{format: "trx", magic: "HDR0", h: (*unpacker).trx},
		{format: "squashfs", magic: "hsqs", fs: true, h: (*unpacker).squashfs},
		{format: "squashfs-be", magic: "sqsh", h: unsupportedHandler("big-endian SquashFS (vendor variant)")},
		{format: "cpio", magic: "070701", fs: true, h: (*unpacker).cpio},
		{format: "cpio", magic: "070702", fs: true, h: (*unpacker).cpio},
		{format: "cpio", magic: "070707", fs: true, h: (*unpacker).cpio},
		{format: "tar", magic: "ustar", magicOff: 257, fs: true, h: (*unpacker).tar},
		{format: "zip", magic: "PK\x03\x04", fs: true, h: (*unpacker).zip},
		{format: "ext", magic: "\x53\xef", magicOff: 1024 + 56, fs: true, h: (*unpacker).ext},
		{format: "gzip", magic: "\x1f\x8b\x08", h: streamHandler("gzip", openGzip)},
		{format: "xz", magic: "\xfd7zXZ\x00", h: streamHandler("xz", openXZ)},
		{format: "lzma", magic: "\x5d\x00\x00", h: streamHandler("lzma", openLZMA)},
		{format: "bzip2", magic: "BZh", h: streamHandler("bzip2", openBzip2)},
		{format: "zstd", magic: "\x28\xb5\x2f\xfd", h: streamHandler("zstd", openZstd)},
		{format: "lz4", magic: "\x04\x22\x4d\x18", h: streamHandler("lz4", openLZ4)},
		{format: "jffs2", magic: "\x85\x19", fs: true, h: (*unpacker).jffs2Detect},
		{format: "jffs2", magic: "\x19\x85", fs: true, h: (*unpacker).jffs2Detect},
		{format: "ubi", magic: "UBI#", h: (*unpacker).ubi},
		{format: "fit", magic: "\xd0\x0d\xfe\xed", h: (*unpacker).fit},
	}
}

// maxHeadMagic is how many leading bytes decide whether a file is a container.
const maxHeadMagic = 1024 + 56 + 2

// matchAt reports the signatures whose magic sits at the right place for a
// container starting at data[0].
func matchAt(data []byte) []*signature {
	var out []*signature
	for i := range signatures {
		s := &signatures[i]
		end := s.magicOff + len(s.magic)
		if len(data) >= end && string(data[s.magicOff:end]) == s.magic {
			out = append(out, s)
		}
	}
	return out
}

type candidate struct {
	off int
	sig *signature
}

// maxCandidatesPerSig bounds the work a hostile blob full of magics can cause.
const maxCandidatesPerSig = 20000

// scanWindow is how much of a blob is searched for all magics before its
// pages are given back.
const scanWindow = 16 << 20

// findCandidates lists the possible containers in data, window by window;
// done is called with each window once it has been searched (nil = nothing).
func findCandidates(data []byte, done func([]byte)) []candidate {
	var cands []candidate
	counts := make([]int, len(signatures))
	for ws := 0; ws < len(data); ws += scanWindow {
		we := min(len(data), ws+scanWindow)
		// A magic starting in the window may end after it.
		search := data[:min(len(data), we+16)]
		for i := range signatures {
			s := &signatures[i]
			m := []byte(s.magic)
			for from := ws; from < we && counts[i] < maxCandidatesPerSig; {
				j := indexFrom(search, m, from)
				if j < 0 || j >= we {
					break
				}
				from = j + 1
				if start := j - s.magicOff; start >= 0 {
					cands = append(cands, candidate{start, s})
					counts[i]++
				}
			}
		}
		if done != nil {
			done(data[ws:we])
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return a.off - b.off })
	return cands
}

// blob carves data (the image or a decompressed stream), at any offset when
// full is set, otherwise only at offset 0.
func (u *unpacker) blob(data []byte, parent, outBase string, depth int, full bool) {
	if depth > u.lim.MaxDepth {
		u.limit(fmt.Sprintf("nesting deeper than %d at %s", u.lim.MaxDepth, parent))
		return
	}
	var cands []candidate
	if full {
		cands = findCandidates(data, u.maps.release)
	} else {
		for _, s := range matchAt(data) {
			cands = append(cands, candidate{0, s})
		}
	}
	covered, attempts := 0, 0
	seen := map[string]bool{}
	for _, c := range cands {
		if u.ctx.Err() != nil || u.rep.LimitHit != "" {
			return
		}
		if c.off < covered {
			continue
		}
		if attempts >= u.lim.MaxAttempts {
			u.rep.Failed = append(u.rep.Failed, Entry{Format: "carve", Parent: parent, Offset: int64(c.off), Depth: depth,
				Error: fmt.Sprintf("gave up after %d false signature hits", attempts)})
			return
		}
		if c.sig.format == "ubi" || c.sig.format == "squashfs-be" {
			if seen[c.sig.format] {
				continue // reported once per blob
			}
		}
		out := fmt.Sprintf("%s/%x.%s", outBase, c.off, c.sig.format)
		e := Entry{Format: c.sig.format, Path: out, Parent: parent, Offset: int64(c.off), Depth: depth, Filesystem: c.sig.fs}
		filesBefore := u.sb.fileCount()
		u.heads = u.heads[:0]
		consumed, err := u.safeCall(c.sig.h, data[c.off:], out, depth, &e)
		e.Files = u.sb.fileCount() - filesBefore
		if consumed > 0 {
			u.maps.release(data[c.off:min(len(data), c.off+int(consumed))])
		}
		var unsup unsupportedError
		switch {
		case errors.As(err, &unsup):
			seen[c.sig.format] = true
			e.Error = unsup.Error()
			e.Path = ""
			u.rep.Unsupported = append(u.rep.Unsupported, e)
			if consumed > 0 {
				covered = c.off + int(consumed)
			}
			continue
		case err != nil && errors.Is(err, ErrFormat) && e.Files == 0:
			attempts++
			continue
		case err != nil && e.Files == 0 && !errors.Is(err, ErrLimit):
			e.Error = err.Error()
			u.rep.Failed = append(u.rep.Failed, e)
			attempts++
			continue
		case err != nil:
			e.Error = err.Error()
		}
		if e.Size == 0 {
			e.Size = consumed
		}
		u.rep.Extracted = append(u.rep.Extracted, e)
		if errors.Is(err, ErrLimit) {
			u.limit(err.Error())
		}
		if consumed > 0 {
			covered = c.off + int(consumed)
		} else {
			covered = c.off + 1
		}
		// Recurse into what this container produced that looks like a container.
		hits := slices.Clone(u.heads)
		for _, h := range hits {
			u.file(h.rel, depth+1, h.full)
		}
	}
}

func (u *unpacker) limit(msg string) {
	if u.rep.LimitHit == "" {
		u.rep.LimitHit = msg
	}
}

// file carves one extracted file.
func (u *unpacker) file(rel string, depth int, full bool) {
	if u.ctx.Err() != nil || u.rep.LimitHit != "" {
		return
	}
	data, release, err := mapFile(filepath.Join(u.sb.dir, filepath.FromSlash(rel)))
	if err != nil {
		u.rep.Failed = append(u.rep.Failed, Entry{Format: "file", Parent: rel, Depth: depth, Error: err.Error()})
		return
	}
	defer release()
	u.maps.add(data)
	defer u.maps.remove(data)
	u.blob(data, rel, rel+".extracted", depth, full)
}

// safeCall runs a handler, turning a panic in a parser library into an error.
func (u *unpacker) safeCall(h handler, data []byte, out string, depth int, e *Entry) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s parser panicked: %v (%.200s)", e.Format, r, debug.Stack())
		}
	}()
	return h(u, data, out, depth, e)
}

// note records a written file whose head looks like a container.
func (u *unpacker) note(rel string, head []byte, full bool) {
	if len(matchAt(head)) > 0 {
		u.headsMu.Lock()
		u.heads = append(u.heads, headHit{rel: rel, full: full})
		u.headsMu.Unlock()
	}
}

type unsupportedError struct{ msg string }

func (e unsupportedError) Error() string { return e.msg }

func unsupportedHandler(msg string) handler {
	return func(*unpacker, []byte, string, int, *Entry) (int64, error) {
		return 0, unsupportedError{msg}
	}
}

func indexFrom(data, m []byte, from int) int {
	i := bytes.Index(data[from:], m)
	if i < 0 {
		return -1
	}
	return from + i
}

// outDir makes a container's output directory.
func (u *unpacker) outDir(out string) error {
	return u.sb.mkdir(path.Clean(out))
}
