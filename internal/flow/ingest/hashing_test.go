package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// TestHashingReader reads a file through a hashingReader in reads of
// several sizes (one byte, half the asked, the whole buffer), all of it or
// a part, and finishes at several ends: the digest is that of the file's
// first end bytes (of the bytes read when they are more), although the
// reads are hashed on other goroutines, at most hashAhead behind the
// reader.
func TestHashingReader(t *testing.T) {
	data := make([]byte, 3<<20+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		wrap      func(io.Reader) io.Reader
		buf       int   // bytes asked per read
		read, end int64 // bytes read through the reader, digest's end
	}{
		{"whole file, large reads", func(r io.Reader) io.Reader { return r }, 1 << 20, int64(len(data)), int64(len(data))},
		{"half reads", iotest.HalfReader, 64 << 10, int64(len(data)), int64(len(data))},
		{"one byte reads", iotest.OneByteReader, 1, 5000, 5000},
		{"part read, rest at finish", func(r io.Reader) io.Reader { return r }, 4096, 1 << 20, int64(len(data))},
		{"read past the end", func(r io.Reader) io.Reader { return r }, 100000, 2 << 20, 2<<20 - 7},
		{"nothing read", func(r io.Reader) io.Reader { return r }, 4096, 0, int64(len(data))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			hr := &hashingReader{r: tc.wrap(f), h: sha256.New()}
			buf := make([]byte, tc.buf)
			var got bytes.Buffer
			for int64(got.Len()) < tc.read {
				n, err := hr.Read(buf[:min(int64(len(buf)), tc.read-int64(got.Len()))])
				got.Write(buf[:n])
				clear(buf) // the reader's buffer is reused: the hashing must have its own copy
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got.Bytes(), data[:tc.read]) {
				t.Fatal("read other bytes than the file's")
			}
			sum, err := hr.finish(context.Background(), f, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(data[:max(tc.read, tc.end)])
			if sum != hex.EncodeToString(want[:]) {
				t.Fatalf("digest %s, want %x", sum, want)
			}
		})
	}
}
