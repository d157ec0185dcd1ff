package unpack

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func (u *unpacker) uimage(data []byte, out string, depth int, e *Entry) (int64, error) {
	h, err := ParseUImage(data)
	if err != nil {
		return 0, err
	}
	e.Info = map[string]any{"header": h, "type_name": h.TypeName(), "signed": false}
	end := 64 + int64(h.DataSize)
	var trunc error
	if end > int64(len(data)) {
		end = int64(len(data))
		trunc = fmt.Errorf("uimage %q: payload truncated: %d of %d bytes", h.Name, end-64, h.DataSize)
	}
	if err := u.outDir(out); err != nil {
		return end, err
	}
	u.blob(data[64:end], e.Path, out, depth+1, true)
	return end, trunc
}

func (u *unpacker) trx(data []byte, out string, depth int, e *Entry) (int64, error) {
	t, err := ParseTRX(data)
	if err != nil {
		return 0, err
	}
	e.Info = t
	if err := u.outDir(out); err != nil {
		return int64(t.Length), err
	}
	for i, p := range t.Partitions() {
		u.blob(data[p[0]:p[1]], e.Path, fmt.Sprintf("%s/part%d", out, i), depth+1, true)
	}
	return int64(t.Length), nil
}

func (u *unpacker) fit(data []byte, _ string, _ int, e *Entry) (int64, error) {
	if len(data) < 40 {
		return 0, fmt.Errorf("fit: %w: short", ErrFormat)
	}
	total := binary.BigEndian.Uint32(data[4:])
	if total < 40 || int64(total) > int64(len(data)) || binary.BigEndian.Uint32(data[20:]) != 17 {
		return 0, fmt.Errorf("fit: %w: header", ErrFormat)
	}
	blob := data[:total]
	if !bytes.Contains(blob, []byte("configurations\x00")) || !bytes.Contains(blob, []byte("images\x00")) {
		return 0, fmt.Errorf("fit: %w: plain device tree, not a FIT image", ErrFormat)
	}
	sig := bytes.Contains(blob, []byte("signature")) && bytes.Contains(blob, []byte("\x00value\x00"))
	e.Info = map[string]any{"fit": true, "signed": sig, "size": total}
	e.Path = ""
	// Return 0 so that the carver continues into the embedded images.
	return 0, nil
}

// jffs2Detect validates a first JFFS2 node header, then extracts the image.
func (u *unpacker) jffs2Detect(data []byte, out string, depth int, e *Entry) (int64, error) {
	if len(data) < 12 {
		return 0, fmt.Errorf("jffs2: %w", ErrFormat)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 0x19 {
		bo = binary.BigEndian
	}
	nt := bo.Uint16(data[2:])
	switch nt {
	case 0xE001, 0xE002, 0x2003, 0x2004, 0x2006:
	default:
		return 0, fmt.Errorf("jffs2: %w: node type", ErrFormat)
	}
	totlen := bo.Uint32(data[4:])
	if totlen < 12 || totlen > 1<<20 {
		return 0, fmt.Errorf("jffs2: %w: node length", ErrFormat)
	}
	if ^crc32.Update(0xFFFFFFFF, crc32.IEEETable, data[:8]) != bo.Uint32(data[8:]) {
		return 0, fmt.Errorf("jffs2: %w: header CRC", ErrFormat)
	}
	return u.jffs2(data, out, depth, e)
}

// memStorage is a read-only go-diskfs backend over bytes.
type memStorage struct{ *bytes.Reader }

func (m memStorage) Stat() (fs.FileInfo, error) { return memInfo(m.Size()), nil }
func (m memStorage) Close() error               { return nil }
func (m memStorage) Sys() (*os.File, error)     { return nil, backend.ErrNotSuitable }
func (m memStorage) Writable() (backend.WritableFile, error) {
	return nil, backend.ErrIncorrectOpenMode
}
func (m memStorage) Path() string { return "" }

type memInfo int64

func (i memInfo) Name() string       { return "image" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// squashfsCacheBytes caps go-diskfs's block cache (128 MB by default), which
// would otherwise dominate resident memory on large images.
const squashfsCacheBytes = 8 << 20

func (u *unpacker) squashfs(data []byte, out string, depth int, e *Entry) (int64, error) {
	sb, err := ParseSquashfsSuper(data)
	if err != nil {
		return 0, err
	}
	e.Info = map[string]any{"compression": sb.CompressionName(), "block_size": sb.BlockSize, "inodes": sb.Inodes, "bytes_used": sb.BytesUsed}
	size := sb.BytesUsed
	var trunc error
	if size > int64(len(data)) {
		trunc = fmt.Errorf("squashfs truncated: superblock says %d bytes, %d present", size, len(data))
		size = int64(len(data))
	}
	switch sb.CompressionName() {
	case "lz4":
		// go-diskfs decodes LZ4 frames, but SquashFS stores raw LZ4 blocks.
		return sb.BytesUsed, unsupportedError{"SquashFS with lz4 compression (go-diskfs v1.9.4 cannot decode raw LZ4 blocks)"}
	}
	img := data[:size]
	fsys, err := squashfs.Read(memStorage{bytes.NewReader(img)}, size, 0, 0)
	if err != nil {
		return size, errors.Join(fmt.Errorf("squashfs: %w", err), trunc)
	}
	fsys.SetCacheSize(squashfsCacheBytes)
	if err := u.outDir(out); err != nil {
		return size, err
	}
	werr := u.walkTree(fsys, ".", out)
	return size, errors.Join(werr, trunc)
}

func (u *unpacker) ext(data []byte, out string, depth int, e *Entry) (int64, error) {
	sb, err := ParseExtSuper(data)
	if err != nil {
		return 0, err
	}
	e.Info = sb
	size := sb.Size
	var trunc error
	if size > int64(len(data)) {
		trunc = fmt.Errorf("ext truncated: superblock says %d bytes, %d present", size, len(data))
		size = int64(len(data))
	}
	fsys, err := ext4.Read(memStorage{bytes.NewReader(data[:size])}, size, 0, 512)
	if err != nil {
		return size, errors.Join(fmt.Errorf("ext: %w", err), trunc)
	}
	if err := u.outDir(out); err != nil {
		return size, err
	}
	return size, errors.Join(u.walkTree(fsys, ".", out), trunc)
}

// treeFS is what go-diskfs's read-only filesystems offer.
type treeFS interface {
	ReadDir(p string) ([]fs.DirEntry, error)
	OpenFile(p string, flag int) (filesystem.File, error)
}

// walkTree copies a go-diskfs filesystem below out: directories and links
// depth-first in this goroutine, file contents by a small pool of workers
// (go-diskfs reads are safe in parallel; decompression dominates the cost).
// Errors on single entries are collected; the walk goes on.
func (u *unpacker) walkTree(fsys treeFS, dir, out string) error {
	var (
		errMu   sync.Mutex
		errs    []error
		stopped atomic.Bool
	)
	addErr := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	type job struct {
		de     fs.DirEntry
		p, rel string
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if stopped.Load() {
					continue
				}
				var (
					f   io.ReadCloser
					err error
				)
				if op, ok := j.de.(interface {
					Open() (filesystem.File, error)
				}); ok {
					f, err = op.Open()
				} else {
					f, err = fsys.OpenFile(j.p, os.O_RDONLY)
				}
				if err != nil {
					addErr(fmt.Errorf("open %s: %w", j.p, err))
					continue
				}
				_, head, err := u.sb.writeFile(j.rel, f)
				f.Close()
				if err != nil {
					if errors.Is(err, ErrLimit) {
						if !stopped.Swap(true) {
							addErr(err)
						}
						continue
					}
					addErr(fmt.Errorf("extract %s: %w", j.p, err))
				}
				u.note(j.rel, head, false)
			}
		}()
	}
	var walk func(dir string, level int) error
	walk = func(dir string, level int) error {
		if level > 64 {
			return fmt.Errorf("%s: directory nesting deeper than 64", dir)
		}
		ents, err := fsys.ReadDir(dir)
		if err != nil {
			addErr(fmt.Errorf("read dir %s: %w", dir, err))
			return nil
		}
		for _, de := range ents {
			if err := u.ctx.Err(); err != nil {
				return err
			}
			if stopped.Load() {
				return nil
			}
			name := de.Name()
			if name == "." || name == ".." || name == "" {
				continue
			}
			p := name
			if dir != "." {
				p = dir + "/" + name
			}
			rel, err := safeJoin(out, p)
			if err != nil {
				u.sb.reject(p, err)
				continue
			}
			switch t := de.Type(); {
			case t.IsDir():
				if err := u.sb.mkdir(rel); err != nil {
					return err
				}
				if err := walk(p, level+1); err != nil {
					return err
				}
			case t&fs.ModeSymlink != 0:
				target := "?"
				if rl, ok := de.(interface{ Readlink() (string, error) }); ok {
					if s, err := rl.Readlink(); err == nil {
						target = s
					}
				} else if rl, ok := fsys.(interface{ ReadLink(string) (string, error) }); ok {
					if s, err := rl.ReadLink(p); err == nil {
						target = s
					}
				}
				if err := u.sb.link(rel, target); err != nil {
					return err
				}
			case t.IsRegular():
				jobs <- job{de, p, rel}
			}
		}
		return nil
	}
	werr := walk(dir, 0)
	close(jobs)
	wg.Wait()
	if werr != nil {
		errs = append(errs, werr)
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("and %d more errors", len(errs)-5))
	}
	return errors.Join(errs...)
}

func (u *unpacker) cpio(data []byte, out string, _ int, e *Entry) (int64, error) {
	if err := u.outDir(out); err != nil {
		return 0, err
	}
	n, err := ReadCPIO(data, func(m CPIOEntry) error {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		rel, err := safeJoin(out, m.Name)
		if err != nil {
			u.sb.reject(m.Name, err)
			return nil
		}
		switch m.Mode & modeTypeMask {
		case modeDir:
			return u.sb.mkdir(rel)
		case modeSymlink:
			return u.sb.link(rel, string(m.Data))
		case modeReg:
			_, head, err := u.sb.writeFile(rel, bytes.NewReader(m.Data))
			u.note(rel, head, false)
			return err
		}
		return nil
	})
	if err != nil && n == 0 {
		return 0, err
	}
	return int64(n), err
}

func (u *unpacker) tar(data []byte, out string, _ int, e *Entry) (int64, error) {
	r := bytes.NewReader(data)
	tr := tar.NewReader(r)
	first := true
	for {
		if err := u.ctx.Err(); err != nil {
			return int64(len(data) - r.Len()), err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if first {
				return 0, fmt.Errorf("tar: %w: %v", ErrFormat, err)
			}
			return int64(len(data) - r.Len()), fmt.Errorf("tar: %w", err)
		}
		if first {
			first = false
			if err := u.outDir(out); err != nil {
				return 0, err
			}
		}
		rel, err := safeJoin(out, h.Name)
		if err != nil {
			u.sb.reject(h.Name, err)
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = u.sb.mkdir(rel)
		case tar.TypeSymlink, tar.TypeLink:
			err = u.sb.link(rel, h.Linkname)
		case tar.TypeReg: // the reader reports the old TypeRegA as TypeReg
			var head []byte
			_, head, err = u.sb.writeFile(rel, tr)
			u.note(rel, head, false)
		}
		if err != nil {
			return int64(len(data) - r.Len()), err
		}
	}
	return int64(len(data) - r.Len()), nil
}

func (u *unpacker) zip(data []byte, out string, _ int, e *Entry) (int64, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("zip: %w: %v", ErrFormat, err)
	}
	if err := u.outDir(out); err != nil {
		return 0, err
	}
	var errs []error
	for _, f := range zr.File {
		if err := u.ctx.Err(); err != nil {
			return int64(len(data)), err
		}
		rel, err := safeJoin(out, f.Name)
		if err != nil {
			u.sb.reject(f.Name, err)
			continue
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			err = u.sb.mkdir(rel)
		case mode&fs.ModeSymlink != 0:
			var target []byte
			if rc, oerr := f.Open(); oerr == nil {
				target, _ = io.ReadAll(io.LimitReader(rc, 4096))
				rc.Close()
			}
			err = u.sb.link(rel, string(target))
		default:
			rc, oerr := f.Open()
			if oerr != nil {
				errs = append(errs, fmt.Errorf("zip %s: %w", f.Name, oerr))
				continue
			}
			var head []byte
			_, head, err = u.sb.writeFile(rel, rc)
			rc.Close()
			u.note(rel, head, true)
			if err != nil && !errors.Is(err, ErrLimit) {
				errs = append(errs, fmt.Errorf("zip %s: %w", f.Name, err))
				err = nil
			}
		}
		if err != nil {
			return int64(len(data)), err
		}
	}
	// The central directory sits at the end of what the reader accepted.
	return int64(len(data)), errors.Join(errs...)
}

// opener starts a decompressor over r.
type opener func(r *bytes.Reader) (io.Reader, func(), error)

func openGzip(r *bytes.Reader) (io.Reader, func(), error) {
	z, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	z.Multistream(false)
	return z, func() { z.Close() }, nil
}

func openXZ(r *bytes.Reader) (io.Reader, func(), error) {
	z, err := xz.ReaderConfig{SingleStream: true}.NewReader(r)
	return xzStreamEnd{z}, func() {}, err
}

// xzStreamEnd ends the stream cleanly where ulikunitz/xz's SingleStream mode
// complains about bytes after it: in a carved image there always are.
type xzStreamEnd struct{ r io.Reader }

func (x xzStreamEnd) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err.Error() == "xz: unexpected data after stream" {
		err = io.EOF
	}
	return n, err
}

func openLZMA(r *bytes.Reader) (io.Reader, func(), error) {
	var hdr [13]byte
	if n, _ := r.ReadAt(hdr[:], 0); n < 13 || !validLZMAHeader(hdr[:]) {
		return nil, nil, fmt.Errorf("%w: implausible lzma header", ErrFormat)
	}
	z, err := lzma.NewReader(r)
	return z, func() {}, err
}

func openBzip2(r *bytes.Reader) (io.Reader, func(), error) {
	var hdr [10]byte
	if n, _ := r.ReadAt(hdr[:], 0); n < 10 || hdr[3] < '1' || hdr[3] > '9' || string(hdr[4:10]) != "1AY&SY" {
		return nil, nil, fmt.Errorf("%w: bzip2 block header", ErrFormat)
	}
	return &streamEnd{r: bzip2.NewReader(r), end: func(err error) bool {
		return err.Error() == "bzip2 data invalid: bad magic value in continuation file"
	}}, func() {}, nil
}

// streamEnd turns the error a multi-stream decoder returns when the bytes
// after a complete stream are not another stream into a clean end: in a
// carved image something else always follows.
type streamEnd struct {
	r   io.Reader
	n   int64
	end func(error) bool
}

func (s *streamEnd) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.n > 0 && s.end(err) {
		err = io.EOF
	}
	return n, err
}

func openZstd(r *bytes.Reader) (io.Reader, func(), error) {
	z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return nil, nil, err
	}
	return &streamEnd{r: z, end: func(err error) bool { return errors.Is(err, zstd.ErrMagicMismatch) }}, z.Close, nil
}

func openLZ4(r *bytes.Reader) (io.Reader, func(), error) {
	return &streamEnd{r: lz4.NewReader(r), end: func(err error) bool { return err.Error() == "lz4: bad magic number" }}, func() {}, nil
}

// minStreamOutput is how much a stream must yield before a decoding error to
// count as a real (truncated) stream rather than a false magic.
const minStreamOutput = 512

func streamHandler(format string, open opener) handler {
	return func(u *unpacker, data []byte, out string, depth int, e *Entry) (int64, error) {
		r := bytes.NewReader(data)
		z, done, err := open(r)
		if err != nil {
			return 0, fmt.Errorf("%s: %w: %v", format, ErrFormat, err)
		}
		defer done()
		dz := &dropBehind{r: z, data: data, consumed: func() int { return len(data) - r.Len() }, m: u.maps}
		n, _, err := u.sb.writeFile(out, dz)
		consumed := int64(len(data) - r.Len())
		if err != nil && !errors.Is(err, ErrLimit) && n < minStreamOutput {
			_ = u.sb.root.Remove(out) // the work directory goes with the analysis anyway
			u.sb.uncount()
			return 0, fmt.Errorf("%s: %w: %v", format, ErrFormat, err)
		}
		if n == 0 {
			_ = u.sb.root.Remove(out) // the work directory goes with the analysis anyway
			u.sb.uncount()
			return consumed, fmt.Errorf("%s: %w: empty stream", format, ErrFormat)
		}
		e.Info = map[string]any{"decompressed": n}
		if err != nil && !errors.Is(err, ErrLimit) {
			err = fmt.Errorf("%s: truncated or corrupt after %d bytes: %w", format, n, err)
		}
		if !errors.Is(err, ErrLimit) {
			u.heads = append(u.heads, headHit{rel: out, full: true})
		}
		return consumed, err
	}
}
