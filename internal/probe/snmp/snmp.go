// Package snmp probes SNMP agents over UDP: one GET for sysDescr,
// sysObjectID, sysName, sysUpTime, sysContact and sysLocation, sent as v2c
// and v1 at once with each community, encoded and decoded by
// github.com/gosnmp/gosnmp on the caller's connected UDP socket.
package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	wiresnmp "iotwatch/internal/wire/snmp"
)

// System group OIDs (wire/snmp's).
const (
	OIDSysDescr    = wiresnmp.OIDSysDescr
	OIDSysObjectID = wiresnmp.OIDSysObjectID
	OIDSysUpTime   = wiresnmp.OIDSysUpTime
	OIDSysContact  = wiresnmp.OIDSysContact
	OIDSysName     = wiresnmp.OIDSysName
	OIDSysLocation = wiresnmp.OIDSysLocation
)

// Record is the SNMP handshake data.
type Record struct {
	Version     string `json:"version"`   // "v2c" or "v1": the first that answered
	Community   string `json:"community"` // redacted unless the prober shows secrets
	SysDescr    string `json:"sys_descr,omitempty"`
	SysObjectID string `json:"sys_object_id,omitempty"`
	SysName     string `json:"sys_name,omitempty"`
	SysUpTime   uint64 `json:"sys_uptime,omitempty"` // hundredths of a second
	SysContact  string `json:"sys_contact,omitempty"`
	SysLocation string `json:"sys_location,omitempty"`
	// From SNMPv3 engine discovery, answered whatever the community.
	EngineID         string `json:"engine_id,omitempty"`
	EngineEnterprise uint32 `json:"engine_enterprise,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	f := map[string]string{"snmp.sys_descr": r.SysDescr, "snmp.sys_object_id": strings.TrimPrefix(r.SysObjectID, "."), "snmp.sys_name": r.SysName}
	if r.EngineEnterprise != 0 {
		f["snmp.engine_enterprise"] = strconv.FormatUint(uint64(r.EngineEnterprise), 10)
	}
	return f
}

// Prober is the SNMP prober.
type Prober struct {
	Communities []string // nil: "public"
	ShowSecrets bool     // record the community unredacted
}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoSNMP }

// Probe implements probe.Prober; conn must be a connected UDP socket.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	comms := p.Communities
	if len(comms) == 0 {
		comms = []string{"public"}
	}
	oids := []string{OIDSysDescr, OIDSysObjectID, OIDSysUpTime, OIDSysContact, OIDSysName, OIDSysLocation}
	sent := map[uint32]string{}
	reqID := uint32(0x1f2e3d00)
	for _, c := range comms {
		for _, v := range []gosnmp.SnmpVersion{gosnmp.Version2c, gosnmp.Version1} {
			reqID++
			pkt, err := wiresnmp.Get(v, c, reqID, oids...)
			if err != nil {
				return probe.Fail(model.ProtoSNMP, err)
			}
			if _, err := conn.Write(pkt); err != nil {
				return probe.Fail(model.ProtoSNMP, fmt.Errorf("snmp send: %w", err))
			}
			sent[reqID] = c
		}
	}
	if _, err := conn.Write(DiscoveryRequest(0x4a69, reqID+1)); err != nil {
		return probe.Fail(model.ProtoSNMP, fmt.Errorf("snmp send: %w", err))
	}
	buf := make([]byte, min(env.Limit(), 65535))
	var lastErr error
	var v3 []byte // engine ID, when only the v3 discovery was answered so far
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if v3 != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				// The agent is there but refuses our communities.
				rec := &Record{Version: "v3", EngineID: engineHex(v3), EngineEnterprise: engineEnterprise(v3)}
				return probe.Result{Protocol: model.ProtoSNMP, Status: model.StatusSuccess, Banner: "SNMPv3 engine " + rec.EngineID, Data: rec}
			}
			if lastErr != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				err = lastErr
			}
			return probe.Fail(model.ProtoSNMP, fmt.Errorf("snmp read: %w", err))
		}
		if engine, err := ParseDiscoveryReply(buf[:n]); err == nil {
			if v3 == nil {
				v3 = append([]byte(nil), engine...)
				// Give the community GETs a moment longer, then settle for v3.
				wait := 500 * time.Millisecond
				if env.Timeout > 0 {
					wait = min(wait, env.Timeout/4)
				}
				if d := time.Now().Add(wait); d.Before(deadline) {
					_ = conn.SetReadDeadline(d)
				}
			}
			continue
		}
		rec, id, err := Decode(buf[:n])
		if err != nil {
			lastErr = err
			continue
		}
		c, ok := sent[id]
		if !ok {
			continue
		}
		if v3 != nil {
			rec.EngineID, rec.EngineEnterprise = engineHex(v3), engineEnterprise(v3)
		}
		rec.Community = c
		if !p.ShowSecrets {
			rec.Community = model.Redact(c)
		}
		return probe.Result{Protocol: model.ProtoSNMP, Status: model.StatusSuccess, Banner: rec.SysDescr, Data: rec}
	}
}

// Decode parses a GET response into a Record and returns its request id.
func Decode(b []byte) (*Record, uint32, error) {
	pkt, err := wiresnmp.DecodeResponse(b)
	if err != nil {
		return nil, 0, err
	}
	rec := &Record{Version: map[gosnmp.SnmpVersion]string{gosnmp.Version1: "v1", gosnmp.Version2c: "v2c"}[pkt.Version]}
	for _, v := range pkt.Variables {
		s := ""
		switch val := v.Value.(type) {
		case []byte:
			s = probe.Printable(val, 1024)
		case string:
			s = probe.Printable([]byte(val), 1024)
		case uint32:
			if v.Name == OIDSysUpTime {
				rec.SysUpTime = uint64(val)
			}
		case uint:
			if v.Name == OIDSysUpTime {
				rec.SysUpTime = uint64(val)
			}
		}
		switch v.Name {
		case OIDSysDescr:
			rec.SysDescr = strings.TrimSpace(s)
		case OIDSysObjectID:
			rec.SysObjectID = s
		case OIDSysName:
			rec.SysName = s
		case OIDSysContact:
			rec.SysContact = s
		case OIDSysLocation:
			rec.SysLocation = s
		}
	}
	return rec, pkt.RequestID, nil
}
