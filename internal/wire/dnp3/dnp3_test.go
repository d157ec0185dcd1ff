package dnp3

import (
	"bytes"
	"errors"
	"testing"
)

// TestFrames checks link status frames both ways and the CRC against the
// published CRC-16/DNP check value.
func TestFrames(t *testing.T) {
	req := RequestLinkStatus(10, 3)
	f, err := ParseHeader(req)
	if err != nil || f.Function() != 9 || !f.Primary() || !f.FromMaster() || f.Dest != 10 || f.Src != 3 {
		t.Fatalf("request %+v %v", f, err)
	}
	ans, err := ReadFrame(bytes.NewReader(LinkStatus(3, 10)))
	if err != nil || ans.Function() != 11 || ans.Primary() || ans.FromMaster() || ans.Src != 10 {
		t.Fatalf("answer %+v %v", ans, err)
	}
	bad := LinkStatus(3, 10)
	bad[8] ^= 1
	if _, err := ParseHeader(bad); !errors.Is(err, ErrNotDNP3) {
		t.Errorf("bad CRC: %v", err)
	}
	// The CRC of the DNP3 check string "123456789" is 0xEA82 (CRC-16/DNP).
	if got := CRC([]byte("123456789")); got != 0xea82 {
		t.Errorf("CRC = %#04x, want 0xea82", got)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(LinkStatus(3, 10))
	f.Add(RequestLinkStatus(1, 3))
	f.Add(append([]byte{0x05, 0x64, 0x14, 0x44, 0x03, 0x00, 0x0a, 0x00, 0, 0}, make([]byte, 20)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ReadFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if _, err := ParseHeader(header(fr.Control, fr.Dest, fr.Src)); err != nil {
			t.Fatalf("re-encoded header rejected: %v", err)
		}
	})
}
