package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow/synth"
)

// FuzzRecords reads the same bytes with records and with pcapgo.Reader: the
// same packets (data, time, lengths) and the same end (a clean end, a record
// cut short, or another error), with a buffer larger than every record and
// with one smaller than most; and with records.next, the assembler's way
// (data and time in Unix nanoseconds).
func FuzzRecords(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	var buf bytes.Buffer
	_ = synth.WritePCAP(&buf, synth.Normal(rng, synth.Addr("10.0.0.5"))[:20])
	whole := buf.Bytes()
	f.Add(whole)
	f.Add(whole[:len(whole)-5])         // data cut short
	f.Add(whole[:len(whole)-60])        // a header cut short
	f.Add(whole[:24])                   // no record
	be := bytes.Clone(whole[:24+16+10]) // big-endian, nanoseconds
	binary.BigEndian.PutUint32(be, 0xa1b23c4d)
	for _, i := range []int{4, 6} {
		binary.BigEndian.PutUint16(be[i:], binary.LittleEndian.Uint16(whole[i:]))
	}
	for _, i := range []int{16, 20, 24, 28, 32, 36} {
		binary.BigEndian.PutUint32(be[i:], binary.LittleEndian.Uint32(whole[i:]))
	}
	binary.BigEndian.PutUint32(be[32:], 10)
	binary.BigEndian.PutUint32(be[36:], 10)
	f.Add(be)
	long := bytes.Clone(whole[:24+16])
	binary.LittleEndian.PutUint32(long[32:], 1<<20) // longer than snap length
	f.Add(long)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int{64, 4096} {
			rr, _, ok, err := newRecords(bufio.NewReaderSize(bytes.NewReader(data), size))
			nr, _, _, _ := newRecords(bufio.NewReaderSize(bytes.NewReader(data), size))
			pr, perr := pcapgo.NewReader(bytes.NewReader(data))
			if !ok {
				continue
			}
			if (err == nil) != (perr == nil) {
				t.Fatalf("size %d: header error %v, pcapgo's %v", size, err, perr)
			}
			if err != nil {
				continue
			}
			for i := 0; ; i++ {
				d, ci, err := rr.ZeroCopyReadPacketData()
				pd, pci, perr := pr.ZeroCopyReadPacketData()
				nd, ns, nerr := nr.next()
				if (err == nil) != (nerr == nil) || errors.Is(err, io.EOF) != errors.Is(nerr, io.EOF) ||
					errors.Is(err, io.ErrUnexpectedEOF) != errors.Is(nerr, io.ErrUnexpectedEOF) {
					t.Fatalf("size %d, record %d: error %v, next's %v", size, i, err, nerr)
				}
				if err == nil && (!bytes.Equal(d, nd) || ns != ci.Timestamp.UnixNano()) {
					t.Fatalf("size %d, record %d: %d bytes at %v, next %d bytes at %d ns", size, i, len(d), ci.Timestamp, len(nd), ns)
				}
				if (err == nil) != (perr == nil) || errors.Is(err, io.EOF) != errors.Is(perr, io.EOF) ||
					errors.Is(err, io.ErrUnexpectedEOF) != errors.Is(perr, io.ErrUnexpectedEOF) {
					t.Fatalf("size %d, record %d: error %v, pcapgo's %v", size, i, err, perr)
				}
				if err != nil {
					break
				}
				if !bytes.Equal(d, pd) || !ci.Timestamp.Equal(pci.Timestamp) || ci.CaptureLength != pci.CaptureLength || ci.Length != pci.Length {
					t.Fatalf("size %d, record %d: %d bytes at %v (%d of %d), pcapgo %d bytes at %v (%d of %d)", size, i,
						len(d), ci.Timestamp, ci.CaptureLength, ci.Length, len(pd), pci.Timestamp, pci.CaptureLength, pci.Length)
				}
			}
		}
	})
}
