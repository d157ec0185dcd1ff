package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow/synth"
)

// FuzzRecords reads the same bytes with records and with pcapgo.Reader: the
// same packets (data, time, lengths) and the same end (a clean end, a record
// cut short, or another error), with a buffer larger than every record and
// with one smaller than most; and with records.next, the assembler's way
// (data and time in Unix nanoseconds), peeking up to a few records ahead
// before each (each record peek gives is the one next gives later).
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
			peeked := map[int][]byte{} // by record
			for i := 0; ; i++ {
				for k := int(data[i%len(data)]) % 5; nr.nAhead < k; {
					d := nr.peek()
					if d == nil {
						break
					}
					peeked[i+nr.nAhead-1] = bytes.Clone(d)
				}
				d, ci, err := rr.ZeroCopyReadPacketData()
				pd, pci, perr := pr.ZeroCopyReadPacketData()
				nd, ns, nerr := nr.next()
				if p, ok := peeked[i]; ok && nerr == nil && !bytes.Equal(p, nd) {
					t.Fatalf("size %d, record %d: peeked %x, next gives %x", size, i, p, nd)
				}
				delete(peeked, i)
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

// TestPeek reads captures of small records through buffers that hold a few
// of them, peeking up to a number of records ahead before each: every
// record peek gives is the one next gives later, and peek gives each record
// but those cut by the buffer's end (it then gives nil until next goes on).
func TestPeek(t *testing.T) {
	var syns bytes.Buffer
	if err := synth.WriteSYNs(&syns, 500, 20, time.Minute); err != nil {
		t.Fatal(err)
	}
	var mixed bytes.Buffer
	rng := rand.New(rand.NewPCG(11, 12))
	if err := synth.WritePCAP(&mixed, synth.Normal(rng, synth.Addr("10.0.0.5"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		capture []byte
		size    int // the buffer's
		ahead   int // records peeked ahead before each next
		// minPeeks is how many records peek gives at least, in tenths of
		// the capture's (a buffer that holds one record has none ahead)
		minPeeks int
	}{
		{"syns/one ahead", syns.Bytes(), 256, 1, 6},
		{"syns/four ahead", syns.Bytes(), 256, 4, 6},
		{"syns/more than the buffer holds", syns.Bytes(), 100, 8, 0},
		{"syns/large buffer", syns.Bytes(), 1 << 16, 4, 9},
		{"mixed/records longer than the buffer", mixed.Bytes(), 64, 3, 0},
		{"mixed/some longer", mixed.Bytes(), 512, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, ok, err := newRecords(bufio.NewReaderSize(bytes.NewReader(tc.capture), tc.size))
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
			var want [][]byte // every record, read by pcapgo
			pr, err := pcapgo.NewReader(bytes.NewReader(tc.capture))
			if err != nil {
				t.Fatal(err)
			}
			for {
				d, _, err := pr.ReadPacketData()
				if err != nil {
					break
				}
				want = append(want, d)
			}
			peeks := 0
			for i := 0; ; i++ {
				for r.nAhead < tc.ahead {
					d := r.peek()
					if d == nil {
						break
					}
					if j := i + r.nAhead - 1; j >= len(want) || !bytes.Equal(d, want[j]) {
						t.Fatalf("before record %d: peek gave %x as record %d", i, d, j)
					}
					peeks++
				}
				d, _, err := r.next()
				if errors.Is(err, io.EOF) {
					if i != len(want) {
						t.Fatalf("%d records, want %d", i, len(want))
					}
					break
				}
				if err != nil || !bytes.Equal(d, want[i]) {
					t.Fatalf("record %d: %x, %v; want %x", i, d, err, want[i])
				}
			}
			if peeks*10 < tc.minPeeks*len(want) {
				t.Fatalf("peek gave %d of %d records", peeks, len(want))
			}
		})
	}
}
