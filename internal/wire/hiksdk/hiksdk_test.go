package hiksdk

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadReply(t *testing.T) {
	// The reply nmap's service probes match as "Hikvision IPCam control
	// port": written here from the probe file's regular expression.
	nmapShape := []byte{0, 0, 0, 0x10, 0, 0, 0, 0x1e, 0, 0, 0, 0x1e, 0, 0, 0, 0}
	if !bytes.Equal(Refusal(0x1e), nmapShape) {
		t.Fatalf("Refusal(0x1e) = % x, want % x", Refusal(0x1e), nmapShape)
	}
	rep, err := ReadReply(bytes.NewReader(nmapShape))
	if err != nil || rep.Length != 16 || rep.Status != 0x1e || rep.Detail != 0x1e {
		t.Fatalf("%+v %v", rep, err)
	}
	if q := Request(); !IsRequest(q) || len(q) != 32 || q[3] != 0x20 || q[4] != 0x63 {
		t.Errorf("request % x", q)
	}
	long := append([]byte{0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}, 1, 2, 3, 4, 0xff)
	r := bytes.NewReader(long)
	if rep, err := ReadReply(r); err != nil || rep.Length != 20 {
		t.Errorf("20-byte reply: %+v %v", rep, err)
	} else if rest, _ := io.ReadAll(r); !bytes.Equal(rest, []byte{0xff}) {
		t.Errorf("read past the message: %x left", rest)
	}
	for name, b := range map[string][]byte{
		"http":  []byte("HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n"),
		"rtsp":  []byte("RTSP/1.0 400 Bad Request\r\n\r\n"),
		"short": {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"huge":  {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := ReadReply(bytes.NewReader(b)); !errors.Is(err, ErrNotHikSDK) {
			t.Errorf("%s: %v, want ErrNotHikSDK", name, err)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add(Refusal(0x1e))
	f.Add(Request())
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := ReadReply(bytes.NewReader(b))
		if err != nil {
			return
		}
		if rep.Length < ReplyLen || rep.Length > MaxMessage || int(rep.Length) > len(b) {
			t.Fatalf("accepted %+v from %d bytes", rep, len(b))
		}
	})
}
