package ingest

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTailReader: reading the appended part of a hostile file never panics,
// and what it yields is the format's header (from the file's first start
// bytes) followed by exactly the bytes after start.
func FuzzTailReader(f *testing.F) {
	for _, p := range []string{"ssh-bruteforce.pcap", "zeek/ssh-honeypot-rpi.conn.log", "netflow/nfv9-cisco-sampling.pcap"} {
		if b, err := os.ReadFile(filepath.Join(data, p)); err == nil {
			f.Add(b[:min(len(b), 4096)], uint16(len(b[:min(len(b), 4096)])/2))
		}
	}
	f.Add([]byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00"), uint16(28))
	f.Add([]byte("ts,te,sa\n1,2,3\n4,5,6\n"), uint16(15))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		start := int64(cut) % int64(len(b)+1)
		p := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		for _, k := range []Kind{PCAP, NetflowPCAP, Zeek, NfdumpCSV} {
			r, err := tailReader(k, fh, start, int64(len(b)))
			if err != nil {
				continue
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			hdr := len(got) - (len(b) - int(start))
			if hdr < 0 || hdr > int(start) || string(got[hdr:]) != string(b[start:]) || string(got[:hdr]) != string(b[:hdr]) {
				t.Fatalf("%s: %d bytes for start %d of %d: not a header of the prefix plus the tail", k, len(got), start, len(b))
			}
		}
	})
}
