package dvrip

import (
	"bytes"
	"errors"
	"testing"
)

func TestAnswer(t *testing.T) {
	h, data, err := ReadAnswer(bytes.NewReader(Answer(nil)))
	if err != nil || h.Cmd != CmdAnswer || len(data) != 0 {
		t.Fatalf("%+v %q %v", h, data, err)
	}
	// Metasploit's detection compares the first 8 bytes.
	if !bytes.Equal(h.Raw[:8], []byte{0xb1, 0, 0, 0x58, 0, 0, 0, 0}) {
		t.Errorf("header % x", h.Raw[:8])
	}
	if q := Query(); len(q) != HeaderLen || q[0] != 0xa1 || bytes.Count(q, []byte{0}) != HeaderLen-1 {
		t.Errorf("query % x", q)
	}
	for name, b := range map[string][]byte{
		"http":  []byte("HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n"),
		"query": Query(),
		"huge":  append([]byte{0xb1, 0, 0, 0x58, 0xff, 0xff, 0xff, 0x7f}, make([]byte, 24)...),
	} {
		if _, _, err := ReadAnswer(bytes.NewReader(b)); !errors.Is(err, ErrNotDVRIP) {
			t.Errorf("%s: %v, want ErrNotDVRIP", name, err)
		}
	}
}

func FuzzReadAnswer(f *testing.F) {
	f.Add(Answer(nil))
	f.Add(Answer([]byte("IPC-HDW4431C-A")))
	f.Add(Query())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := ReadAnswer(bytes.NewReader(b))
		if err != nil {
			return
		}
		if h.Cmd != CmdAnswer || int(h.DataLen) != len(data) || len(data) > MaxData {
			t.Fatalf("accepted %+v with %d bytes", h, len(data))
		}
	})
}
