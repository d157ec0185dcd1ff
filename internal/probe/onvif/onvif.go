// Package onvif probes ONVIF cameras and recorders: a unicast WS-Discovery
// Probe for dn:NetworkVideoTransmitter to the target's UDP 3702 (never
// multicast), whose ProbeMatches gives the device's types, scopes
// (onvif://www.onvif.org/hardware/..., name/...) and device-service XAddrs;
// then, only at an XAddr on the probed address itself, the read-only
// GetSystemDateAndTime (the device clock, unauthenticated on every ONVIF
// device) and GetDeviceInformation (maker, model, firmware, serial, hardware
// id), sent without a credential: a device that answers it so needs none.
// The codec is internal/wire/onvif; the login module internal/login/onvif.
package onvif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/onvif"
)

// Auth values of Record.Auth.
const (
	AuthNone     = "none"     // GetDeviceInformation was answered without a credential
	AuthRequired = "required" // it was refused (ter:NotAuthorized, HTTP 401)
)

// Record is the ONVIF discovery and device-service data.
type Record struct {
	Endpoint string   `json:"endpoint,omitempty"`
	Types    []string `json:"types,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	XAddrs   []string `json:"xaddrs,omitempty"`
	// Hardware and Name are the hardware/ and name/ scopes.
	Hardware string `json:"hardware,omitempty"`
	Name     string `json:"name,omitempty"`
	// DeviceURL is the XAddr that was called (on the probed address).
	DeviceURL string `json:"device_url,omitempty"`
	// Server is the device service's HTTP Server header.
	Server string `json:"server,omitempty"`
	// DeviceTime is the device's UTC clock and ClockOffset its distance from
	// ours in seconds (WS-Security tokens are stamped with it).
	DeviceTime  string `json:"device_time,omitempty"`
	ClockOffset int64  `json:"clock_offset_s,omitempty"`
	// Auth says whether GetDeviceInformation needed a credential.
	Auth            string `json:"auth,omitempty"`
	Manufacturer    string `json:"manufacturer,omitempty"`
	Model           string `json:"model,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	SerialNumber    string `json:"serial_number,omitempty"`
	HardwareID      string `json:"hardware_id,omitempty"`
	// DeviceError says why the device service told nothing.
	DeviceError string `json:"device_error,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{
		"onvif.types": strings.Join(r.Types, " "), "onvif.scopes": strings.Join(r.Scopes, " "),
		"onvif.hardware": r.Hardware, "onvif.name": r.Name, "onvif.xaddr": r.DeviceURL, "onvif.server": r.Server,
		"onvif.auth": r.Auth, "onvif.manufacturer": r.Manufacturer, "onvif.model": r.Model,
		"onvif.firmware": r.FirmwareVersion, "onvif.serial": r.SerialNumber, "onvif.hardware_id": r.HardwareID,
	}
}

// Prober is the ONVIF prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoONVIF }

// maxStray bounds the datagrams read that answer someone else's Probe.
const maxStray = 4

// Probe implements probe.Prober; conn must be a connected UDP socket.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	m, err := Discover(conn)
	if err != nil {
		return probe.Fail(model.ProtoONVIF, err)
	}
	rec := &Record{}
	for i, pm := range m.ProbeMatches {
		if i == 0 {
			rec.Endpoint, rec.Types, rec.Scopes = probe.Printable([]byte(pm.Address), 256), clean(pm.Types), clean(pm.Scopes)
		}
		rec.XAddrs = append(rec.XAddrs, clean(pm.XAddrs)...)
	}
	rec.Hardware = probe.Printable([]byte(onvif.Scope(rec.Scopes, "hardware")), 256)
	rec.Name = probe.Printable([]byte(onvif.Scope(rec.Scopes, "name")), 256)
	res := probe.Result{Protocol: model.ProtoONVIF, Status: model.StatusSuccess, Data: rec}
	ra, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	if u, err := onvif.DeviceURL(rec.XAddrs, ra.Addr()); err != nil {
		rec.DeviceError = err.Error()
	} else {
		rec.DeviceURL = u
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		deviceService(ctx, rec, u)
	}
	res.Banner = banner(rec)
	return res
}

// Discover sends a WS-Discovery Probe on conn and returns the ProbeMatches
// that answers it (a reply relating to another message is skipped).
func Discover(conn net.Conn) (*onvif.Message, error) {
	id := "uuid:" + uuid.NewString()
	if _, err := conn.Write(onvif.Probe(id)); err != nil {
		return nil, fmt.Errorf("ws-discovery send: %w", err)
	}
	buf := make([]byte, onvif.MaxMessage)
	for range maxStray {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("ws-discovery read: %w", err)
		}
		m, err := onvif.Parse(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("ws-discovery: %w", err)
		}
		if m.RelatesTo != "" && m.RelatesTo != id {
			continue
		}
		if m.Fault != nil {
			return nil, fmt.Errorf("ws-discovery: %w: %w", m.Fault, probe.ErrProtocol)
		}
		if len(m.ProbeMatches) == 0 {
			return nil, fmt.Errorf("ws-discovery: reply %q holds no ProbeMatch: %w", m.Operation, probe.ErrProtocol)
		}
		return m, nil
	}
	return nil, fmt.Errorf("ws-discovery: %d replies to other messages: %w", maxStray, probe.ErrProtocol)
}

// deviceService reads the clock and the device information at u.
func deviceService(ctx context.Context, rec *Record, u string) {
	hc := onvif.NewHTTPClient()
	before := time.Now()
	x, err := onvif.Call(ctx, hc, u, onvif.GetSystemDateAndTime, nil)
	if err != nil {
		rec.DeviceError = err.Error()
		return
	}
	rec.Server = probe.Printable([]byte(x.Server), 256)
	if x.Message != nil && x.Message.Reply(onvif.GetSystemDateAndTime) == nil && !x.Message.SystemDateAndTime.UTC.IsZero() {
		dev := x.Message.SystemDateAndTime.UTC
		rec.DeviceTime = dev.Format(time.RFC3339)
		rec.ClockOffset = int64(dev.Sub(before.Add(time.Since(before)/2)).Round(time.Second) / time.Second)
	}
	x, err = onvif.Call(ctx, hc, u, onvif.GetDeviceInformation, nil)
	if err != nil {
		rec.DeviceError = err.Error()
		return
	}
	var f *onvif.Fault
	switch err := replyErr(x, onvif.GetDeviceInformation); {
	case err == nil:
		d := x.Message.DeviceInformation
		p := func(s string) string { return probe.Printable([]byte(s), 256) }
		rec.Auth = AuthNone
		rec.Manufacturer, rec.Model, rec.FirmwareVersion = p(d.Manufacturer), p(d.Model), p(d.FirmwareVersion)
		rec.SerialNumber, rec.HardwareID = p(d.SerialNumber), p(d.HardwareID)
	case x.Status == http.StatusUnauthorized || errors.As(err, &f) && f.NotAuthorized():
		rec.Auth = AuthRequired
	default:
		rec.DeviceError = err.Error()
	}
}

// replyErr is the exchange's SOAP reply error, or why there is no SOAP reply.
func replyErr(x *onvif.Exchange, op onvif.Operation) error {
	if x.Message == nil {
		return fmt.Errorf("onvif %s: HTTP %d, no SOAP reply: %w", op, x.Status, probe.ErrProtocol)
	}
	return x.Message.Reply(op)
}

func banner(r *Record) string {
	b := "ONVIF"
	switch {
	case r.Manufacturer != "" || r.Model != "":
		b += " " + strings.TrimSpace(r.Manufacturer+" "+r.Model+" "+r.FirmwareVersion)
	case r.Hardware != "":
		b += " " + r.Hardware
	}
	if r.Auth != "" {
		b += " (auth " + r.Auth + ")"
	}
	return b
}

// clean makes untrusted list items printable, keeping at most 32 of them.
func clean(in []string) []string {
	if len(in) > 32 {
		in = in[:32]
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = probe.Printable([]byte(s), 256)
	}
	return out
}
