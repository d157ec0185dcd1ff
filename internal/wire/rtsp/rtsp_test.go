package rtsp

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"iotwatch/internal/netx"
)

func br(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		code     int
		body     string
		protocol bool
		anyErr   bool
	}{
		{"401 digest", "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n", 401, "", false, false},
		{"200 with sdp", "RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nv=0\r\ns=x\r\n", 200, "v=0\r\ns=x\r\n", false, false},
		{"body shorter than announced", "RTSP/1.0 200 OK\r\nContent-Length: 999999999\r\n\r\nshort", 200, "short", false, false},
		{"no headers, then EOF", "RTSP/1.0 200 OK\r\n", 200, "", false, false},
		{"http", "HTTP/1.1 200 OK\r\n\r\n", 0, "", true, true},
		{"bad code", "RTSP/1.0 abc\r\n\r\n", 0, "", true, true},
		{"empty", "", 0, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ReadResponse(br(tt.in), 1024)
			if (err != nil) != tt.anyErr || errors.Is(err, netx.ErrProtocol) != tt.protocol {
				t.Fatalf("ReadResponse(%q) error %v, want error %v (protocol %v)", tt.in, err, tt.anyErr, tt.protocol)
			}
			if err == nil && (r.Code != tt.code || string(r.Body) != tt.body) {
				t.Errorf("ReadResponse(%q) = %d %q, want %d %q", tt.in, r.Code, r.Body, tt.code, tt.body)
			}
		})
	}
}

func TestReadRequest(t *testing.T) {
	r := br("\r\nDESCRIBE rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nContent-Length: 3\r\n\r\nabcOPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n")
	req, err := ReadRequest(r)
	if err != nil || req.Method != "DESCRIBE" || req.URI != "rtsp://127.0.0.1/live" || req.Header["cseq"] != "2" ||
		req.Header["authorization"] != "Basic YWRtaW46YWRtaW4=" {
		t.Fatalf("first request %+v, %v", req, err)
	}
	if req, err = ReadRequest(r); err != nil || req.Method != "OPTIONS" || req.Header["cseq"] != "3" {
		t.Fatalf("second request (after a body) %+v, %v", req, err)
	}
	for _, bad := range []string{"GET / HTTP/1.1\r\n\r\n", "OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n",
		"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", "OPTIONS * RTSP/1.0\r\n" + strings.Repeat("X: y\r\n", MaxHeaders+1) + "\r\n",
		strings.Repeat("A", MaxLine+1) + "\r\n"} {
		if _, err := ReadRequest(br(bad)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("ReadRequest(%.40q) error %v, want ErrBadRequest", bad, err)
		}
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add("RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\", nonce=\"b\"\r\n\r\n")
	f.Add("RTSP/1.0 200 OK\r\nServer: live555\r\nContent-Length: 3\r\n\r\nabc")
	f.Add("RTSP/1.0 200\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ReadResponse(br(s), 1024)
		if err == nil && (r.Code < 100 || r.Code > 999 || len(r.Body) > 1024) {
			t.Fatalf("ReadResponse(%q) = code %d, %d body bytes", s, r.Code, len(r.Body))
		}
	})
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Add([]byte("DESCRIBE rtsp://h/ RTSP/1.0\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("\r\n\r\nX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(strings.NewReader(string(b)))
		for range 10 {
			req, err := ReadRequest(r)
			if err != nil {
				return
			}
			if len(req.Header) > MaxHeaders || !strings.HasPrefix(req.Proto, "RTSP/") {
				t.Fatalf("ReadRequest accepted %+v", req)
			}
		}
	})
}
