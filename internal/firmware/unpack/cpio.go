package unpack

import (
	"bytes"
	"fmt"
	"strconv"
)

// CPIOEntry is one member of a cpio archive; Data aliases the input.
type CPIOEntry struct {
	Name string
	Mode uint32 // st_mode, type bits included
	Data []byte
}

// File-type bits of st_mode.
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeReg      = 0o100000
	modeSymlink  = 0o120000
)

// ReadCPIO walks a cpio archive (newc, crc or odc) at the start of b, calling
// fn for each member until the TRAILER!!! entry. It returns the bytes
// consumed, so that concatenated archives (initramfs) can be walked in turn.
func ReadCPIO(b []byte, fn func(CPIOEntry) error) (int, error) {
	pos := 0
	for n := 0; ; n++ {
		if len(b)-pos < 6 {
			return pos, fmt.Errorf("cpio: %w: truncated at %d", ErrFormat, pos)
		}
		var (
			e        CPIOEntry
			next     int
			err      error
			trailing bool
		)
		switch string(b[pos : pos+6]) {
		case "070701", "070702":
			e, next, err = readNewc(b, pos)
		case "070707":
			e, next, err = readODC(b, pos)
		default:
			if n == 0 {
				return pos, fmt.Errorf("cpio: %w: magic", ErrFormat)
			}
			return pos, fmt.Errorf("cpio: %w: bad member magic at %d", ErrFormat, pos)
		}
		if err != nil {
			return pos, err
		}
		pos = next
		if e.Name == "TRAILER!!!" {
			trailing = true
		}
		if trailing {
			return pos, nil
		}
		if err := fn(e); err != nil {
			return pos, err
		}
	}
}

func hexField(b []byte) (uint64, error) {
	return strconv.ParseUint(string(b), 16, 32)
}

func octField(b []byte) (uint64, error) {
	return strconv.ParseUint(string(b), 8, 40)
}

func pad4(n int) int { return (n + 3) &^ 3 }

func readNewc(b []byte, pos int) (CPIOEntry, int, error) {
	var e CPIOEntry
	const hdr = 110
	if len(b)-pos < hdr {
		return e, 0, fmt.Errorf("cpio: %w: truncated header at %d", ErrFormat, pos)
	}
	h := b[pos : pos+hdr]
	var f [13]uint64
	for i := range f {
		v, err := hexField(h[6+8*i : 14+8*i])
		if err != nil {
			return e, 0, fmt.Errorf("cpio: %w: header field %d at %d", ErrFormat, i, pos)
		}
		f[i] = v
	}
	mode, size, namesize := f[1], f[6], f[11]
	if namesize == 0 || namesize > 4096 {
		return e, 0, fmt.Errorf("cpio: %w: name size %d at %d", ErrFormat, namesize, pos)
	}
	nameEnd := pos + hdr + int(namesize)
	if nameEnd > len(b) {
		return e, 0, fmt.Errorf("cpio: %w: truncated name at %d", ErrFormat, pos)
	}
	e.Name = string(bytes.TrimRight(b[pos+hdr:nameEnd], "\x00"))
	e.Mode = uint32(mode)
	dataStart := pos + pad4(hdr+int(namesize))
	if dataStart > len(b) || uint64(len(b)-dataStart) < size {
		return e, 0, fmt.Errorf("cpio: %w: %s: truncated data", ErrFormat, e.Name)
	}
	e.Data = b[dataStart : dataStart+int(size)]
	// The last member's padding may be cut off: never consume beyond b.
	return e, min(dataStart+pad4(int(size)), len(b)), nil
}

func readODC(b []byte, pos int) (CPIOEntry, int, error) {
	var e CPIOEntry
	const hdr = 76
	if len(b)-pos < hdr {
		return e, 0, fmt.Errorf("cpio: %w: truncated header at %d", ErrFormat, pos)
	}
	h := b[pos : pos+hdr]
	mode, err1 := octField(h[18:24])
	namesize, err2 := octField(h[59:65])
	size, err3 := octField(h[65:76])
	if err1 != nil || err2 != nil || err3 != nil {
		return e, 0, fmt.Errorf("cpio: %w: odc header at %d", ErrFormat, pos)
	}
	if namesize == 0 || namesize > 4096 {
		return e, 0, fmt.Errorf("cpio: %w: name size %d at %d", ErrFormat, namesize, pos)
	}
	nameEnd := pos + hdr + int(namesize)
	if nameEnd > len(b) || uint64(len(b)-nameEnd) < size {
		return e, 0, fmt.Errorf("cpio: %w: truncated member at %d", ErrFormat, pos)
	}
	e.Name = string(bytes.TrimRight(b[pos+hdr:nameEnd], "\x00"))
	e.Mode = uint32(mode)
	e.Data = b[nameEnd : nameEnd+int(size)]
	return e, nameEnd + int(size), nil
}
