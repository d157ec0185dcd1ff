package ssh

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/testpeer"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		software string
		wantErr  bool
	}{
		{in: "SSH-2.0-dropbear_2019.78\r\n", software: "dropbear_2019.78"},
		{in: "hello\r\nSSH-1.99-Cisco-1.25\r\n", software: "Cisco-1.25"},
		{in: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", software: "OpenSSH_9.2p1 Debian-2+deb12u3"},
		{in: "HTTP/1.0 400 Bad\r\n", wantErr: true},
		{in: "SSH-garbage\r\n", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		var rec Record
		err := Parse([]byte(tt.in), &rec)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if rec.Software != tt.software {
			t.Errorf("Parse(%q) software = %q, want %q", tt.in, rec.Software, tt.software)
		}
	}
}

func TestProbeTrickle(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		for _, b := range []byte("SSH-2.0-slow") {
			s.Write([]byte{b})
			time.Sleep(300 * time.Millisecond)
		}
		s.Close()
	}()
	start := time.Now()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 500 * time.Millisecond})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("probe held %v, want bounded by timeout", el)
	}
	if res.Status == model.StatusSuccess {
		t.Errorf("status = %v, want failure", res.Status)
	}
}

func TestProbeSSHD(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		p := testpeer.SSHD(t, testpeer.SSHDOptions{Legacy: legacy})
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		res := Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 5 * time.Second})
		conn.Close()
		rec, _ := res.Data.(*Record)
		if res.Status != model.StatusSuccess || rec == nil {
			t.Fatalf("legacy=%v: status %v err %v", legacy, res.Status, res.Err)
		}
		if !strings.HasPrefix(rec.Software, "OpenSSH_") {
			t.Errorf("software = %q, want OpenSSH_…", rec.Software)
		}
		if len(rec.KexAlgorithms) == 0 || rec.HostKeySHA256 == "" || !strings.HasPrefix(rec.HostKeySHA256, "SHA256:") {
			t.Errorf("legacy=%v: kex %v host key %q: want both", legacy, rec.KexAlgorithms, rec.HostKeySHA256)
		}
		if legacy && rec.HostKeyType != "ssh-rsa" {
			t.Errorf("legacy host key type = %q, want ssh-rsa", rec.HostKeyType)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1\r\n\x00\x00\x00\x2c\x04\x14AAAAAAAAAAAAAAAA\x00\x00\x00\x04abcd"))
	f.Add([]byte("pre\nSSH-1.99-x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec Record
		_ = Parse(b, &rec)
	})
}
