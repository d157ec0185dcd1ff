package coap

import (
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
)

func reply(t testing.TB, id int32, payload string) []byte {
	m := message.Message{Token: message.Token{0x10, 0x21}, Code: codes.Content, MessageID: id, Type: message.Acknowledgement, Payload: []byte(payload)}
	out := make([]byte, 1024)
	n, err := coder.DefaultCoder.Encode(m, out)
	if err != nil {
		t.Fatal(err)
	}
	return out[:n]
}

func TestProbe(t *testing.T) {
	addr := probetest.UDPServer(t, func(q []byte) [][]byte {
		m := message.Message{Options: make(message.Options, 0, 32)}
		if _, err := coder.DefaultCoder.Decode(q, &m); err != nil {
			return nil
		}
		if p, _ := m.Options.Path(); p != "/.well-known/core" {
			return nil
		}
		return [][]byte{reply(t, m.MessageID, `</sensors/temp>;rt="temperature";if="sensor",</light>;rt="light"`)}
	})
	rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "udp", addr, &probe.Env{Timeout: 2 * time.Second}))
	if len(rec.Resources) != 2 || rec.Resources[0] != "/sensors/temp" {
		t.Errorf("resources = %v", rec.Resources)
	}
}

func TestDecodeRejectsRequest(t *testing.T) {
	req, _ := Request(1)
	if _, err := Decode(req); err == nil {
		t.Error("Decode accepted a request as a reply")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(reply(f, 7, "</a>"))
	req, _ := Request(1)
	f.Add(req)
	f.Fuzz(func(t *testing.T, b []byte) { Decode(b) })
}
