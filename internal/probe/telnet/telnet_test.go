package telnet

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
	wiretelnet "iotwatch/internal/wire/telnet"
)

func TestProbeFake(t *testing.T) {
	tests := []struct {
		name   string
		send   [][]byte
		prompt string
		shell  bool
		status model.Status
	}{
		{name: "busybox", send: [][]byte{{wiretelnet.IAC, wiretelnet.DO, 24, wiretelnet.IAC, wiretelnet.WILL, 1}, []byte("\r\nBusyBox v1.31.1 built-in shell\r\nDVR login: ")}, prompt: "DVR login:", status: model.StatusSuccess},
		{name: "open shell", send: [][]byte{[]byte("\r\n# ")}, shell: true, status: model.StatusSuccess},
		{name: "nothing", send: nil, status: model.StatusIOError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			got := make(chan []byte, 1)
			go func() {
				for _, b := range tt.send {
					s.Write(b)
				}
			}()
			go func() {
				var in bytes.Buffer
				s.SetReadDeadline(time.Now().Add(3 * time.Second))
				buf := make([]byte, 64)
				for {
					n, err := s.Read(buf)
					in.Write(buf[:n])
					if err != nil {
						break
					}
				}
				got <- in.Bytes()
				s.Close()
			}()
			if tt.send == nil {
				s.Close()
			}
			res := Prober{Idle: 300 * time.Millisecond}.Probe(context.Background(), c, &probe.Env{Timeout: 2 * time.Second})
			c.Close()
			if res.Status != tt.status {
				t.Fatalf("status = %v (%v), want %v", res.Status, res.Err, tt.status)
			}
			if res.Status != model.StatusSuccess {
				return
			}
			rec := res.Data.(*Record)
			if rec.LoginPrompt != tt.prompt || rec.ShellPrompt != tt.shell {
				t.Errorf("prompt %q shell %v, want %q %v", rec.LoginPrompt, rec.ShellPrompt, tt.prompt, tt.shell)
			}
			if tt.name == "busybox" {
				if in := <-got; !bytes.Contains(in, []byte{wiretelnet.IAC, wiretelnet.WONT, 24}) || !bytes.Contains(in, []byte{wiretelnet.IAC, wiretelnet.DO, 1}) {
					t.Errorf("negotiation reply = %v, want wiretelnet.WONT 24 and wiretelnet.DO 1", in)
				}
			}
		})
	}
}

func TestProbeTrickle(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := s.Write([]byte{'a'}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 700 * time.Millisecond})
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("probe held %v past a 700ms timeout", el)
	}
}

func TestProbeTelnetd(t *testing.T) {
	p := testpeer.Telnetd(t)
	rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "tcp", p.Addr, &probe.Env{Timeout: 8 * time.Second}))
	t.Logf("negotiation %v banner %q", rec.Negotiation, rec.Banner)
	if !strings.Contains(strings.ToLower(rec.LoginPrompt), "login") || len(rec.Negotiation) == 0 {
		t.Errorf("record = %+v, want a login prompt and negotiation", rec)
	}
}
