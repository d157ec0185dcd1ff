package unpack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// UBI on-flash layout (Linux drivers/mtd/ubi/ubi-media.h). All integers are
// big-endian; header CRCs are the kernel's crc32_le seeded with 0xFFFFFFFF
// and not inverted at the end, which is ^crc32.ChecksumIEEE.
const (
	ubiECMagic      = "UBI#"
	ubiVIDMagic     = "UBI!"
	ubiHdrSize      = 64
	ubiLayoutVolID  = 0x7FFFEFFF
	ubiMaxVolumes   = 128
	ubiVtblRecSize  = 172
	ubiVolNameMax   = 127
	ubiVolDynamic   = 1
	ubiVolStatic    = 2
	ubifsMagic      = "\x31\x18\x10\x06" // UBIFS node magic 0x06101831, little-endian
	ubiMinPEB       = 4 << 10
	ubiMaxPEB       = 16 << 20
	ubiProbeWindow  = 32 << 20 // bytes examined to detect the PEB size
	ubiNameCap      = 64       // bytes of a volume name kept in file names
	ubiMaxLEBNumber = 1 << 24  // LEB numbers above this are treated as corrupt
)

// ubiUsualPEBSizes are the erase-block sizes tried besides the measured
// distance between the first two EC headers.
var ubiUsualPEBSizes = []int{16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20}

func ubiCRC(b []byte) uint32 { return ^crc32.ChecksumIEEE(b) }

// UBIImage is a parsed UBI image: its geometry, the volumes found and the
// blocks that were skipped.
type UBIImage struct {
	PEBSize         int         `json:"peb_size"`
	LEBSize         int         `json:"leb_size"`
	VIDHeaderOffset int         `json:"vid_hdr_offset"`
	DataOffset      int         `json:"data_offset"`
	ImageSeq        uint32      `json:"image_seq"`
	PEBs            int         `json:"pebs"`               // erase blocks that belong to the image
	Consumed        int64       `json:"size"`               // bytes up to the end of the last UBI block
	Erased          int         `json:"erased"`             // blocks without an EC header (all 0xFF)
	Free            int         `json:"free"`               // blocks with an EC header but no VID header
	Internal        int         `json:"internal,omitempty"` // fastmap blocks (internal volumes other than the layout)
	BadECCRC        int         `json:"bad_ec_crc,omitempty"`
	BadVIDCRC       int         `json:"bad_vid_crc,omitempty"`
	BadDataCRC      int         `json:"bad_data_crc,omitempty"`
	Truncated       bool        `json:"truncated,omitempty"` // the last block is cut short
	LayoutFound     bool        `json:"layout_found"`        // a valid volume table was read
	Volumes         []UBIVolume `json:"volumes"`

	data []byte
	lebs map[uint32]map[uint32]ubiLEB // vol_id → lnum → chosen block
}

// UBIVolume is one user volume of a UBI image.
type UBIVolume struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"` // "static" or "dynamic"
	LEBs      int    `json:"lebs"` // logical blocks present
	MaxLEB    int    `json:"max_leb"`
	Reserved  int    `json:"reserved_pebs,omitempty"`
	UsedEBs   int    `json:"used_ebs,omitempty"` // static volumes: LEBs holding data
	Size      int64  `json:"size"`               // bytes written
	Path      string `json:"path,omitempty"`     // sandbox-relative .ubivol file
	Content   string `json:"content,omitempty"`  // "ubifs" when the volume holds UBIFS
	Missing   int    `json:"missing_lebs,omitempty"`
	Error     string `json:"error,omitempty"`
	static    bool
	dataPad   int
	hasRecord bool
}

type ubiLEB struct {
	sqnum    uint64
	off      int // absolute offset of the data area
	n        int // bytes of LEB data present (static: data_size)
	copyFlag bool
	volType  byte
	usedEBs  uint32
	dataPad  uint32
	short    bool // the block is cut short by the end of the image
}

type ubiEC struct {
	vidOff, dataOff int
	imageSeq        uint32
}

func parseUBIEC(b []byte) (ubiEC, bool) {
	if len(b) < ubiHdrSize || string(b[:4]) != ubiECMagic || b[4] != 1 {
		return ubiEC{}, false
	}
	if ubiCRC(b[:60]) != binary.BigEndian.Uint32(b[60:]) {
		return ubiEC{}, false
	}
	return ubiEC{
		vidOff:   int(binary.BigEndian.Uint32(b[16:])),
		dataOff:  int(binary.BigEndian.Uint32(b[20:])),
		imageSeq: binary.BigEndian.Uint32(b[24:]),
	}, true
}

// ubiPEBSize guesses the erase-block size of the image starting at data[0]:
// each candidate scores +1 for every block boundary holding an EC magic and
// −1 for one holding neither an EC magic nor erased flash; ties go to more
// magics, then to the larger size.
func ubiPEBSize(data []byte, ec ubiEC) int {
	cands := slices.Clone(ubiUsualPEBSizes)
	for from := ubiHdrSize; from < len(data) && from <= ubiMaxPEB; {
		j := indexFrom(data, []byte(ubiECMagic), from)
		if j < 0 || j > ubiMaxPEB {
			break
		}
		if e, ok := parseUBIEC(data[j:]); ok {
			if e.imageSeq == ec.imageSeq && j >= ubiMinPEB && !slices.Contains(cands, j) {
				cands = append(cands, j)
			}
			break // the next valid header ends the search either way
		}
		from = j + 1
	}
	window := min(len(data), ubiProbeWindow)
	best, bestScore, bestHits := 0, 0, 0
	for _, s := range cands {
		if s <= ec.dataOff || s <= ec.vidOff+ubiHdrSize || s >= window {
			continue
		}
		score, hits := 0, 0
		for p := s; p+4 <= window; p += s {
			switch w := string(data[p : p+4]); {
			case w == ubiECMagic:
				score++
				hits++
			case w != "\xff\xff\xff\xff":
				score--
			}
		}
		if hits == 0 {
			continue
		}
		if best == 0 || score > bestScore || score == bestScore && (hits > bestHits || hits == bestHits && s > best) {
			best, bestScore, bestHits = s, score, hits
		}
	}
	return best
}

// ParseUBI reads the erase blocks of a UBI image starting at data[0] and
// picks, for every logical block of every volume, the physical block that
// holds its current contents. It copies no volume data: use
// [UBIImage.VolumeReader]. Blocks with bad CRCs are skipped and counted.
func ParseUBI(data []byte) (*UBIImage, error) {
	ec, ok := parseUBIEC(data)
	if !ok {
		return nil, fmt.Errorf("ubi: %w: EC header", ErrFormat)
	}
	if ec.vidOff < ubiHdrSize || ec.dataOff < ec.vidOff+ubiHdrSize || ec.dataOff >= ubiMaxPEB {
		return nil, fmt.Errorf("ubi: %w: header offsets vid %d data %d", ErrFormat, ec.vidOff, ec.dataOff)
	}
	peb := ubiPEBSize(data, ec)
	if peb == 0 {
		return nil, fmt.Errorf("ubi: %w: cannot determine the erase-block size", ErrFormat)
	}
	img := &UBIImage{
		PEBSize: peb, LEBSize: peb - ec.dataOff, VIDHeaderOffset: ec.vidOff, DataOffset: ec.dataOff,
		ImageSeq: ec.imageSeq, data: data, lebs: map[uint32]map[uint32]ubiLEB{},
	}
	erasedRun := 0
	for p := 0; p+4 <= len(data); p += peb {
		end := min(p+peb, len(data))
		blk := data[p:end]
		if string(blk[:4]) != ubiECMagic {
			if isErased(blk) {
				erasedRun++
				continue
			}
			break
		}
		if e, ok := parseUBIEC(blk); ok && e.imageSeq != ec.imageSeq {
			break // the next image
		}
		img.Erased += erasedRun
		erasedRun = 0
		img.PEBs++
		img.Consumed = int64(end)
		if end-p < peb {
			img.Truncated = true
		}
		img.block(p, blk)
	}
	img.volumes()
	return img, nil
}

func isErased(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// block records the erase block blk found at offset pos.
func (img *UBIImage) block(pos int, blk []byte) {
	ec, ok := parseUBIEC(blk)
	if !ok {
		img.BadECCRC++
		return
	}
	if ec.vidOff != img.VIDHeaderOffset || ec.dataOff != img.DataOffset {
		img.BadECCRC++ // geometry differs from the image's: treat as corrupt
		return
	}
	if len(blk) < ec.vidOff+ubiHdrSize {
		return // cut before its VID header
	}
	v := blk[ec.vidOff : ec.vidOff+ubiHdrSize]
	if string(v[:4]) != ubiVIDMagic {
		if isErased(v) {
			img.Free++
		} else {
			img.BadVIDCRC++
		}
		return
	}
	if v[4] != 1 || ubiCRC(v[:60]) != binary.BigEndian.Uint32(v[60:]) {
		img.BadVIDCRC++
		return
	}
	volID := binary.BigEndian.Uint32(v[8:])
	lnum := binary.BigEndian.Uint32(v[12:])
	if volID > ubiLayoutVolID && volID <= 0x7FFFFFFF {
		img.Internal++ // fastmap and other internal volumes: not user data
		return
	}
	if volID >= ubiMaxVolumes && volID != ubiLayoutVolID || lnum > ubiMaxLEBNumber {
		img.BadVIDCRC++
		return
	}
	l := ubiLEB{
		volType: v[5], copyFlag: v[6] != 0,
		usedEBs: binary.BigEndian.Uint32(v[24:]), dataPad: binary.BigEndian.Uint32(v[28:]),
		sqnum: binary.BigEndian.Uint64(v[40:]),
	}
	dataSize := int64(binary.BigEndian.Uint32(v[20:]))
	dataCRC := binary.BigEndian.Uint32(v[32:])
	start := int64(ec.dataOff)
	avail := max(int64(len(blk))-start, 0)
	usable := int64(img.LEBSize) - int64(l.dataPad)
	if usable < 0 || dataSize > usable {
		img.BadVIDCRC++
		return
	}
	if l.volType == ubiVolStatic || l.copyFlag {
		// data_size and data_crc are meaningful: check them.
		if dataSize > avail {
			img.Truncated = true
			return
		}
		if ubiCRC(blk[start:start+dataSize]) != dataCRC {
			img.BadDataCRC++
			return
		}
	}
	if l.volType == ubiVolStatic {
		l.n = int(dataSize)
	} else {
		l.n = int(min(usable, avail))
		l.short = avail < usable
	}
	l.off = pos + int(start)
	m := img.lebs[volID]
	if m == nil {
		m = map[uint32]ubiLEB{}
		img.lebs[volID] = m
	}
	// The newest copy wins; a copy_flag block reaching here passed its data
	// CRC, so it may replace the block it was copied from.
	if old, ok := m[lnum]; !ok || l.sqnum > old.sqnum || l.sqnum == old.sqnum && l.copyFlag && !old.copyFlag {
		m[lnum] = l
	}
}

// volumes reads the volume table and lists the user volumes.
func (img *UBIImage) volumes() {
	recs := img.layout()
	ids := map[int]bool{}
	for id := range recs {
		ids[id] = true
	}
	for id := range img.lebs {
		if id < ubiMaxVolumes {
			ids[int(id)] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		v := UBIVolume{ID: id, Name: fmt.Sprintf("vol%d", id)}
		if r, ok := recs[id]; ok {
			v = r
		}
		lebs := img.lebs[uint32(id)]
		v.LEBs = len(lebs)
		for ln, l := range lebs {
			v.MaxLEB = max(v.MaxLEB, int(ln))
			if !v.hasRecord {
				v.static = l.volType == ubiVolStatic
				v.dataPad = int(l.dataPad)
			}
			if l.volType == ubiVolStatic {
				v.UsedEBs = max(v.UsedEBs, int(min(l.usedEBs, ubiMaxLEBNumber)))
			}
		}
		v.Type = "dynamic"
		if v.static {
			v.Type = "static"
		}
		img.Volumes = append(img.Volumes, v)
	}
}

// layout parses the volume table from the first layout-volume copy whose
// records all check out (or, failing that, any record that checks out).
func (img *UBIImage) layout() map[int]UBIVolume {
	lay := img.lebs[ubiLayoutVolID]
	n := min(ubiMaxVolumes, img.LEBSize/ubiVtblRecSize)
	var best map[int]UBIVolume
	for _, ln := range []uint32{0, 1} {
		l, ok := lay[ln]
		if !ok {
			continue
		}
		recs, bad := map[int]UBIVolume{}, 0
		b := img.data[l.off : l.off+l.n]
		for i := 0; i < n && (i+1)*ubiVtblRecSize <= len(b); i++ {
			r := b[i*ubiVtblRecSize : (i+1)*ubiVtblRecSize]
			if ubiCRC(r[:168]) != binary.BigEndian.Uint32(r[168:]) {
				bad++
				continue
			}
			reserved := binary.BigEndian.Uint32(r[0:])
			if reserved == 0 {
				continue // empty slot
			}
			nameLen := min(int(binary.BigEndian.Uint16(r[14:])), ubiVolNameMax)
			name := string(r[16 : 16+nameLen])
			if i := strings.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			recs[i] = UBIVolume{
				ID: i, Name: name, Reserved: int(reserved), static: r[12] == ubiVolStatic,
				dataPad: int(binary.BigEndian.Uint32(r[8:])), hasRecord: true,
			}
		}
		if bad == 0 {
			img.LayoutFound = true
			return recs
		}
		if best == nil && len(recs) > 0 {
			best = recs
		}
	}
	if best != nil {
		img.LayoutFound = true
	}
	return best
}

// ubiSeg is a run of volume bytes: image bytes at off, or n bytes of 0xFF.
type ubiSeg struct {
	off  int
	n    int64
	fill bool
}

// segments lays out volume v as runs of image bytes and erased filler for
// unmapped LEBs. Filler is charged to *budget; when it runs out the volume
// is cut there. It also returns what is wrong with the volume.
func (img *UBIImage) segments(v *UBIVolume, budget *int64) ([]ubiSeg, error) {
	lebs := img.lebs[uint32(v.ID)]
	lnums := slices.Sorted(maps.Keys(lebs))
	usable := int64(img.LEBSize - v.dataPad)
	if usable <= 0 {
		return nil, fmt.Errorf("data_pad %d leaves no room in a %d-byte LEB", v.dataPad, img.LEBSize)
	}
	var (
		segs  []ubiSeg
		errs  []string
		next  int64
		short []uint32
	)
	last := int64(-1)
	if v.static {
		last = int64(v.UsedEBs) - 1
	} else if len(lnums) > 0 {
		last = int64(lnums[len(lnums)-1])
	}
	for _, ln := range lnums {
		if int64(ln) > last {
			break
		}
		if gap := int64(ln) - next; gap > 0 {
			v.Missing += int(gap)
			fill := gap * usable
			if fill > *budget {
				errs = append(errs, fmt.Sprintf("%d unmapped LEBs before LEB %d exceed the filler budget; volume cut there", gap, ln))
				return segs, errors.New(strings.Join(errs, "; "))
			}
			*budget -= fill
			segs = append(segs, ubiSeg{n: fill, fill: true})
		}
		l := lebs[ln]
		segs = append(segs, ubiSeg{off: l.off, n: int64(l.n)})
		if l.short {
			short = append(short, ln)
		}
		next = int64(ln) + 1
	}
	if v.static && next <= last {
		v.Missing += int(last + 1 - next)
	}
	if !v.static {
		// Erased flash at the end of a dynamic volume is not data.
		for len(segs) > 0 && !segs[len(segs)-1].fill {
			s := &segs[len(segs)-1]
			b := img.data[s.off : s.off+int(s.n)]
			k := len(b)
			for k > 0 && b[k-1] == 0xFF {
				k--
			}
			s.n = int64(k)
			if k > 0 {
				break
			}
			segs = segs[:len(segs)-1]
		}
	}
	if len(short) > 0 {
		errs = append(errs, fmt.Sprintf("LEB %d cut short by the end of the image", short[0]))
	}
	if v.static && v.Missing > 0 {
		errs = append(errs, fmt.Sprintf("%d of %d LEBs missing (bad CRC or beyond the end of the image)", v.Missing, last+1))
	}
	if len(errs) > 0 {
		return segs, errors.New(strings.Join(errs, "; "))
	}
	return segs, nil
}

// VolumeReader returns the contents of volume v: for each LEB the newest
// valid copy, unmapped LEBs as erased flash (0xFF, at most maxFill bytes in
// all), static volumes cut to their data sizes, trailing erased bytes of a
// dynamic volume trimmed. The error says what is missing; the reader still
// yields the rest.
func (img *UBIImage) VolumeReader(v UBIVolume, maxFill int64) (io.Reader, error) {
	segs, err := img.segments(&v, &maxFill)
	return &ubiReader{data: img.data, segs: segs}, err
}

type ubiReader struct {
	data []byte
	segs []ubiSeg
	pos  int64 // within segs[0]
}

var ubiFF = bytes.Repeat([]byte{0xFF}, 32<<10)

func (r *ubiReader) Read(p []byte) (int, error) {
	for len(r.segs) > 0 && r.pos >= r.segs[0].n {
		r.segs, r.pos = r.segs[1:], 0
	}
	if len(r.segs) == 0 {
		return 0, io.EOF
	}
	s := r.segs[0]
	want := min(int64(len(p)), s.n-r.pos)
	var n int
	if s.fill {
		n = copy(p[:want], ubiFF)
	} else {
		n = copy(p[:want], r.data[s.off+int(r.pos):])
	}
	r.pos += int64(n)
	return n, nil
}

// ubiFileName makes a volume name safe as one file name.
func ubiFileName(name string, id int) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || !unicode.IsPrint(r) {
			return '_'
		}
		return r
	}, name)
	name = strings.ReplaceAll(name, "..", "__")
	if len(name) > ubiNameCap {
		name = strings.ToValidUTF8(name[:ubiNameCap], "")
	}
	if name == "" || name == "." {
		name = fmt.Sprintf("vol%d", id)
	}
	return name
}

// ubi extracts every volume of a UBI image as out/<name>.ubivol and hands
// each to the carver. UBIFS volumes are kept but not unpacked.
func (u *unpacker) ubi(data []byte, out string, depth int, e *Entry) (int64, error) {
	img, err := ParseUBI(data)
	if err != nil {
		return 0, err
	}
	e.Info = img.summary()
	if err := u.outDir(out); err != nil {
		return img.Consumed, err
	}
	budget := img.Consumed // filler for unmapped LEBs, all volumes together
	var errs []error
	used := map[string]bool{}
	for i := range img.Volumes {
		if u.ctx.Err() != nil {
			errs = append(errs, u.ctx.Err())
			break
		}
		v := &img.Volumes[i]
		if v.LEBs == 0 {
			v.Error = "no logical blocks present"
			continue
		}
		base := ubiFileName(v.Name, v.ID)
		for k := 0; used[base]; k++ {
			base = fmt.Sprintf("%s-%d.%d", ubiFileName(v.Name, v.ID), v.ID, k)
		}
		used[base] = true
		rel := out + "/" + base + ".ubivol"
		segs, serr := img.segments(v, &budget)
		n, head, werr := u.sb.writeFile(rel, &ubiReader{data: data, segs: segs})
		v.Path, v.Size = rel, n
		if serr != nil {
			v.Error = serr.Error()
			errs = append(errs, fmt.Errorf("ubi volume %q: %w", v.Name, serr))
		}
		if bytes.HasPrefix(head, []byte(ubifsMagic)) {
			v.Content = "ubifs"
			u.rep.Unsupported = append(u.rep.Unsupported, Entry{Format: "ubifs", Parent: rel, Depth: depth + 1,
				Error: "UBIFS volume (not unpacked: no pure-Go UBIFS reader); the volume file is kept"})
		}
		if werr != nil {
			errs = append(errs, fmt.Errorf("ubi volume %q: %w", v.Name, werr))
			if errors.Is(werr, ErrLimit) {
				break
			}
			continue
		}
		if n > 0 && v.Content == "" {
			u.heads = append(u.heads, headHit{rel: rel, full: true})
		}
	}
	if bad := img.BadECCRC + img.BadVIDCRC + img.BadDataCRC; bad > 0 {
		errs = append(errs, fmt.Errorf("ubi: %d blocks skipped (EC CRC %d, VID CRC or header %d, data CRC %d)",
			bad, img.BadECCRC, img.BadVIDCRC, img.BadDataCRC))
	}
	if img.Truncated {
		errs = append(errs, fmt.Errorf("ubi: image truncated in its last erase block"))
	}
	if !img.LayoutFound {
		errs = append(errs, fmt.Errorf("ubi: no valid volume table; volumes named by id"))
	}
	e.Info = img.summary()
	return img.Consumed, errors.Join(errs...)
}

// summary is the image without its references to the input bytes, for the
// report (the input is unmapped when Unpack returns).
func (img *UBIImage) summary() *UBIImage {
	s := *img
	s.data, s.lebs = nil, nil
	s.Volumes = slices.Clone(img.Volumes)
	return &s
}
