// Package ssdp probes UPnP devices: a unicast SSDP M-SEARCH over UDP, then
// the device description XML at the reply's LOCATION (fetched only from the
// probed address itself), decoded with github.com/huin/goupnp's types:
// manufacturer, model name and number, serial, friendly name.
package ssdp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/huin/goupnp"
	"golang.org/x/net/html/charset"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Record is the SSDP/UPnP handshake data.
type Record struct {
	Server           string `json:"server,omitempty"`
	Location         string `json:"location,omitempty"`
	ST               string `json:"st,omitempty"`
	USN              string `json:"usn,omitempty"`
	DeviceType       string `json:"device_type,omitempty"`
	FriendlyName     string `json:"friendly_name,omitempty"`
	Manufacturer     string `json:"manufacturer,omitempty"`
	ModelName        string `json:"model_name,omitempty"`
	ModelNumber      string `json:"model_number,omitempty"`
	ModelDescription string `json:"model_description,omitempty"`
	SerialNumber     string `json:"serial_number,omitempty"`
	UDN              string `json:"udn,omitempty"`
	DescriptionError string `json:"description_error,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{
		"upnp.server": r.Server, "upnp.manufacturer": r.Manufacturer, "upnp.model_name": r.ModelName,
		"upnp.model_number": r.ModelNumber, "upnp.friendly_name": r.FriendlyName, "upnp.device_type": r.DeviceType,
		"upnp.model_description": r.ModelDescription,
	}
}

// Prober is the SSDP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoSSDP }

// Probe implements probe.Prober; conn must be a connected UDP socket.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	host := conn.RemoteAddr().String()
	msg := "M-SEARCH * HTTP/1.1\r\nHOST: " + host + "\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: upnp:rootdevice\r\nUSER-AGENT: iotwatch UPnP/1.1\r\n\r\n"
	if _, err := io.WriteString(conn, msg); err != nil {
		return probe.Fail(model.ProtoSSDP, fmt.Errorf("ssdp send: %w", err))
	}
	buf := make([]byte, 8192)
	n, err := conn.Read(buf)
	if err != nil {
		return probe.Fail(model.ProtoSSDP, fmt.Errorf("ssdp read: %w", err))
	}
	rec, err := ParseReply(buf[:n])
	if err != nil {
		return probe.Fail(model.ProtoSSDP, err)
	}
	res := probe.Result{Protocol: model.ProtoSSDP, Status: model.StatusSuccess, Banner: rec.Server, Data: rec}
	if rec.Location == "" {
		return res
	}
	ra, _ := netip.ParseAddrPort(host)
	if err := fetchDescription(ctx, rec, ra.Addr(), deadline, env.Limit()); err != nil {
		rec.DescriptionError = err.Error()
	}
	return res
}

// ParseReply parses an SSDP search reply.
func ParseReply(b []byte) (*Record, error) {
	if !bytes.HasPrefix(b, []byte("HTTP/")) {
		return nil, fmt.Errorf("ssdp reply: %w", probe.ErrProtocol)
	}
	resp, err := nethttp.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return nil, fmt.Errorf("ssdp reply: %w: %w", probe.ErrProtocol, err)
	}
	resp.Body.Close()
	p := func(k string) string { return probe.Printable([]byte(resp.Header.Get(k)), 512) }
	return &Record{Server: p("Server"), Location: p("Location"), ST: p("St"), USN: p("Usn")}, nil
}

// fetchDescription GETs rec.Location when it points at addr itself.
func fetchDescription(ctx context.Context, rec *Record, addr netip.Addr, deadline time.Time, limit int) error {
	u, err := url.Parse(rec.Location)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("location %q: not an http URL", rec.Location)
	}
	la, err := netip.ParseAddr(u.Hostname())
	if err != nil || la.Unmap() != addr.Unmap() {
		return fmt.Errorf("location %q: not on the probed address", rec.Location)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	client := &nethttp.Client{
		Transport: &nethttp.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error {
			return nethttp.ErrUseLastResponse // never follow a device elsewhere
		},
	}
	req, err := nethttp.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("description: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)))
	if err != nil {
		return fmt.Errorf("description: %w", err)
	}
	return ParseDescription(body, rec)
}

// ParseDescription decodes a UPnP device description into rec.
func ParseDescription(b []byte, rec *Record) error {
	var root goupnp.RootDevice
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = charset.NewReaderLabel
	dec.Strict = false
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("device description: %w: %w", probe.ErrProtocol, err)
	}
	d := root.Device
	c := func(s string) string { return probe.Printable([]byte(strings.TrimSpace(s)), 256) }
	rec.DeviceType, rec.FriendlyName, rec.Manufacturer = c(d.DeviceType), c(d.FriendlyName), c(d.Manufacturer)
	rec.ModelName, rec.ModelNumber, rec.ModelDescription = c(d.ModelName), c(d.ModelNumber), c(d.ModelDescription)
	rec.SerialNumber, rec.UDN = c(d.SerialNumber), c(d.UDN)
	return nil
}
