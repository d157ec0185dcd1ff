package ssh

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
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
		rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "tcp", p.Addr, &probe.Env{Timeout: 5 * time.Second}))
		if !strings.HasPrefix(rec.Software, "OpenSSH_") {
			t.Errorf("software = %q, want OpenSSH_…", rec.Software)
		}
		if len(rec.KexAlgorithms) == 0 || rec.HostKeySHA256 == "" || !strings.HasPrefix(rec.HostKeySHA256, "SHA256:") {
			t.Errorf("legacy=%v: kex %v host key %q: want both", legacy, rec.KexAlgorithms, rec.HostKeySHA256)
		}
		if legacy && rec.HostKeyType != "ssh-rsa" {
			t.Errorf("legacy host key type = %q, want ssh-rsa", rec.HostKeyType)
		}
		// The legacy sshd offers exactly testpeer's old algorithms; every
		// one of them is flagged, broken ones as fail. A current sshd
		// offers nothing broken.
		broken := Broken(rec.Flagged)
		if legacy {
			want := []string{"diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "aes128-cbc", "3des-cbc"}
			if !slices.Equal(broken, want) {
				t.Errorf("legacy broken = %v, want %v (flags %+v)", broken, want, rec.Flagged)
			}
			if len(rec.Flagged) != len(want)+2 { // + ssh-rsa and hmac-sha1 as warnings
				t.Errorf("legacy flags = %+v", rec.Flagged)
			}
		} else if len(broken) > 0 {
			t.Errorf("current sshd: broken %v (kex %v ciphers %v macs %v)", broken, rec.KexAlgorithms, rec.Ciphers, rec.MACs)
		}
	}
}

func TestFlags(t *testing.T) {
	rec := &Record{
		KexAlgorithms: []string{"curve25519-sha256", "diffie-hellman-group1-sha1", "gss-gex-sha1-abc", "kex-strict-s-v00@openssh.com"},
		HostKeyAlgs:   []string{"ssh-ed25519", "ssh-dss", "ssh-rsa", "rsa-sha2-512"},
		Ciphers:       []string{"chacha20-poly1305@openssh.com", "aes256-ctr", "aes128-cbc", "rijndael-cbc@lysator.liu.se", "arcfour"},
		MACs:          []string{"hmac-sha2-256-etm@openssh.com", "hmac-md5", "hmac-sha1", "umac-64@openssh.com"},
	}
	var got []string
	for _, f := range Flags(rec) {
		got = append(got, f.List+":"+f.Name+":"+f.Level)
	}
	want := []string{"kex:diffie-hellman-group1-sha1:fail", "kex:gss-gex-sha1-abc:fail", "host_key:ssh-dss:fail", "host_key:ssh-rsa:warn",
		"cipher:aes128-cbc:fail", "cipher:rijndael-cbc@lysator.liu.se:fail", "cipher:arcfour:fail",
		"mac:hmac-md5:fail", "mac:hmac-sha1:warn", "mac:umac-64@openssh.com:warn"}
	if !slices.Equal(got, want) {
		t.Errorf("flags\n got %v\nwant %v", got, want)
	}
	if f := Flags(&Record{KexAlgorithms: []string{"sntrup761x25519-sha512@openssh.com"}}); f != nil {
		t.Errorf("modern kex flagged: %+v", f)
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
