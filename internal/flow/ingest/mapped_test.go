package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest/pcap"
	"iotwatch/internal/flow/synth"
)

// TestMappedInput reads files mapped in place as the pcap reader does (a
// window peeked and discarded at a time), through Read in small reads, or
// only in part, and finishes: the bytes are the file's, the digest is that
// of the whole file, and the pages behind the reader are given back.
func TestMappedInput(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are mapped on Linux only")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		size int
		read func(*mappedInput) []byte // returns what it read
	}{
		{"windows", 3*mappedWindow + 12345, readWindows},
		{"one byte", 1, readWindows},
		{"exactly a window", mappedWindow, readWindows},
		{"many windows", 11*mappedWindow + 7, readWindows},
		{"small reads", 2*mappedWindow + 999, func(m *mappedInput) []byte {
			var out bytes.Buffer
			buf := make([]byte, 4093)
			for {
				n, err := m.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					return out.Bytes()
				}
			}
		}},
		{"first window only", 9*mappedWindow + 5, func(m *mappedInput) []byte {
			d, _ := m.Peek(m.Buffered())
			out := bytes.Clone(d)
			_, _ = m.Discard(len(d))
			return out
		}},
		{"nothing read", 6 * mappedWindow, func(*mappedInput) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			f := tempFile(t, data)
			m, err := mapInput(f, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got := tc.read(m)
			if !bytes.Equal(got, data[:len(got)]) {
				t.Fatalf("read %d bytes other than the file's", len(got))
			}
			sum, err := m.finish(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want := sha256.Sum256(data); sum != hex.EncodeToString(want[:]) {
				t.Fatalf("digest %s, want %x", sum, want)
			}
			if whole := len(data) &^ (os.Getpagesize() - 1); m.released != whole {
				t.Fatalf("%d bytes given back, want %d", m.released, whole)
			}
			if err := m.close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// readWindows reads m as the pcap reader reads its buffer.
func readWindows(m *mappedInput) []byte {
	var out bytes.Buffer
	for {
		n := m.Buffered()
		if n == 0 {
			return out.Bytes()
		}
		d, err := m.Peek(n)
		if err != nil {
			panic(err)
		}
		out.Write(d)
		_, _ = m.Discard(n)
	}
}

// TestMappedShrunk maps more of a file than it holds (as when it is cut
// shorter while mapped): the reading and the hashing end with errShrunk,
// and the process goes on.
func TestMappedShrunk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are mapped on Linux only")
	}
	f := tempFile(t, make([]byte, 2*mappedWindow))
	m, err := mapInput(f, 8*mappedWindow)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	_, err = readMapped(m, func() (flow.Counts, error) {
		readWindows(m)
		return nil, nil
	})
	if !errors.Is(err, errShrunk) {
		t.Fatalf("reading: %v, want errShrunk", err)
	}
	if _, err := m.finish(context.Background()); !errors.Is(err, errShrunk) {
		t.Fatalf("hashing: %v, want errShrunk", err)
	}
}

// TestMappedCapture: a capture read in place from its mapping (or, a
// pcapng, through its Read) gives the same records as read from a reader.
func TestMappedCapture(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are mapped on Linux only")
	}
	var buf bytes.Buffer
	if err := synth.WriteSYNs(&buf, 60000, 500, 20*time.Minute); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	pkts := synth.Normal(rng, synth.Addr("10.0.0.5"))
	var normal bytes.Buffer
	if err := synth.WritePCAP(&normal, pkts); err != nil {
		t.Fatal(err)
	}
	var ng bytes.Buffer // the normal capture as pcapng (read through Read)
	nw, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pcapgo.NewReader(bytes.NewReader(normal.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		if err := nw.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := nw.Flush(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"syns": buf.Bytes(), "normal": normal.Bytes(), "pcapng": ng.Bytes()} {
		t.Run(name, func(t *testing.T) {
			var want, got recordSink
			if _, err := pcap.Read(context.Background(), bytes.NewReader(data), &want, pcap.Options{}); err != nil {
				t.Fatal(err)
			}
			m, err := mapInput(tempFile(t, data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer m.close()
			if _, err := pcap.Read(context.Background(), m, &got, pcap.Options{}); err != nil {
				t.Fatal(err)
			}
			if len(want.recs) < 40 || len(got.recs) != len(want.recs) || len(got.dns) != len(want.dns) {
				t.Fatalf("%d records and %d DNS answers, want %d and %d", len(got.recs), len(got.dns), len(want.recs), len(want.dns))
			}
			for i := range want.recs {
				if got.recs[i] != want.recs[i] {
					t.Fatalf("record %d: %+v, want %+v", i, got.recs[i], want.recs[i])
				}
			}
		})
	}
}

type recordSink struct {
	recs []flow.Record
	dns  []flow.DNSAnswer
}

func (s *recordSink) Flow(r flow.Record)   { s.recs = append(s.recs, r) }
func (s *recordSink) DNS(a flow.DNSAnswer) { s.dns = append(s.dns, a) }

func tempFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
