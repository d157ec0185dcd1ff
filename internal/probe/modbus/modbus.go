// Package modbus probes Modbus/TCP devices with function 43/14 (Read Device
// Identification, basic objects: vendor name, product code, revision). No
// maintained Go client implements function 43, so the framing is ours and
// fuzzed. It never writes registers or coils.
package modbus

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the Modbus handshake data.
type Record struct {
	UnitID      byte   `json:"unit_id"`
	Exception   byte   `json:"exception,omitempty"` // exception code when the device refused function 43
	VendorName  string `json:"vendor_name,omitempty"`
	ProductCode string `json:"product_code,omitempty"`
	Revision    string `json:"revision,omitempty"`
	VendorURL   string `json:"vendor_url,omitempty"`
	ProductName string `json:"product_name,omitempty"`
	ModelName   string `json:"model_name,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{
		"modbus.vendor_name": r.VendorName, "modbus.product_code": r.ProductCode, "modbus.revision": r.Revision,
		"modbus.product_name": r.ProductName, "modbus.model_name": r.ModelName,
	}
}

// Prober is the Modbus prober.
type Prober struct {
	UnitID byte // 0: 0xFF, the usual unit for a device addressed directly over TCP
}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoModbus }

// Request returns a Read Device Identification request (regular category, from object 0).
func Request(tid uint16, unit byte) []byte {
	b := []byte{0, 0, 0, 0, 0, 5, unit, 0x2b, 0x0e, 0x02, 0x00}
	binary.BigEndian.PutUint16(b, tid)
	return b
}

// Probe implements probe.Prober.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	unit := p.UnitID
	if unit == 0 {
		unit = 0xff
	}
	if _, err := conn.Write(Request(0x1e57, unit)); err != nil {
		return probe.Fail(model.ProtoModbus, fmt.Errorf("modbus send: %w", err))
	}
	var hdr [7]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return probe.Fail(model.ProtoModbus, fmt.Errorf("modbus read: %w", err))
	}
	n := int(binary.BigEndian.Uint16(hdr[4:6]))
	if binary.BigEndian.Uint16(hdr[2:4]) != 0 || n < 2 || n > 260 {
		return probe.Fail(model.ProtoModbus, fmt.Errorf("modbus: bad MBAP header % x: %w", hdr, probe.ErrProtocol))
	}
	frame := make([]byte, 7+n-1)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(conn, frame[7:]); err != nil {
		return probe.Fail(model.ProtoModbus, fmt.Errorf("modbus read: %w", err))
	}
	rec, err := Parse(frame)
	if err != nil {
		return probe.Fail(model.ProtoModbus, err)
	}
	banner := rec.VendorName + " " + rec.ProductCode + " " + rec.Revision
	if rec.Exception != 0 {
		banner = fmt.Sprintf("exception %d", rec.Exception)
	}
	return probe.Result{Protocol: model.ProtoModbus, Status: model.StatusSuccess, Banner: banner, Data: rec}
}

// Parse decodes a Modbus/TCP response frame (MBAP header included) to
// function 43/14, or an exception response.
func Parse(b []byte) (*Record, error) {
	if len(b) < 9 {
		return nil, fmt.Errorf("modbus: short frame: %w", probe.ErrProtocol)
	}
	if binary.BigEndian.Uint16(b[2:4]) != 0 {
		return nil, fmt.Errorf("modbus: protocol id %d: %w", binary.BigEndian.Uint16(b[2:4]), probe.ErrProtocol)
	}
	if int(binary.BigEndian.Uint16(b[4:6])) != len(b)-6 {
		return nil, fmt.Errorf("modbus: length mismatch: %w", probe.ErrProtocol)
	}
	rec := &Record{UnitID: b[6]}
	fc := b[7]
	switch {
	case fc == 0x2b|0x80:
		rec.Exception = b[8]
		return rec, nil
	case fc != 0x2b:
		return nil, fmt.Errorf("modbus: function %d: %w", fc, probe.ErrProtocol)
	}
	pdu := b[8:]
	if len(pdu) < 6 || pdu[0] != 0x0e {
		return nil, fmt.Errorf("modbus: bad device identification reply: %w", probe.ErrProtocol)
	}
	count := int(pdu[5])
	pdu = pdu[6:]
	for i := 0; i < count; i++ {
		if len(pdu) < 2 || len(pdu) < 2+int(pdu[1]) {
			return nil, fmt.Errorf("modbus: truncated object list: %w", probe.ErrProtocol)
		}
		id, val := pdu[0], probe.Printable(pdu[2:2+int(pdu[1])], 255)
		pdu = pdu[2+int(pdu[1]):]
		switch id {
		case 0:
			rec.VendorName = val
		case 1:
			rec.ProductCode = val
		case 2:
			rec.Revision = val
		case 3:
			rec.VendorURL = val
		case 4:
			rec.ProductName = val
		case 5:
			rec.ModelName = val
		}
	}
	return rec, nil
}

// Response builds a device identification reply frame (for tests and the simulator).
func Response(tid uint16, unit byte, objects ...string) []byte {
	pdu := []byte{0x2b, 0x0e, 0x02, 0x02, 0x00, 0x00, byte(len(objects))}
	for i, o := range objects {
		pdu = append(pdu, byte(i), byte(len(o)))
		pdu = append(pdu, o...)
	}
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b, tid)
	binary.BigEndian.PutUint16(b[4:], uint16(len(pdu)+1))
	b[6] = unit
	return append(b, pdu...)
}
