// Package dvrip probes Dahua DVRIP (port 37777), the binary protocol of Dahua
// recorders and cameras and of the brands built on them: one 0xa1 query,
// answered with an 0xb1 header. It reads nothing else (the configuration
// queries of CVE-2013-6117 answer without a login on old firmware, which is
// why they are not sent). The codec is internal/wire/dvrip.
package dvrip

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/dvrip"
)

// Record is the DVRIP handshake data.
type Record struct {
	// Header is the answer's 32-byte header in hex (evidence).
	Header string `json:"header"`
	// Data is the answer's data, printable, when there is any.
	Data string `json:"data,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"dvrip.header": r.Header, "dvrip.data": r.Data}
}

// Prober is the DVRIP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoDVRIP }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	if _, err := conn.Write(dvrip.Query()); err != nil {
		return probe.Fail(model.ProtoDVRIP, fmt.Errorf("dvrip send: %w", err))
	}
	h, data, err := dvrip.ReadAnswer(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if err != nil {
		return probe.Fail(model.ProtoDVRIP, fmt.Errorf("dvrip read: %w", err))
	}
	rec := &Record{Header: hex.EncodeToString(h.Raw[:]), Data: probe.Printable(data, 256)}
	return probe.Result{Protocol: model.ProtoDVRIP, Status: model.StatusSuccess, Banner: "DVRIP " + rec.Header[:16], Data: rec}
}
