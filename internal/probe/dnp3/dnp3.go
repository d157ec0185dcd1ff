// Package dnp3 probes DNP3 outstations (TCP 20000) with REQUEST_LINK_STATUS
// only, a data-link frame that carries no application request: it is sent to
// the link addresses outstations are commonly given (1, 10, 0, 2-5, 100,
// 1024) at once, and the LINK_STATUS answer names the outstation's address.
// DNP3 has no identification request below the application layer, so the
// record says that a DNP3 outstation answers and at which address, nothing
// about its maker. The codec is internal/wire/dnp3.
package dnp3

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/dnp3"
)

// Addresses are the outstation link addresses asked; Master is ours.
var Addresses = []uint16{1, 10, 0, 2, 3, 4, 5, 100, 1024}

// Master is the link address the probe speaks from.
const Master = 3

// Record is the DNP3 handshake data.
type Record struct {
	// Address is the outstation's link address (the answer's source).
	Address uint16 `json:"address"`
	// MasterSeen is the answer's destination (our address, when it follows the protocol).
	MasterSeen uint16 `json:"master_seen"`
	Function   byte   `json:"function"`
	DFC        bool   `json:"dfc,omitempty"`
	// Header is the answer's link header in hex (evidence).
	Header string `json:"header"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"dnp3.address": fmt.Sprint(r.Address), "dnp3.function": fmt.Sprint(r.Function)}
}

// Prober is the DNP3 prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoDNP3 }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	var req []byte
	for _, a := range Addresses {
		req = append(req, dnp3.RequestLinkStatus(a, Master)...)
	}
	if _, err := conn.Write(req); err != nil {
		return probe.Fail(model.ProtoDNP3, fmt.Errorf("dnp3 send: %w", err))
	}
	r := &probe.LimitConn{Conn: conn, N: env.Limit()}
	for {
		f, err := dnp3.ReadFrame(r)
		if err != nil {
			return probe.Fail(model.ProtoDNP3, fmt.Errorf("dnp3 read: %w", err))
		}
		if f.Primary() || f.FromMaster() {
			continue // not an answer (an unsolicited or echoed frame)
		}
		h := dnp3.LinkStatus(f.Dest, f.Src)
		h[3] = f.Control
		rec := &Record{Address: f.Src, MasterSeen: f.Dest, Function: f.Function(), DFC: f.DFC(), Header: hex.EncodeToString(h[:8])}
		return probe.Result{Protocol: model.ProtoDNP3, Status: model.StatusSuccess,
			Banner: fmt.Sprintf("DNP3 outstation %d (link function %d)", rec.Address, rec.Function), Data: rec}
	}
}
