package pcap

import (
	"bufio"
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
	br    *bufio.Reader
	order binary.ByteOrder
	nanos uint32 // nanoseconds per timestamp unit
	max   int    // longest capture length accepted
	snap  uint32
	skip  int // bytes of the record returned last, discarded on the next call
}

// pcapgo's limits (read.go, readfull.go).
const eagerReadMax = 262144

// newRecords reads the file header at br's start with pcapgo; ok is false
// when the capture is one records does not read (a gzip-compressed file,
// a header cut short), to be left to pcapgo.Reader.
func newRecords(br *bufio.Reader) (r *records, pr *pcapgo.Reader, ok bool, err error) {
	hdr, _ := br.Peek(24)
	if len(hdr) < 24 || (hdr[0] == 0x1f && hdr[1] == 0x8b) {
		return nil, nil, false, nil
	}
	if pr, err = pcapgo.NewReader(bytes.NewReader(hdr)); err != nil {
		return nil, nil, true, err
	}
	r = &records{br: br, order: binary.BigEndian, nanos: 1, snap: pr.Snaplen(), max: max(int(pr.Snaplen()), eagerReadMax)}
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
	if r.skip > 0 {
		_, _ = r.br.Discard(r.skip)
		r.skip = 0
	}
	h, err := r.br.Peek(16)
	if len(h) < 16 {
		return nil, ci, short(len(h), err)
	}
	ci.Timestamp = time.Unix(int64(r.order.Uint32(h[0:4])), int64(r.order.Uint32(h[4:8])*r.nanos)).UTC()
	ci.CaptureLength = int(r.order.Uint32(h[8:12]))
	ci.Length = int(r.order.Uint32(h[12:16]))
	_, _ = r.br.Discard(16)
	if ci.CaptureLength > r.max {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", ci.CaptureLength, r.snap)
	}
	if ci.CaptureLength > ci.Length {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", ci.CaptureLength, ci.Length)
	}
	if ci.CaptureLength > r.br.Size() {
		data, err = readLong(r.br, ci.CaptureLength)
		return data, ci, err
	}
	data, err = r.br.Peek(ci.CaptureLength)
	if len(data) < ci.CaptureLength {
		return nil, ci, short(len(data), err)
	}
	r.skip = ci.CaptureLength
	return data, ci, nil
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
func readLong(br *bufio.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(min(n, eagerReadMax))
	m, err := io.CopyN(&buf, br, int64(n))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}
