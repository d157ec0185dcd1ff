package ftp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
)

func TestProbeVsftpd(t *testing.T) {
	for _, anon := range []bool{false, true} {
		p := testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: anon})
		rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "tcp", p.Addr, &probe.Env{Timeout: 5 * time.Second}))
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
