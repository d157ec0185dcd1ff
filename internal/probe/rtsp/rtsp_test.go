package rtsp

import (
	"bufio"
	"net"
	"testing"
	"time"

	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
)

func fakeServer(t *testing.T, replies ...string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, r := range replies {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\r\n" {
					break
				}
			}
			c.Write([]byte(r))
		}
	}()
	return ln.Addr().String()
}

func TestProbe(t *testing.T) {
	addr := fakeServer(t,
		"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Hikvision-Webs\r\nPublic: OPTIONS, DESCRIBE, SETUP\r\n\r\n",
		"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=\"IP Camera(C6496)\", nonce=\"x\"\r\n\r\n")
	rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "tcp", addr, &probe.Env{Timeout: 2 * time.Second}))
	if rec.Server != "Hikvision-Webs" || rec.AuthScheme != "Digest" || rec.Realm != "IP Camera(C6496)" || len(rec.Public) != 3 || rec.NoAuth {
		t.Errorf("record = %+v", rec)
	}
}
