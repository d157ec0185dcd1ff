package unpack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrFormat is returned (wrapped) when bytes do not hold the expected header.
var ErrFormat = errors.New("bad header")

// UImage is a legacy U-Boot image header (mkimage -A … -T …).
type UImage struct {
	Name        string `json:"name"`
	OS          uint8  `json:"os"`
	Arch        uint8  `json:"arch"`
	Type        uint8  `json:"type"`
	Compression uint8  `json:"compression"`
	DataSize    uint32 `json:"data_size"`
	Load        uint32 `json:"load"`
	Entry       uint32 `json:"entry"`
	HeaderCRCOK bool   `json:"header_crc_ok"`
	DataCRCOK   bool   `json:"data_crc_ok"`
}

// uImage types worth naming.
var uimageTypes = map[uint8]string{1: "standalone", 2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script", 7: "filesystem", 8: "flat_dt"}

// TypeName names the image type.
func (u UImage) TypeName() string {
	if n, ok := uimageTypes[u.Type]; ok {
		return n
	}
	return fmt.Sprintf("type%d", u.Type)
}

const uimageMagic = 0x27051956

// ParseUImage reads a uImage header at the start of b. The data CRC is
// checked only when the payload is fully present.
func ParseUImage(b []byte) (UImage, error) {
	var u UImage
	if len(b) < 64 {
		return u, fmt.Errorf("uimage: %w: %d bytes, need 64", ErrFormat, len(b))
	}
	if binary.BigEndian.Uint32(b) != uimageMagic {
		return u, fmt.Errorf("uimage: %w: magic", ErrFormat)
	}
	hdr := make([]byte, 64)
	copy(hdr, b[:64])
	want := binary.BigEndian.Uint32(hdr[4:])
	clear(hdr[4:8])
	u.HeaderCRCOK = crc32.ChecksumIEEE(hdr) == want
	if !u.HeaderCRCOK {
		return u, fmt.Errorf("uimage: %w: header CRC mismatch", ErrFormat)
	}
	u.DataSize = binary.BigEndian.Uint32(b[12:])
	u.Load = binary.BigEndian.Uint32(b[16:])
	u.Entry = binary.BigEndian.Uint32(b[20:])
	u.OS, u.Arch, u.Type, u.Compression = b[28], b[29], b[30], b[31]
	u.Name = string(bytes.TrimRight(b[32:64], "\x00"))
	if end := 64 + int64(u.DataSize); end <= int64(len(b)) {
		u.DataCRCOK = crc32.ChecksumIEEE(b[64:end]) == binary.BigEndian.Uint32(b[24:])
	}
	return u, nil
}

// TRX is a Broadcom TRX firmware header with up to three partition offsets.
type TRX struct {
	Length  uint32    `json:"length"`
	Flags   uint16    `json:"flags"`
	Version uint16    `json:"version"`
	Offsets [3]uint32 `json:"offsets"`
}

// ParseTRX reads a TRX header at the start of b.
func ParseTRX(b []byte) (TRX, error) {
	var t TRX
	if len(b) < 28 || string(b[:4]) != "HDR0" {
		return t, fmt.Errorf("trx: %w: magic", ErrFormat)
	}
	t.Length = binary.LittleEndian.Uint32(b[4:])
	t.Flags = binary.LittleEndian.Uint16(b[12:])
	t.Version = binary.LittleEndian.Uint16(b[14:])
	if t.Version != 1 && t.Version != 2 {
		return t, fmt.Errorf("trx: %w: version %d", ErrFormat, t.Version)
	}
	if t.Length < 28 || int64(t.Length) > int64(len(b)) {
		return t, fmt.Errorf("trx: %w: length %d of %d bytes", ErrFormat, t.Length, len(b))
	}
	for i := range 3 {
		t.Offsets[i] = binary.LittleEndian.Uint32(b[16+4*i:])
		if t.Offsets[i] >= t.Length {
			return t, fmt.Errorf("trx: %w: partition %d offset %d beyond length %d", ErrFormat, i, t.Offsets[i], t.Length)
		}
	}
	return t, nil
}

// Partitions returns the [start,end) byte ranges of the non-empty partitions.
func (t TRX) Partitions() [][2]uint32 {
	var offs []uint32
	for _, o := range t.Offsets {
		if o != 0 {
			offs = append(offs, o)
		}
	}
	var out [][2]uint32
	for i, o := range offs {
		end := t.Length
		if i+1 < len(offs) && offs[i+1] > o {
			end = offs[i+1]
		}
		if end > o {
			out = append(out, [2]uint32{o, end})
		}
	}
	return out
}

// SquashfsSuper is the part of a SquashFS 4 superblock the carver needs.
type SquashfsSuper struct {
	Inodes      uint32 `json:"inodes"`
	BlockSize   uint32 `json:"block_size"`
	Compression uint16 `json:"compression"`
	Major       uint16 `json:"major"`
	Minor       uint16 `json:"minor"`
	BytesUsed   int64  `json:"bytes_used"`
}

var squashComp = map[uint16]string{1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}

// CompressionName names the SquashFS compressor.
func (s SquashfsSuper) CompressionName() string {
	if n, ok := squashComp[s.Compression]; ok {
		return n
	}
	return fmt.Sprintf("comp%d", s.Compression)
}

// ParseSquashfsSuper reads a little-endian SquashFS superblock at the start of b.
func ParseSquashfsSuper(b []byte) (SquashfsSuper, error) {
	var s SquashfsSuper
	if len(b) < 96 {
		return s, fmt.Errorf("squashfs: %w: %d bytes, need 96", ErrFormat, len(b))
	}
	switch string(b[:4]) {
	case "hsqs":
	case "sqsh":
		return s, fmt.Errorf("squashfs: %w: big-endian (vendor) SquashFS is not supported", ErrFormat)
	default:
		return s, fmt.Errorf("squashfs: %w: magic", ErrFormat)
	}
	s.Inodes = binary.LittleEndian.Uint32(b[4:])
	s.BlockSize = binary.LittleEndian.Uint32(b[12:])
	s.Compression = binary.LittleEndian.Uint16(b[20:])
	blockLog := binary.LittleEndian.Uint16(b[22:])
	s.Major = binary.LittleEndian.Uint16(b[28:])
	s.Minor = binary.LittleEndian.Uint16(b[30:])
	s.BytesUsed = int64(binary.LittleEndian.Uint64(b[40:]))
	if s.Major != 4 {
		return s, fmt.Errorf("squashfs: %w: version %d.%d (only 4.x)", ErrFormat, s.Major, s.Minor)
	}
	if s.BlockSize < 4096 || s.BlockSize > 1<<20 || 1<<blockLog != s.BlockSize {
		return s, fmt.Errorf("squashfs: %w: block size %d", ErrFormat, s.BlockSize)
	}
	if s.BytesUsed < 96 {
		return s, fmt.Errorf("squashfs: %w: bytes_used %d", ErrFormat, s.BytesUsed)
	}
	return s, nil
}

// ExtSuper is the part of an ext2/3/4 superblock the carver needs.
type ExtSuper struct {
	Blocks    uint64 `json:"blocks"`
	BlockSize uint32 `json:"block_size"`
	Size      int64  `json:"size"`
	Features  uint32 `json:"incompat"`
}

// ParseExtSuper reads an ext superblock for a filesystem starting at b[0]
// (the superblock itself sits at offset 1024).
func ParseExtSuper(b []byte) (ExtSuper, error) {
	var e ExtSuper
	if len(b) < 2048 {
		return e, fmt.Errorf("ext: %w: %d bytes", ErrFormat, len(b))
	}
	sb := b[1024:2048]
	if binary.LittleEndian.Uint16(sb[56:]) != 0xEF53 {
		return e, fmt.Errorf("ext: %w: magic", ErrFormat)
	}
	logBS := binary.LittleEndian.Uint32(sb[24:])
	if logBS > 6 {
		return e, fmt.Errorf("ext: %w: block size log %d", ErrFormat, logBS)
	}
	e.BlockSize = 1024 << logBS
	e.Blocks = uint64(binary.LittleEndian.Uint32(sb[4:]))
	e.Features = binary.LittleEndian.Uint32(sb[96:])
	if e.Features&0x80 != 0 { // 64bit
		e.Blocks |= uint64(binary.LittleEndian.Uint32(sb[0x150:])) << 32
	}
	if e.Blocks == 0 || e.Blocks > 1<<40/uint64(e.BlockSize) {
		return e, fmt.Errorf("ext: %w: %d blocks", ErrFormat, e.Blocks)
	}
	e.Size = int64(e.Blocks) * int64(e.BlockSize)
	return e, nil
}

// validLZMAHeader reports whether b starts with a plausible .lzma (LZMA-alone)
// header: the usual properties byte, a power-of-two dictionary and a sane or
// unknown uncompressed size. The two-byte magic is too common to try blindly.
func validLZMAHeader(b []byte) bool {
	if len(b) < 13 || b[0] != 0x5D {
		return false
	}
	dict := binary.LittleEndian.Uint32(b[1:])
	if dict < 1<<12 || dict > 1<<27 || dict&(dict-1) != 0 {
		return false
	}
	size := binary.LittleEndian.Uint64(b[5:])
	return size == ^uint64(0) || (size > 0 && size < 1<<32)
}
