// Package mdns probes mDNS/DNS-SD responders (UDP 5353) by unicast queries
// to the target only, never to the multicast group: the DNS-SD meta-query
// (PTR _services._dns-sd._udp.local), then the PTR of each service type,
// the SRV and TXT of each instance the replies did not already carry, and
// the A record of each host. The TXT records of AirPlay, Google Cast,
// HomeKit and IPP printers name the device (md=, model=, am=, ty=,
// usb_MFG=/usb_MDL=, fn=); the record keeps them with the services offered.
// The codec is internal/wire/mdns.
package mdns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/mdns"
)

// Bounds on one probe's work.
const (
	maxTypes     = 16
	maxInstances = 32
	maxHosts     = 4
	// followWait bounds each follow-up query after the meta-query answered.
	followWait = 1500 * time.Millisecond
	maxFields  = 64
)

// Service is one announced service instance.
type Service struct {
	Type     string            `json:"type"`     // "_ipp._tcp"
	Instance string            `json:"instance"` // "HP LaserJet Pro M404dn (9A1B2C)"
	Host     string            `json:"host,omitempty"`
	Port     uint16            `json:"port,omitempty"`
	TXT      map[string]string `json:"txt,omitempty"`
}

// Record is the mDNS handshake data.
type Record struct {
	// Name is the device's friendly name (fn=, else an instance label).
	Name string `json:"name,omitempty"`
	// Hostname is the first SRV target, without ".local.".
	Hostname string `json:"hostname,omitempty"`
	// Vendor, Model and Version are read from the TXT keys that carry them
	// (see describe).
	Vendor  string `json:"vendor,omitempty"`
	Model   string `json:"model,omitempty"`
	Version string `json:"version,omitempty"`
	// Types are the service types offered, sorted ("_airplay._tcp").
	Types     []string  `json:"types"`
	Services  []Service `json:"services,omitempty"`
	Addresses []string  `json:"addresses,omitempty"`
}

// Fields implements probe.Record: the summary fields, then each service's
// TXT keys as mdns.<service>.<key> ("mdns.googlecast.md").
func (r *Record) Fields() map[string]string {
	f := map[string]string{
		"mdns.services": strings.Join(r.Types, ","), "mdns.name": r.Name, "mdns.hostname": r.Hostname,
		"mdns.vendor": r.Vendor, "mdns.model": r.Model, "mdns.version": r.Version,
	}
	for _, s := range r.Services {
		svc := strings.TrimPrefix(strings.SplitN(s.Type, ".", 2)[0], "_")
		for _, k := range sortedKeys(s.TXT) {
			if len(f) >= maxFields {
				return f
			}
			if key := "mdns." + svc + "." + k; f[key] == "" {
				f[key] = s.TXT[k]
			}
		}
	}
	return f
}

// Prober is the mDNS prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoMDNS }

// Probe implements probe.Prober. conn is a UDP socket connected to the
// target's port 5353.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	x := &exchanger{conn: conn, buf: make([]byte, min(env.Limit(), mdns.MaxMessage)), id: 0x6d64, deadline: deadline}
	var dir mdns.Directory
	if err := x.ask(mdns.ServicesName, mdns.TypePTR, deadline, &dir); err != nil {
		return probe.Fail(model.ProtoMDNS, err)
	}
	types := dir.Types()
	if len(types) > maxTypes {
		types = types[:maxTypes]
	}
	// The PTR of each type: its instances, usually with their SRV, TXT
	// and address as additional records.
	for _, t := range types {
		if len(dir.Instances(t)) == 0 && ctx.Err() == nil {
			_ = x.ask(t, mdns.TypePTR, x.follow(), &dir)
		}
	}
	var insts [][2]string // type, instance
	for _, t := range types {
		for _, in := range dir.Instances(t) {
			if len(insts) < maxInstances {
				insts = append(insts, [2]string{t, in})
			}
		}
	}
	for _, ti := range insts {
		if _, ok, txt := dir.Lookup(ti[1]); ctx.Err() == nil {
			if !ok {
				_ = x.ask(ti[1], mdns.TypeSRV, x.follow(), &dir)
			}
			if len(txt) == 0 {
				_ = x.ask(ti[1], mdns.TypeTXT, x.follow(), &dir)
			}
		}
	}
	rec := &Record{}
	var hosts []string
	for _, ti := range insts {
		srv, _, txt := dir.Lookup(ti[1])
		typ := strings.TrimSuffix(ti[0], ".local.")
		rec.Services = append(rec.Services, Service{Type: typ, Instance: mdns.Label(ti[1], ti[0]),
			Host: strings.TrimSuffix(srv.Host, "."), Port: srv.Port, TXT: mdns.KeyValues(txt)})
		if srv.Host != "" && !slices.Contains(hosts, srv.Host) && len(hosts) < maxHosts {
			hosts = append(hosts, srv.Host)
		}
	}
	for _, h := range hosts {
		if len(dir.Addr[h]) == 0 && ctx.Err() == nil {
			_ = x.ask(h, mdns.TypeA, x.follow(), &dir)
		}
		for _, a := range dir.Addr[h] {
			rec.Addresses = append(rec.Addresses, a.String())
		}
	}
	for _, t := range dir.Types() {
		rec.Types = append(rec.Types, strings.TrimSuffix(t, ".local."))
	}
	sort.Strings(rec.Types)
	if len(hosts) > 0 {
		rec.Hostname = strings.TrimSuffix(hosts[0], ".local.")
	}
	describe(rec)
	banner := fmt.Sprintf("DNS-SD %d services", len(rec.Types))
	if id := strings.TrimSpace(rec.Vendor + " " + rec.Model); id != "" {
		banner += " (" + id + ")"
	}
	return probe.Result{Protocol: model.ProtoMDNS, Status: model.StatusSuccess, Banner: banner, Data: rec}
}

// exchanger sends queries on one connected socket, each with a new id, and
// reads until the reply with that id arrives.
type exchanger struct {
	conn     net.Conn
	buf      []byte
	id       uint16
	deadline time.Time
}

// follow returns the deadline of a follow-up query.
func (x *exchanger) follow() time.Time {
	d := time.Now().Add(followWait)
	if !x.deadline.IsZero() && x.deadline.Before(d) {
		return x.deadline
	}
	return d
}

func (x *exchanger) ask(name string, qtype uint16, deadline time.Time, dir *mdns.Directory) error {
	x.id++
	q, err := mdns.Query(x.id, name, qtype)
	if err != nil {
		return err
	}
	_ = x.conn.SetDeadline(deadline)
	if _, err := x.conn.Write(q); err != nil {
		return fmt.Errorf("mdns send %s: %w", name, err)
	}
	for {
		n, err := x.conn.Read(x.buf)
		if err != nil {
			return fmt.Errorf("mdns read %s: %w", name, err)
		}
		r, err := mdns.ParseReply(x.buf[:n])
		if err != nil {
			continue // not for us; wait for ours
		}
		// A reply to another question (a late one) still tells about the
		// device; only ours ends the wait.
		dir.Add(r.Records)
		if r.ID == x.id {
			return nil
		}
	}
}

// TXT keys that carry the device's identity, most specific first.
var (
	// usb_MDL (IPP, LPD), md (Google Cast, HomeKit), model (AirPlay,
	// _device-info), am (older AirPlay/RAOP), modelid, mdl, ty (IPP's
	// make and model), product (IPP, in parentheses).
	modelKeys   = []string{"usb_mdl", "md", "model", "am", "modelid", "mdl", "ty", "product"}
	vendorKeys  = []string{"usb_mfg", "manufacturer", "mfg", "vendor", "mf"}
	versionKeys = []string{"osvers", "fv", "fwvers", "firmware", "fw", "srcvers", "vs"}
	nameKeys    = []string{"fn", "n", "name"}
)

// describe fills the record's name, vendor, model and version from the
// services' TXT keys (the first service that has a key wins).
func describe(r *Record) {
	first := func(keys []string) string {
		for _, k := range keys {
			for _, s := range r.Services {
				if v := strings.TrimSpace(s.TXT[k]); v != "" {
					return v
				}
			}
		}
		return ""
	}
	r.Vendor = first(vendorKeys)
	r.Model = strings.TrimSpace(strings.Trim(first(modelKeys), "()"))
	// "HP LaserJet Pro M404dn" with usb_MFG=HP: the model without the maker.
	if r.Vendor != "" && len(r.Model) > len(r.Vendor) && strings.EqualFold(r.Model[:len(r.Vendor)+1], r.Vendor+" ") {
		r.Model = strings.TrimSpace(r.Model[len(r.Vendor):])
	}
	r.Version = first(versionKeys)
	r.Name = first(nameKeys)
	if r.Name == "" && len(r.Services) > 0 {
		r.Name = r.Services[0].Instance
	}
	for _, s := range []*string{&r.Name, &r.Vendor, &r.Model, &r.Version} {
		*s = probe.Printable([]byte(*s), 128)
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
