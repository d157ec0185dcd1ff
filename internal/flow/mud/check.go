package mud

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"iotwatch/internal/declare"
	"iotwatch/internal/flow"
	"iotwatch/internal/model"
)

// Finding kinds produced by Check.
const (
	KindUndeclaredFlow      = "mud-undeclared-flow"
	KindUndeclaredCountry   = "undeclared-country"
	KindUndeclaredRecipient = "undeclared-recipient"
	KindForeignDestination  = "foreign-destination"
)

// Declaration is what the flow checks take from one maker declaration
// (internal/declare) for the devices it covers: the MUD file (mud_file), the
// countries and recipients of data (data.recipients) and the heartbeats.
type Declaration struct {
	Device     string // address or CIDR the declaration is bound to
	Source     string // the declaration file
	Countries  []string
	Recipients []string // domains, "AS123", or owner names
	Heartbeats []declare.Heartbeat
	prefix     netip.Prefix
	file       *File
}

// Declarations are maker declarations bound to devices, and the home country
// (destinations elsewhere are reported; "" = none).
type Declarations struct {
	HomeCountry string
	Devices     []Declaration
}

// ErrOldFormat is returned (wrapped) for a file in the retired flows-only
// declarations format (home_country + devices), which is no longer read.
var ErrOldFormat = errors.New("the flows-only declarations format (home_country, devices) is no longer read: " +
	"write a maker declaration (`iotwatch declare example`) with mud_file, data.recipients and heartbeats, " +
	"and bind it to devices with ADDR=FILE or CIDR=FILE")

// ErrUnbound is returned (wrapped) for a declaration given without devices
// when no inventoried device is its model.
var ErrUnbound = errors.New("declaration bound to no device")

// Load reads maker declarations and binds each to devices. A spec is
// "ADDR=FILE", "CIDR=FILE" or "FILE"; a bare FILE covers the inventory
// devices (assets) whose product or device type is the declared model.
func Load(specs []string, assets []model.Asset) (*Declarations, error) {
	d := &Declarations{}
	for _, spec := range specs {
		where, path, bound := strings.Cut(spec, "=")
		if !bound {
			path = spec
		}
		md, err := declare.Load(path)
		if err != nil {
			if oldFormat(path) {
				return nil, fmt.Errorf("declarations %s: %w", path, ErrOldFormat)
			}
			return nil, flatError{err}
		}
		var devices []string
		if bound {
			devices = []string{where}
		} else {
			for _, a := range assets {
				if a.IP.IsValid() && modelMatches(md.Product.Model, a) {
					devices = append(devices, a.IP.String())
				}
			}
			if len(devices) == 0 {
				return nil, fmt.Errorf("declarations %s: %w: no device in the inventory is model %q: bind it with ADDR=%s or CIDR=%s",
					path, ErrUnbound, md.Product.Model, path, path)
			}
		}
		for _, dev := range devices {
			dec, err := fromMaker(md, dev)
			if err != nil {
				return nil, fmt.Errorf("declarations %s: %w", path, err)
			}
			d.Devices = append(d.Devices, dec)
		}
	}
	return d, nil
}

// fromMaker takes what the flow checks need from a maker declaration.
func fromMaker(md *declare.Declaration, device string) (Declaration, error) {
	dec := Declaration{Device: device, Source: md.Source, Heartbeats: md.Heartbeats}
	dec.Countries, dec.Recipients = md.Destinations()
	if strings.Contains(device, "/") {
		p, err := netip.ParsePrefix(device)
		if err != nil {
			return dec, err
		}
		dec.prefix = p.Masked()
	} else {
		a, err := netip.ParseAddr(device)
		if err != nil {
			return dec, fmt.Errorf("device %q: %w", device, err)
		}
		dec.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	for i, c := range dec.Countries {
		dec.Countries[i] = strings.ToUpper(c)
	}
	if md.MUDFile != "" {
		p := md.MUDFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(md.Dir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return dec, fmt.Errorf("read mud file: %w", err)
		}
		if dec.file, err = Parse(data); err != nil {
			return dec, fmt.Errorf("mud file %s: %w", p, err)
		}
	}
	return dec, nil
}

// modelMatches reports whether an inventoried device is the declared model.
func modelMatches(declared string, a model.Asset) bool {
	m := strings.ToLower(strings.TrimSpace(declared))
	return m != "" && (strings.ToLower(a.Product) == m || strings.ToLower(a.Product+" "+a.Version) == m)
}

// oldFormat reports whether path holds the retired declarations format.
func oldFormat(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	_, devices := top["devices"]
	_, home := top["home_country"]
	_, version := top["schema_version"]
	return (devices || home) && !version
}

// flatError shows a multi-line validation error on one line.
type flatError struct{ err error }

func (f flatError) Error() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(f.err.Error(), "\n", "; ")), " ")
}
func (f flatError) Unwrap() error { return f.err }

func (d *Declarations) lookup(a netip.Addr) *Declaration {
	for i := range d.Devices {
		if d.Devices[i].prefix.Contains(a) {
			return &d.Devices[i]
		}
	}
	return nil
}

type agg struct {
	use   flow.PeerUse
	bytes int64
	flows int64
}

// Check compares observed peer relations with the declarations and returns
// findings: flows no MUD ACE allows, data sent to undeclared countries or
// recipients, and (with a home country) destinations abroad.
func Check(uses []flow.PeerUse, d *Declarations) []model.Finding {
	if d == nil {
		return nil
	}
	type key struct {
		kind         string
		device, peer netip.Addr
		port         uint16
		proto        uint8
	}
	groups := map[key]*agg{}
	add := func(k key, u flow.PeerUse) {
		g := groups[k]
		if g == nil {
			g = &agg{use: u}
			groups[k] = g
		}
		g.bytes += u.Bytes
		g.flows += u.Flows
		if u.Last.After(g.use.Last) {
			g.use.Last = u.Last
		}
	}
	for _, u := range uses {
		dec := d.lookup(u.Device)
		if dec == nil && d.HomeCountry == "" {
			continue
		}
		peerLocal := flow.Local(u.Peer)
		if dec != nil && dec.file != nil {
			ok, _ := dec.file.Allows(Flow{Peer: u.Peer, Names: u.Names, Proto: u.Proto, Port: u.Port, Outbound: u.Outbound, PeerLocal: peerLocal})
			if !ok {
				add(key{KindUndeclaredFlow, u.Device, u.Peer, u.Port, u.Proto}, u)
			}
		}
		if peerLocal || u.Country == "" {
			continue
		}
		if dec != nil && len(dec.Countries) > 0 && !slices.Contains(dec.Countries, u.Country) {
			add(key{KindUndeclaredCountry, u.Device, u.Peer, 0, 0}, u)
		}
		if dec != nil && len(dec.Recipients) > 0 && !recipientDeclared(dec.Recipients, u) {
			add(key{KindUndeclaredRecipient, u.Device, u.Peer, 0, 0}, u)
		}
		if d.HomeCountry != "" && !strings.EqualFold(u.Country, d.HomeCountry) && (dec == nil || len(dec.Countries) == 0) {
			add(key{KindForeignDestination, u.Device, u.Peer, 0, 0}, u)
		}
	}
	var out []model.Finding
	for k, g := range groups {
		u := g.use
		peer := u.Peer.String()
		if len(u.Names) > 0 {
			peer += " (" + strings.Join(u.Names, ", ") + ")"
		}
		owner := ""
		if u.Owner != "" || u.ASN != 0 {
			owner = fmt.Sprintf(", owner AS%d %s", u.ASN, u.Owner)
		}
		f := model.Finding{Kind: k.kind, Subject: k.device.String(), Time: u.Last,
			Evidence: []model.Evidence{{Source: "flows", Detail: fmt.Sprintf("%d flows, %d bytes with %s (country %s%s)", g.flows, g.bytes, peer, orDash(u.Country), owner),
				Data: map[string]any{"peer": u.Peer.String(), "names": u.Names, "port": k.port, "proto": k.proto, "country": u.Country, "asn": u.ASN, "owner": u.Owner, "bytes": g.bytes, "flows": g.flows}}}}
		switch k.kind {
		case KindUndeclaredFlow:
			f.Severity = model.SeverityMedium
			f.Title = fmt.Sprintf("flow not allowed by MUD: %s port %d/%s", u.Peer, k.port, protoName(k.proto))
			f.Detail = "no access-control entry of the device's MUD file allows this traffic"
			f.Evidence = append(f.Evidence, model.Evidence{Source: "declaration", Detail: "MUD " + d.lookup(k.device).file.URL})
		case KindUndeclaredCountry:
			f.Severity = model.SeverityHigh
			f.Title = fmt.Sprintf("data sent to undeclared country %s (%s)", u.Country, u.Peer)
			f.Evidence = append(f.Evidence, model.Evidence{Source: "declaration", Detail: "declared countries: " + strings.Join(d.lookup(k.device).Countries, ", ")})
		case KindUndeclaredRecipient:
			f.Severity = model.SeverityMedium
			f.Title = fmt.Sprintf("data sent to undeclared recipient %s", peer)
			f.Evidence = append(f.Evidence, model.Evidence{Source: "declaration", Detail: "declared recipients: " + strings.Join(d.lookup(k.device).Recipients, ", ")})
		case KindForeignDestination:
			f.Severity = model.SeverityLow
			f.Title = fmt.Sprintf("data sent abroad to %s (%s)", u.Country, u.Peer)
			f.Detail = "home country " + strings.ToUpper(d.HomeCountry)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Title < out[j].Title
	})
	return out
}

// Expected reports whether the maker declared outbound traffic from device to
// peer (with the DNS names observed for it) on proto/port: an access-control
// entry of the device's MUD file that names the destination (a DNS name or a
// network, not a port-only entry, which would allow any host), or a declared
// recipient domain. The reason names the declaration. Detectors use it to
// tell a documented heartbeat from command-and-control beaconing.
func (d *Declarations) Expected(device, peer netip.Addr, names []string, proto uint8, port uint16) (bool, string) {
	if d == nil {
		return false, ""
	}
	dec := d.lookup(device)
	if dec == nil {
		return false, ""
	}
	if dec.file != nil {
		fl := Flow{Peer: peer, Names: names, Proto: proto, Port: port, Outbound: true}
		for _, a := range dec.file.FromDevice {
			if a.Accept && (a.DNSName != "" || a.Network.IsValid()) && a.matches(fl) {
				return true, fmt.Sprintf("MUD %s entry %s", dec.file.URL, a.Name)
			}
		}
	}
	for _, h := range dec.Heartbeats {
		if (h.Port == 0 || h.Port == int(port)) && (h.Protocol == "" || h.Protocol == protoName(proto)) && nameUnder(names, h.Host) {
			return true, fmt.Sprintf("declared heartbeat to %s (%s)", h.Host, dec.Source)
		}
	}
	for _, r := range dec.Recipients {
		r = strings.ToLower(strings.TrimSpace(r))
		if strings.HasPrefix(r, "as") || !strings.Contains(r, ".") {
			continue // network owners need attribution; names only here
		}
		for _, n := range names {
			if n == r || strings.HasSuffix(n, "."+r) {
				return true, "declared recipient " + r
			}
		}
	}
	return false, ""
}

// nameUnder reports whether one of names is host or a sub-domain of it.
func nameUnder(names []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	for _, n := range names {
		n = strings.ToLower(n)
		if n == host || strings.HasSuffix(n, "."+host) {
			return true
		}
	}
	return false
}

func recipientDeclared(recips []string, u flow.PeerUse) bool {
	for _, r := range recips {
		r = strings.ToLower(strings.TrimSpace(r))
		if asn, ok := strings.CutPrefix(r, "as"); ok && asn == fmt.Sprint(u.ASN) && u.ASN != 0 {
			return true
		}
		if u.Owner != "" && strings.EqualFold(r, u.Owner) {
			return true
		}
		for _, n := range u.Names {
			if n == r || strings.HasSuffix(n, "."+r) {
				return true
			}
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func protoName(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return "tcp"
	case flow.ProtoUDP:
		return "udp"
	case flow.ProtoICMP:
		return "icmp"
	}
	return fmt.Sprint(p)
}
