// Package bacnet probes BACnet/IP devices (UDP 47808) read-only: one
// ReadProperty of the device object per identifying property (vendor name
// and identifier, model name, firmware revision, application software
// version, object name, description, location), as nmap's bacnet-info does.
// Nothing is written. The codec is internal/wire/bacnet.
package bacnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/bacnet"
)

// Record is the BACnet device object's identity.
type Record struct {
	// ObjectID is the device object's identifier, "8:<instance>".
	ObjectID        string `json:"object_id,omitempty"`
	VendorName      string `json:"vendor_name,omitempty"`
	VendorID        string `json:"vendor_id,omitempty"`
	ModelName       string `json:"model_name,omitempty"`
	FirmwareRev     string `json:"firmware_revision,omitempty"`
	SoftwareVersion string `json:"application_software_version,omitempty"`
	ObjectName      string `json:"object_name,omitempty"`
	Description     string `json:"description,omitempty"`
	Location        string `json:"location,omitempty"`
	// Errors are the properties the device refused, with its answer.
	Errors map[string]string `json:"errors,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"bacnet.vendor_name": r.VendorName, "bacnet.vendor_id": r.VendorID,
		"bacnet.model_name": r.ModelName, "bacnet.firmware_revision": r.FirmwareRev,
		"bacnet.application_software_version": r.SoftwareVersion, "bacnet.object_name": r.ObjectName,
		"bacnet.description": r.Description}
}

func (r *Record) set(p bacnet.Property, v string) {
	v = probe.Printable([]byte(strings.TrimSpace(v)), 128)
	switch p {
	case bacnet.PropObjectIdentifier:
		r.ObjectID = v
	case bacnet.PropVendorName:
		r.VendorName = v
	case bacnet.PropVendorIdentifier:
		r.VendorID = v
	case bacnet.PropModelName:
		r.ModelName = v
	case bacnet.PropFirmwareRevision:
		r.FirmwareRev = v
	case bacnet.PropApplicationSoftwareVersion:
		r.SoftwareVersion = v
	case bacnet.PropObjectName:
		r.ObjectName = v
	case bacnet.PropDescription:
		r.Description = v
	case bacnet.PropLocation:
		r.Location = v
	}
}

// Prober is the BACnet/IP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoBACnet }

// laterWait bounds the wait for each property after the device answered one.
const laterWait = time.Second

// Probe implements probe.Prober. conn is a connected UDP socket.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	rec := &Record{}
	answered := false
	buf := make([]byte, 1500)
	for i, p := range bacnet.IdentityProperties {
		if answered {
			if t := time.Now().Add(laterWait); t.Before(deadline) {
				_ = conn.SetReadDeadline(t)
			}
		}
		invoke := byte(0x40 + i)
		if _, err := conn.Write(bacnet.ReadProperty(invoke, p)); err != nil {
			return probe.Fail(model.ProtoBACnet, fmt.Errorf("bacnet send: %w", err))
		}
		a, err := readAnswer(conn, buf, invoke)
		if err != nil {
			if !answered {
				return probe.Fail(model.ProtoBACnet, err)
			}
			if errors.Is(err, probe.ErrProtocol) {
				break
			}
			continue // this property timed out; try the next
		}
		answered = true
		if a.Err != "" {
			if rec.Errors == nil {
				rec.Errors = map[string]string{}
			}
			rec.Errors[fmt.Sprint(int(p))] = a.Err
			continue
		}
		rec.set(p, a.Value)
	}
	banner := strings.TrimSpace(rec.VendorName + " " + rec.ModelName + " " + rec.FirmwareRev)
	if banner == "" {
		banner = "BACnet device"
	}
	return probe.Result{Protocol: model.ProtoBACnet, Status: model.StatusSuccess, Banner: banner, Data: rec}
}

// readAnswer reads datagrams until the answer with invoke id arrives.
func readAnswer(conn net.Conn, buf []byte, invoke byte) (*bacnet.Answer, error) {
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("bacnet read: %w", err)
		}
		a, err := bacnet.ParseAnswer(buf[:n])
		if err != nil {
			return nil, err
		}
		if a.Invoke == invoke {
			return a, nil
		}
	}
}
