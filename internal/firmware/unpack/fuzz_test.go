package unpack

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func FuzzReadCPIO(f *testing.F) {
	f.Add([]byte("070701000000010000816400000000000000000000000100000000000000050000000000000000000000000000000000000000000000060000000061626300\x00\x00hello\x00\x00\x00070701000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000bTRAILER!!!\x00"))
	f.Add([]byte("0707070000000000000100644000000000000000010000000000000000000000000000500000000005abcd\x00hello"))
	f.Add([]byte("070701zzzzzzzz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, _ := ReadCPIO(data, func(e CPIOEntry) error {
			if len(e.Data) > len(data) {
				t.Fatalf("entry data %d longer than input %d", len(e.Data), len(data))
			}
			return nil
		})
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add(append([]byte("\x27\x05\x19\x56"), make([]byte, 80)...))
	f.Add(append([]byte("HDR0\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x1c\x00\x00\x00"), make([]byte, 64)...))
	f.Add(append([]byte("hsqs"), make([]byte, 120)...))
	f.Add(make([]byte, 2100))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseUImage(data)
		if tr, err := ParseTRX(data); err == nil {
			for _, p := range tr.Partitions() {
				if p[0] > p[1] || int(p[1]) > len(data) {
					t.Fatalf("partition %v outside %d bytes", p, len(data))
				}
			}
		}
		ParseSquashfsSuper(data)
		if img, err := ParseJFFS2(data); err == nil {
			for _, nodes := range img.inodes {
				img.content(nodes, 1<<20)
			}
		}
		rtimeDecompress(data, 4096)
		ParseExtSuper(data)
		validLZMAHeader(data)
		matchAt(data)
	})
}

// FuzzUnpack runs the whole carver on arbitrary bytes with tight limits.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(zstdRLEBomb(1 << 20))
	f.Add(trxOf([]byte("hsqs")))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		img := filepath.Join(dir, "img")
		os.WriteFile(img, data, 0o644)
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o700)
		rep, err := Unpack(context.Background(), img, out, Limits{MaxBytes: 4 << 20, MaxFiles: 200, MaxDepth: 3, MaxAttempts: 50})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Bytes > 4<<20 {
			t.Fatalf("wrote %d bytes over the cap", rep.Bytes)
		}
	})
}

// FuzzUBI parses arbitrary bytes as a UBI image and reads every volume, then
// runs the carver on what parses. Seeds: testdata/ubi-small.ubi and
// ubi-tiny.ubi (see TestUBISmallFixture), cut and garbled.
func FuzzUBI(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("testdata", "ubi-small.ubi"))
	if err != nil {
		f.Fatal(err)
	}
	tiny, err := os.ReadFile(filepath.Join("testdata", "ubi-tiny.ubi"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(tiny)
	f.Add(tiny[:3*4096+100])
	f.Add(small[:len(small)-5000])
	f.Add(small[:16<<10+700])
	garbled := bytes.Clone(small)
	for i := 64; i < len(garbled); i += 997 {
		garbled[i] ^= 0x21
	}
	f.Add(garbled)
	f.Add(append([]byte("UBI#\x01"), make([]byte, 100)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := ParseUBI(data)
		if err == nil {
			if img.Consumed > int64(len(data)) || img.Consumed <= 0 {
				t.Fatalf("consumed %d of %d", img.Consumed, len(data))
			}
			for _, v := range img.Volumes {
				r, _ := img.VolumeReader(v, int64(len(data)))
				n, err := io.Copy(io.Discard, r)
				if err != nil || n > 2*int64(len(data)) {
					t.Fatalf("volume %d: read %d bytes (%v) from a %d-byte image", v.ID, n, err, len(data))
				}
			}
		}
		if err != nil {
			return // the carver on other bytes is FuzzUnpack's job
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "img")
		os.WriteFile(path, data, 0o644)
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o700)
		rep, err := Unpack(context.Background(), path, out, Limits{MaxBytes: 8 << 20, MaxFiles: 200, MaxDepth: 3, MaxAttempts: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rep.Extracted {
			if e.Format == "ubi" && (e.Size > int64(len(data)) || e.Offset+e.Size > int64(len(data))) {
				t.Fatalf("ubi entry at %d consumed %d of %d bytes", e.Offset, e.Size, len(data))
			}
		}
		if rep.Bytes > 3*int64(len(data))+(1<<20) {
			t.Fatalf("wrote %d bytes from %d", rep.Bytes, len(data))
		}
	})
}
