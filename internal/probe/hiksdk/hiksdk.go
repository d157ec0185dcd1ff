// Package hiksdk probes Hikvision's private SDK port (TCP 8000, the port
// iVMS-4200 and the HCNetSDK log in on): one 32-byte request naming no user,
// which a Hikvision recorder or camera refuses with a 16-byte reply (the
// detection of NESCA's Hikvision module; the same reply nmap's service
// probes match as "Hikvision IPCam control port"). The refusal names the
// protocol, not the model: device names and serial numbers come only after
// a log-in, which iotwatch does not attempt on this port (see
// internal/wire/hiksdk). The codec is internal/wire/hiksdk.
package hiksdk

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/hiksdk"
)

// Record is the Hikvision SDK handshake data.
type Record struct {
	// Reply is the reply's first 16 bytes in hex (evidence).
	Reply string `json:"reply"`
	// Status and Detail are the reply's status words.
	Status uint32 `json:"status"`
	Detail uint32 `json:"detail"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"hiksdk.reply": r.Reply, "hiksdk.status": fmt.Sprint(r.Status)}
}

// Prober is the Hikvision SDK prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoHikSDK }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	if _, err := conn.Write(hiksdk.Request()); err != nil {
		return probe.Fail(model.ProtoHikSDK, fmt.Errorf("hiksdk send: %w", err))
	}
	rep, err := hiksdk.ReadReply(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if err != nil {
		return probe.Fail(model.ProtoHikSDK, fmt.Errorf("hiksdk read: %w", err))
	}
	rec := &Record{Reply: hex.EncodeToString(rep.Raw[:]), Status: rep.Status, Detail: rep.Detail}
	return probe.Result{Protocol: model.ProtoHikSDK, Status: model.StatusSuccess,
		Banner: fmt.Sprintf("Hikvision SDK refusal %#x", rep.Status), Data: rec}
}
