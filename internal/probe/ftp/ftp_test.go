package ftp

import (
	"bufio"
	"context"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/testpeer"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		in      string
		code    int
		msg     string
		wantErr bool
	}{
		{"220 (vsFTPd 3.0.3)\r\n", 220, "(vsFTPd 3.0.3)", false},
		{"220-Welcome\r\n to x\r\n220 ready\r\n", 220, "Welcome\nto x\nready", false},
		{"220\r\n", 220, "", false},
		{"SSH-2.0-x\r\n", 0, "", true},
		{"", 0, "", true},
	}
	for _, tt := range tests {
		code, msg, err := ReadReply(textproto.NewReader(bufio.NewReader(strings.NewReader(tt.in))))
		if (err != nil) != tt.wantErr || code != tt.code || msg != tt.msg {
			t.Errorf("ReadReply(%q) = %d, %q, %v; want %d, %q, err %v", tt.in, code, msg, err, tt.code, tt.msg, tt.wantErr)
		}
	}
}

func TestProbeVsftpd(t *testing.T) {
	for _, anon := range []bool{false, true} {
		p := testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: anon})
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		res := Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 5 * time.Second})
		conn.Close()
		rec, _ := res.Data.(*Record)
		if res.Status != model.StatusSuccess || rec == nil {
			t.Fatalf("status %v err %v", res.Status, res.Err)
		}
		if !strings.Contains(rec.Banner, "vsFTPd 3.") {
			t.Errorf("banner = %q, want vsFTPd 3.x", rec.Banner)
		}
		if rec.Anonymous != anon {
			t.Errorf("anonymous = %v, want %v (%s)", rec.Anonymous, anon, rec.AnonReply)
		}
	}
}

func TestProbeGarbage(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() { s.Write([]byte("\xff\xfb\x01garbage\r\n")); s.Close() }()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: time.Second})
	if res.Status != model.StatusProtocolError {
		t.Errorf("status = %v, want protocol-error", res.Status)
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("220-a\r\nb\r\n220 c\r\n")
	f.Add("331 Please specify the password.\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		ReadReply(textproto.NewReader(bufio.NewReader(strings.NewReader(s))))
	})
}
