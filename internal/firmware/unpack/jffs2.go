package unpack

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"slices"
)

// JFFS2 node types and compressors (linux/jffs2.h).
const (
	jffs2Dirent = 0xE001
	jffs2Inode  = 0xE002

	jffs2ComprNone  = 0x00
	jffs2ComprZero  = 0x01
	jffs2ComprRtime = 0x02
	jffs2ComprZlib  = 0x06
)

type jffs2DirentNode struct {
	pino, version, ino uint32
	name               string
}

type jffs2InodeNode struct {
	version, mode, isize, offset, dsize uint32
	compr                               uint8
	data                                []byte
}

// jffs2Image is a parsed JFFS2 image: the newest directory entries and the
// data nodes of every inode.
type jffs2Image struct {
	dirents map[string]jffs2DirentNode // pino/name → newest entry
	inodes  map[uint32][]jffs2InodeNode
	end     int // end of the last valid node
	skipped map[uint8]int
}

// maxJFFS2Nodes bounds the work on a hostile image; jffs2MaxGap is how far
// past the last valid node the scan looks for more (erase blocks are ≤ 256 KiB).
const (
	maxJFFS2Nodes = 1 << 20
	jffs2MaxGap   = 1 << 20
)

// ParseJFFS2 walks the nodes of a JFFS2 image at the start of b.
func ParseJFFS2(b []byte) (*jffs2Image, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("jffs2: %w: short", ErrFormat)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 0x19 && b[1] == 0x85 {
		bo = binary.BigEndian
	}
	img := &jffs2Image{dirents: map[string]jffs2DirentNode{}, inodes: map[uint32][]jffs2InodeNode{}, skipped: map[uint8]int{}}
	nodes := 0
	for pos := 0; pos+12 <= len(b) && nodes < maxJFFS2Nodes; {
		// The image ends where no valid node follows within a few erase blocks.
		if pos-img.end > jffs2MaxGap {
			break
		}
		if bo.Uint16(b[pos:]) != 0x1985 {
			pos += 4
			continue
		}
		nt := bo.Uint16(b[pos+2:])
		totlen := int(bo.Uint32(b[pos+4:]))
		if totlen < 12 || totlen > len(b)-pos || ^crc32.Update(0xFFFFFFFF, crc32.IEEETable, b[pos:pos+8]) != bo.Uint32(b[pos+8:]) {
			pos += 4
			continue
		}
		node := b[pos : pos+totlen]
		switch nt {
		case jffs2Dirent:
			if len(node) >= 40 {
				nsize := int(node[28])
				if 40+nsize <= len(node) {
					d := jffs2DirentNode{pino: bo.Uint32(node[12:]), version: bo.Uint32(node[16:]), ino: bo.Uint32(node[20:]), name: string(node[40 : 40+nsize])}
					k := fmt.Sprint(d.pino, "/", d.name)
					if old, ok := img.dirents[k]; !ok || d.version >= old.version {
						img.dirents[k] = d
					}
					nodes++
				}
			}
		case jffs2Inode:
			if len(node) >= 68 {
				ino := bo.Uint32(node[12:])
				in := jffs2InodeNode{version: bo.Uint32(node[16:]), mode: bo.Uint32(node[20:]), isize: bo.Uint32(node[28:]),
					offset: bo.Uint32(node[44:]), dsize: bo.Uint32(node[52:]), compr: node[56]}
				csize := int(bo.Uint32(node[48:]))
				if 68+csize <= len(node) {
					in.data = node[68 : 68+csize]
					img.inodes[ino] = append(img.inodes[ino], in)
					nodes++
				}
			}
		}
		img.end = pos + totlen
		pos += (totlen + 3) &^ 3
	}
	if nodes == 0 {
		return nil, fmt.Errorf("jffs2: %w: no directory or inode nodes", ErrFormat)
	}
	return img, nil
}

// rtimeDecompress is JFFS2's "rtime" run-length coder.
func rtimeDecompress(in []byte, dstLen int) []byte {
	out := make([]byte, 0, dstLen)
	var positions [256]int
	for pos := 0; len(out) < dstLen && pos+1 < len(in); pos += 2 {
		value, repeat := in[pos], int(in[pos+1])
		out = append(out, value)
		back := positions[value]
		positions[value] = len(out)
		for ; repeat > 0 && len(out) < dstLen && back < len(out); repeat-- {
			out = append(out, out[back])
			back++
		}
	}
	return out
}

// content rebuilds an inode's bytes from its data nodes, oldest first.
func (img *jffs2Image) content(nodes []jffs2InodeNode, maxSize int64) ([]byte, error) {
	slices.SortFunc(nodes, func(a, b jffs2InodeNode) int { return int(int64(a.version) - int64(b.version)) })
	size := int64(nodes[len(nodes)-1].isize)
	if size > maxSize {
		return nil, fmt.Errorf("%w: jffs2 inode of %d bytes", ErrLimit, size)
	}
	buf := make([]byte, size)
	for _, n := range nodes {
		if n.dsize == 0 || int64(n.offset) >= size {
			continue
		}
		dsize := min(int64(n.dsize), size-int64(n.offset))
		var data []byte
		switch n.compr {
		case jffs2ComprNone:
			data = n.data
		case jffs2ComprZero:
			data = make([]byte, dsize)
		case jffs2ComprRtime:
			data = rtimeDecompress(n.data, int(dsize))
		case jffs2ComprZlib:
			zr, err := zlib.NewReader(bytes.NewReader(n.data))
			if err != nil {
				return buf, fmt.Errorf("jffs2 zlib: %w", err)
			}
			data, err = io.ReadAll(io.LimitReader(zr, dsize))
			if err != nil {
				return buf, fmt.Errorf("jffs2 zlib: %w", err)
			}
		default:
			img.skipped[n.compr]++
			continue
		}
		copy(buf[n.offset:int64(n.offset)+dsize], data)
	}
	return buf, nil
}

// pathOf resolves an inode's path through its parents' directory entries.
func pathOf(ino uint32, parent map[uint32]jffs2DirentNode) (string, bool) {
	var parts []string
	for depth := 0; ino != 1; depth++ {
		d, ok := parent[ino]
		if !ok || depth > 64 {
			return "", false
		}
		parts = append(parts, d.name)
		ino = d.pino
	}
	slices.Reverse(parts)
	return path.Join(parts...), true
}

func (u *unpacker) jffs2(data []byte, out string, _ int, e *Entry) (int64, error) {
	img, err := ParseJFFS2(data)
	if err != nil {
		return 0, err
	}
	parent := map[uint32]jffs2DirentNode{}
	for _, d := range img.dirents {
		if d.ino != 0 {
			if old, ok := parent[d.ino]; !ok || d.version >= old.version {
				parent[d.ino] = d
			}
		}
	}
	if err := u.outDir(out); err != nil {
		return int64(img.end), err
	}
	var errs []error
	inos := make([]uint32, 0, len(parent))
	for ino := range parent {
		inos = append(inos, ino)
	}
	slices.Sort(inos)
	for _, ino := range inos {
		if err := u.ctx.Err(); err != nil {
			return int64(img.end), err
		}
		p, ok := pathOf(ino, parent)
		if !ok {
			continue
		}
		rel, err := safeJoin(out, p)
		if err != nil {
			u.sb.reject(p, err)
			continue
		}
		nodes := img.inodes[ino]
		if len(nodes) == 0 {
			continue
		}
		mode := slices.MaxFunc(nodes, func(a, b jffs2InodeNode) int { return int(int64(a.version) - int64(b.version)) }).mode
		switch mode & modeTypeMask {
		case modeDir:
			err = u.sb.mkdir(rel)
		case modeSymlink:
			var target []byte
			target, err = img.content(nodes, 4096)
			if err == nil {
				err = u.sb.link(rel, string(target))
			}
		case modeReg:
			var body []byte
			body, err = img.content(nodes, u.lim.MaxFileSize)
			if err == nil {
				var head []byte
				_, head, err = u.sb.writeFile(rel, bytes.NewReader(body))
				u.note(rel, head, false)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			if len(errs) > 5 {
				break
			}
		}
	}
	info := map[string]any{"inodes": len(img.inodes), "dirents": len(img.dirents)}
	if len(img.skipped) > 0 {
		info["unsupported_compression_nodes"] = img.skipped
		errs = append(errs, fmt.Errorf("jffs2: %d data nodes with unsupported compressors (lzo/lzma/rubin) left as zeros", len(img.skipped)))
	}
	e.Info = info
	if len(errs) > 0 {
		return int64(img.end), fmt.Errorf("jffs2 partially extracted: %w", joinErrs(errs))
	}
	return int64(img.end), nil
}

func joinErrs(errs []error) error {
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return fmt.Errorf("%s", b.String())
}
