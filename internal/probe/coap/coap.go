// Package coap probes CoAP endpoints over UDP: a confirmable GET of
// /.well-known/core (RFC 6690 resource discovery), encoded and decoded with
// github.com/plgd-dev/go-coap/v3's message codec.
package coap

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the CoAP handshake data.
type Record struct {
	Code      string   `json:"code"`
	Resources []string `json:"resources,omitempty"` // link targets from the CoRE link format
	Links     string   `json:"links,omitempty"`     // the raw link-format payload (capped)
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"coap.links": r.Links}
}

// Prober is the CoAP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoCoAP }

// Request encodes the discovery GET.
func Request(id uint16) ([]byte, error) {
	buf := make([]byte, 64)
	opts, _, err := message.Options{}.SetPath(buf, "/.well-known/core")
	if err != nil {
		return nil, err
	}
	m := message.Message{Token: message.Token{0x10, 0x21}, Options: opts, Code: codes.GET, MessageID: int32(id), Type: message.Confirmable}
	out := make([]byte, 256)
	n, err := coder.DefaultCoder.Encode(m, out)
	if err != nil {
		return nil, fmt.Errorf("coap encode: %w", err)
	}
	return out[:n], nil
}

// Probe implements probe.Prober; conn must be a connected UDP socket.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	req, err := Request(0x4a31)
	if err != nil {
		return probe.Fail(model.ProtoCoAP, err)
	}
	if _, err := conn.Write(req); err != nil {
		return probe.Fail(model.ProtoCoAP, fmt.Errorf("coap send: %w", err))
	}
	buf := make([]byte, min(env.Limit(), 65535))
	n, err := conn.Read(buf)
	if err != nil {
		return probe.Fail(model.ProtoCoAP, fmt.Errorf("coap read: %w", err))
	}
	rec, err := Decode(buf[:n])
	if err != nil {
		return probe.Fail(model.ProtoCoAP, err)
	}
	return probe.Result{Protocol: model.ProtoCoAP, Status: model.StatusSuccess, Banner: rec.Code, Data: rec}
}

// Decode parses a CoAP reply.
func Decode(b []byte) (rec *Record, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("coap decode panic: %v: %w", r, probe.ErrProtocol)
		}
	}()
	m := message.Message{Options: make(message.Options, 0, 32)}
	if _, err := coder.DefaultCoder.Decode(b, &m); err != nil {
		return nil, fmt.Errorf("coap decode: %w: %w", probe.ErrProtocol, err)
	}
	if m.Code < 64 { // a request or empty message, not a response
		return nil, fmt.Errorf("coap: code %v is not a response: %w", m.Code, probe.ErrProtocol)
	}
	rec = &Record{Code: m.Code.String(), Links: probe.Printable(m.Payload, 2048)}
	for _, l := range strings.Split(string(m.Payload), ",") {
		if i, j := strings.IndexByte(l, '<'), strings.IndexByte(l, '>'); i >= 0 && j > i && len(rec.Resources) < 64 {
			rec.Resources = append(rec.Resources, probe.Printable([]byte(l[i+1:j]), 128))
		}
	}
	return rec, nil
}
