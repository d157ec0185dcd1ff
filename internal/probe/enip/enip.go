// Package enip probes EtherNet/IP devices (TCP 44818) with ListIdentity
// only: vendor, device type, product code, revision, serial number and
// product name, read without a session. It sends nothing else: no
// RegisterSession, no CIP service, never a write. The codec is
// internal/wire/enip.
package enip

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/enip"
)

// Record is the EtherNet/IP identity.
type Record struct {
	enip.Identity
	VendorName     string `json:"vendor_name,omitempty"`
	DeviceTypeName string `json:"device_type_name,omitempty"`
	// Revision is major.minor as Rockwell writes it (20.011).
	Revision string `json:"revision"`
	// Reply is the raw reply in hex (evidence).
	Reply string `json:"reply"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{
		"enip.vendor_id": strconv.Itoa(int(r.VendorID)), "enip.vendor_name": r.VendorName,
		"enip.device_type": r.DeviceTypeName, "enip.product_code": strconv.Itoa(int(r.ProductCode)),
		"enip.product_name": r.ProductName, "enip.revision": r.Revision,
		"enip.serial": fmt.Sprintf("%08x", r.Serial),
	}
}

// Prober is the EtherNet/IP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoENIP }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	if _, err := conn.Write(enip.ListIdentity(0x696f7477)); err != nil {
		return probe.Fail(model.ProtoENIP, fmt.Errorf("enip send: %w", err))
	}
	b, err := enip.Read(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if err != nil {
		return probe.Fail(model.ProtoENIP, fmt.Errorf("enip read: %w", err))
	}
	id, err := enip.ParseListIdentity(b)
	if err != nil {
		return probe.Fail(model.ProtoENIP, err)
	}
	id.ProductName = probe.Printable([]byte(id.ProductName), 64)
	rec := &Record{Identity: *id, VendorName: enip.VendorName(id.VendorID), DeviceTypeName: enip.DeviceTypeName(id.DeviceType),
		Revision: fmt.Sprintf("%d.%03d", id.RevisionMajor, id.RevisionMinor), Reply: fmt.Sprintf("%x", b)}
	banner := fmt.Sprintf("%s rev %s vendor %d", rec.ProductName, rec.Revision, rec.VendorID)
	return probe.Result{Protocol: model.ProtoENIP, Status: model.StatusSuccess, Banner: banner, Data: rec}
}
