// Package s7 probes Siemens S7 PLCs (ISO-TSAP, port 102) read-only: COTP
// connect, S7 setup communication, then "read SZL" of the module
// identification (0x0011: order number, hardware, firmware) and component
// identification (0x001c: system and module names, serial number, module
// type), as nmap's s7-info does. No variable is read or written and no PLC
// control function is ever sent. The codec is internal/wire/s7.
package s7

import (
	"context"
	"fmt"
	"net"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/s7"
)

// Record is the S7 module identification.
type Record struct {
	s7.Module
	// Slot is the CPU slot that accepted the connection (2: S7-300/400, 1: S7-1200/1500).
	Slot byte `json:"slot"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"s7.order_number": r.OrderNumber, "s7.firmware": r.Firmware, "s7.hardware": r.Hardware,
		"s7.system_name": r.SystemName, "s7.module_name": r.ModuleName, "s7.module_type": r.ModuleType,
		"s7.serial_number": r.SerialNumber, "s7.copyright": r.Copyright}
}

// Prober is the S7 prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoS7 }

// Probe implements probe.Prober: slot 2 on conn, then slot 1 on a new
// connection when the first is refused.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	rec, err := identify(ctx, conn, env, 2)
	if err != nil && env.Dial != nil {
		if c2, derr := env.Dial(ctx); derr == nil {
			if r2, err2 := identify(ctx, c2, env, 1); err2 == nil {
				rec, err = r2, nil
			}
			c2.Close()
		}
	}
	if err != nil {
		return probe.Fail(model.ProtoS7, err)
	}
	banner := strings.TrimSpace(rec.OrderNumber + " " + rec.Firmware + " " + rec.ModuleType)
	return probe.Result{Protocol: model.ProtoS7, Status: model.StatusSuccess, Banner: banner, Data: rec}
}

func identify(ctx context.Context, conn net.Conn, env *probe.Env, slot byte) (*Record, error) {
	probe.Deadline(ctx, conn, env)
	r := &probe.LimitConn{Conn: conn, N: env.Limit()}
	exchange := func(req []byte) ([]byte, error) {
		if _, err := conn.Write(req); err != nil {
			return nil, fmt.Errorf("s7 send: %w", err)
		}
		p, err := s7.ReadFrame(r)
		if err != nil {
			return nil, fmt.Errorf("s7 read: %w", err)
		}
		return p, nil
	}
	p, err := exchange(s7.ConnectRequest(slot))
	if err != nil {
		return nil, err
	}
	if !s7.IsConnectConfirm(p) {
		return nil, fmt.Errorf("s7: no COTP connection confirm: %w", probe.ErrProtocol)
	}
	if p, err = exchange(s7.SetupCommunication()); err != nil {
		return nil, err
	}
	if !s7.IsSetupAck(p) {
		return nil, fmt.Errorf("s7: setup not acknowledged: %w", probe.ErrProtocol)
	}
	rec := &Record{Slot: slot}
	for i, id := range []uint16{s7.SZLModuleID, s7.SZLComponentID} {
		p, err := exchange(s7.ReadSZL(uint16(0x100+i), id))
		if err != nil {
			if i > 0 {
				break // the module identification answered
			}
			return nil, err
		}
		szl, err := s7.ParseSZL(p)
		if err != nil {
			if i > 0 {
				break
			}
			return nil, err
		}
		if id == s7.SZLModuleID {
			rec.AddModuleID(szl)
		} else {
			rec.AddComponentID(szl)
		}
	}
	for _, f := range []*string{&rec.OrderNumber, &rec.Hardware, &rec.SystemName, &rec.ModuleName, &rec.PlantID,
		&rec.Copyright, &rec.SerialNumber, &rec.ModuleType} {
		*f = probe.Printable([]byte(*f), 64)
	}
	return rec, nil
}
