package pcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// records reads the packet records of a classic pcap file in place, from
// the buffered reader's buffer: pcapgo.Reader copies each record's header
// and then its data out of a second bufio.Reader of its own, two io.ReadFull
// calls per packet. pcapgo parses and checks the file header (newRecords);
// the records are read as pcapgo reads them, with its checks and its
// errors (FuzzRecords compares the two).
type records struct {
	br    Buffered
	size  int // br.Size()
	order binary.ByteOrder
	nanos uint32 // nanoseconds per timestamp unit
	max   int    // longest capture length accepted
	snap  uint32
	win   []byte // the buffered reader's bytes, read up to off
	off   int
	// ahead is the offset in win of the record after those peek returned,
	// nAhead how many of those record has not given yet.
	ahead, nAhead int
	// hints hold what the caller noted of the records peek returned
	// (note), by their number (seq: records given) modulo maxAhead; peeked
	// tells whether the record given last was peeked at.
	hints  [maxAhead]hint
	seq    uint64
	peeked bool
}

// maxAhead is how many records peek may be ahead of record.
const maxAhead = 8

// hint is what a reader notes of a record it peeked at: its flow key's
// hash, when it has one (ok).
type hint struct {
	h  uint64
	ok bool
}

// pcapgo's limits (read.go, readfull.go).
const eagerReadMax = 262144

// newRecords reads the file header at br's start with pcapgo; ok is false
// when the capture is one records does not read (a gzip-compressed file,
// a header cut short), to be left to pcapgo.Reader.
func newRecords(br Buffered) (r *records, pr *pcapgo.Reader, ok bool, err error) {
	hdr, _ := br.Peek(24)
	if len(hdr) < 24 || (hdr[0] == 0x1f && hdr[1] == 0x8b) {
		return nil, nil, false, nil
	}
	if pr, err = pcapgo.NewReader(bytes.NewReader(hdr)); err != nil {
		return nil, nil, true, err
	}
	r = &records{br: br, size: br.Size(), order: binary.BigEndian, nanos: 1, snap: pr.Snaplen(), max: max(int(pr.Snaplen()), eagerReadMax)}
	if m := binary.LittleEndian.Uint32(hdr); m == 0xa1b2c3d4 || m == 0xa1b23c4d {
		r.order = binary.LittleEndian
	}
	if pr.Resolution() == gopacket.TimestampResolutionMicrosecond {
		r.nanos = 1000
	}
	_, _ = br.Discard(24)
	return r, pr, true, nil
}

// ZeroCopyReadPacketData returns the next record's data, valid until the
// next call, and its capture information.
func (r *records) ZeroCopyReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error) {
	data, h, err := r.record()
	if h != nil {
		ci.Timestamp = time.Unix(int64(r.order.Uint32(h[0:4])), int64(r.order.Uint32(h[4:8])*r.nanos)).UTC()
		ci.CaptureLength = int(r.order.Uint32(h[8:12]))
		ci.Length = int(r.order.Uint32(h[12:16]))
	}
	return data, ci, err
}

// next returns the next record's data, valid until the next call, and its
// time in Unix nanoseconds (that of ZeroCopyReadPacketData's timestamp).
func (r *records) next() ([]byte, int64, error) {
	data, h, err := r.record()
	if err != nil {
		return nil, 0, err
	}
	return data, int64(r.order.Uint32(h[0:4]))*1e9 + int64(r.order.Uint32(h[4:8])*r.nanos), nil
}

// record reads the next record: its data and its 16-byte header (nil when
// it was cut short). The records are read from win, what the buffered
// reader holds, the reader told only when win runs out (a Peek and a
// Discard for every few thousand packets, not for each).
func (r *records) record() (data, h []byte, err error) {
	if len(r.win)-r.off < 16 {
		if err := r.refill(16); err != nil {
			return nil, nil, err
		}
	}
	h = r.win[r.off : r.off+16 : r.off+16]
	r.off += 16
	r.peeked = r.nAhead > 0
	r.nAhead = max(r.nAhead-1, 0)
	r.seq++
	capLen, origLen := int(r.order.Uint32(h[8:12])), int(r.order.Uint32(h[12:16]))
	if capLen > r.max {
		return nil, h, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, r.snap)
	}
	if capLen > origLen {
		return nil, h, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, origLen)
	}
	if capLen > r.size {
		hc := bytes.Clone(h) // win's bytes go
		_, _ = r.br.Discard(r.off)
		r.win, r.off, r.ahead, r.nAhead = nil, 0, 0, 0
		data, err = readLong(r.br, capLen)
		return data, hc, err
	}
	if len(r.win)-r.off < capLen {
		hc := [16]byte(h)
		if err := r.refill(capLen); err != nil {
			return nil, hc[:], err
		}
		h = hc[:]
	}
	data = r.win[r.off : r.off+capLen : r.off+capLen]
	r.off += capLen
	return data, h, nil
}

// peek returns the data of the record after those peek returned since the
// one record gave last (the record after that one, then the one after
// that...) when the reader holds it all, nil otherwise; nAhead counts them.
// It does not check the record (a hint of what comes).
func (r *records) peek() []byte {
	if r.ahead < r.off || r.ahead > len(r.win) {
		r.ahead, r.nAhead = r.off, 0
	}
	w := r.win[r.ahead:]
	if len(w) < 16 {
		return nil
	}
	if n := r.order.Uint32(w[8:12]); uint64(n) <= uint64(len(w)-16) && r.nAhead < maxAhead {
		r.hints[(r.seq+uint64(r.nAhead))%maxAhead] = hint{}
		r.ahead += 16 + int(n)
		r.nAhead++
		return w[16 : 16+n]
	}
	return nil
}

// note keeps h for the record peek returned last.
func (r *records) note(h hint) {
	if r.nAhead > 0 {
		r.hints[(r.seq+uint64(r.nAhead)-1)%maxAhead] = h
	}
}

// noted returns what was noted of the record given last (none when it
// was not peeked at).
func (r *records) noted() hint {
	if !r.peeked {
		return hint{}
	}
	return r.hints[(r.seq-1)%maxAhead]
}

// refill discards the bytes of win read so far and makes win what the
// reader holds, at least n bytes unless the file ends first (its error,
// as io.ReadFull's).
func (r *records) refill(n int) error {
	_, _ = r.br.Discard(r.off)
	r.ahead -= r.off // the same record, in the window that starts at off
	r.win, r.off = nil, 0
	w, err := r.br.Peek(n)
	if len(w) < n {
		return short(len(w), err)
	}
	r.win, _ = r.br.Peek(r.br.Buffered())
	return nil
}

// short is io.ReadFull's error for a read that got n bytes (fewer than it
// asked for) and stopped at err.
func short(n int, err error) error {
	if n > 0 && err == io.EOF { //nolint:errorlint // io.ReadFull's test: readers return io.EOF itself
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLong reads a record longer than the buffer as pcapgo does: the slice
// grows with the bytes actually read, so that a length field cannot make
// the reader allocate gigabytes for a short file.
func readLong(br io.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(min(n, eagerReadMax))
	m, err := io.CopyN(&buf, br, int64(n))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}
