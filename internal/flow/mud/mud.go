// Package mud parses Manufacturer Usage Description files (RFC 8520) — the
// RFC layout ("ietf-access-control-list:acls") and the older draft layouts
// ("access-lists", "acl-name", "rule-name", "ipv4-acl" matches) that devices
// still ship — and decides whether an observed flow is allowed by them.
package mud

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrFormat reports a document that is not a MUD file.
var ErrFormat = errors.New("not a MUD file")

// File is a parsed MUD file.
type File struct {
	URL        string `json:"mud_url"`
	Version    int    `json:"mud_version,omitempty"` // 0 for pre-RFC drafts
	SystemInfo string `json:"systeminfo,omitempty"`
	LastUpdate string `json:"last_update,omitempty"`
	// FromDevice and ToDevice are the accept entries of the policies' ACLs.
	FromDevice []ACE `json:"from_device"`
	ToDevice   []ACE `json:"to_device"`
	// Legacy reports whether a pre-RFC layout was found.
	Legacy bool `json:"legacy,omitempty"`
}

// PortRange is an inclusive port range; the zero value matches any port.
type PortRange struct {
	Lo uint16 `json:"lo"`
	Hi uint16 `json:"hi"`
}

// Any reports whether the range matches every port.
func (p PortRange) Any() bool { return p.Lo == 0 && p.Hi == 0 }

// Contains reports whether port is in the range.
func (p PortRange) Contains(port uint16) bool { return p.Any() || (port >= p.Lo && port <= p.Hi) }

// ACE is one access-control entry, normalised.
type ACE struct {
	Name     string       `json:"name"`
	Protocol int          `json:"protocol"` // -1 = any
	DNSName  string       `json:"dnsname,omitempty"`
	Network  netip.Prefix `json:"network,omitzero"`
	// Ports constrains the peer's port: destination port from the device,
	// source port towards it.
	Ports PortRange `json:"ports,omitzero"`
	// Abstraction is a MUD abstraction (same-manufacturer, manufacturer,
	// controller, my-controller, local-networks) when the ACE uses one.
	Abstraction string `json:"abstraction,omitempty"`
	Initiated   string `json:"direction_initiated,omitempty"`
	Accept      bool   `json:"accept"`
}

// Parse reads a MUD file in any supported layout.
func Parse(data []byte) (*File, error) {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("mud json: %w", err)
	}
	m, ok := root["ietf-mud:mud"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("missing ietf-mud:mud container: %w", ErrFormat)
	}
	f := &File{URL: str(m["mud-url"]), SystemInfo: str(m["systeminfo"]), LastUpdate: str(m["last-update"])}
	if v, ok := m["mud-version"].(float64); ok {
		f.Version = int(v)
	}
	if f.URL == "" {
		return nil, fmt.Errorf("missing mud-url: %w", ErrFormat)
	}
	aclRoot, ok := root["ietf-access-control-list:acls"].(map[string]any)
	if !ok {
		if aclRoot, ok = root["ietf-access-control-list:access-lists"].(map[string]any); ok {
			f.Legacy = true
		}
	}
	acls := map[string][]ACE{}
	if aclRoot != nil {
		for _, a := range list(aclRoot["acl"]) {
			am, _ := a.(map[string]any)
			name := first(am, "name", "acl-name")
			aces, _ := firstMap(am, "aces", "access-list-entries")
			if _, ok := am["access-list-entries"]; ok {
				f.Legacy = true
			}
			for _, e := range list(aces["ace"]) {
				em, _ := e.(map[string]any)
				ace, err := parseACE(em)
				if err != nil {
					return nil, fmt.Errorf("acl %s: %w", name, err)
				}
				acls[name] = append(acls[name], ace)
			}
		}
	}
	policy := func(key string) ([]ACE, error) {
		p, _ := m[key].(map[string]any)
		al, _ := p["access-lists"].(map[string]any)
		var out []ACE
		for _, ref := range list(al["access-list"]) {
			rm, _ := ref.(map[string]any)
			name := first(rm, "name", "acl-name")
			aces, ok := acls[name]
			if !ok {
				return nil, fmt.Errorf("%s names unknown acl %q: %w", key, name, ErrFormat)
			}
			out = append(out, aces...)
		}
		return out, nil
	}
	var err error
	if f.FromDevice, err = policy("from-device-policy"); err != nil {
		return nil, err
	}
	if f.ToDevice, err = policy("to-device-policy"); err != nil {
		return nil, err
	}
	return f, nil
}

func parseACE(em map[string]any) (ACE, error) {
	ace := ACE{Name: first(em, "name", "rule-name"), Protocol: -1}
	act, _ := em["actions"].(map[string]any)
	fw := str(act["forwarding"])
	ace.Accept = fw == "" || strings.HasSuffix(fw, "accept")
	matches, _ := em["matches"].(map[string]any)
	for k, v := range matches {
		vm, _ := v.(map[string]any)
		switch k {
		case "ipv4", "ipv6", "ipv4-acl", "ipv6-acl", "l3":
			if p, ok := vm["protocol"].(float64); ok {
				ace.Protocol = int(p)
			}
			for _, dk := range []string{"ietf-acldns:dst-dnsname", "ietf-acldns:src-dnsname"} {
				if s := str(vm[dk]); s != "" {
					ace.DNSName = strings.ToLower(strings.TrimSuffix(s, "."))
				}
			}
			for _, nk := range []string{"destination-ipv4-network", "source-ipv4-network", "destination-ipv6-network", "source-ipv6-network"} {
				if s := str(vm[nk]); s != "" {
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return ace, fmt.Errorf("ace %s: %s: %w", ace.Name, nk, err)
					}
					ace.Network = p.Masked()
				}
			}
			// Draft layouts keep ports inside the L3 match.
			for _, pk := range []string{"destination-port-range", "source-port-range", "destination-port-range-or-operator", "source-port-range-or-operator"} {
				if pm, ok := vm[pk].(map[string]any); ok {
					ace.Ports = ports(pm)
				}
			}
		case "tcp", "udp":
			if ace.Protocol < 0 {
				ace.Protocol = map[string]int{"tcp": 6, "udp": 17}[k]
			}
			for _, pk := range []string{"destination-port", "source-port", "destination-port-range-or-operator", "source-port-range-or-operator"} {
				if pm, ok := vm[pk].(map[string]any); ok {
					ace.Ports = ports(pm)
				}
			}
			if d := str(vm["ietf-mud:direction-initiated"]); d != "" {
				ace.Initiated = d
			}
		case "ietf-mud:mud", "ietf-mud:mud-acl":
			for ab, val := range vm {
				ace.Abstraction = ab
				if s := str(val); s != "" && ab != "my-controller" {
					ace.DNSName = hostOfURL(s)
				}
			}
		case "ietf-mud:same-manufacturer", "ietf-mud:manufacturer", "ietf-mud:local-networks", "ietf-mud:controller", "ietf-mud:my-controller":
			ace.Abstraction = strings.TrimPrefix(k, "ietf-mud:")
		}
	}
	return ace, nil
}

func ports(pm map[string]any) PortRange {
	if p, ok := pm["port"].(float64); ok {
		switch str(pm["operator"]) {
		case "", "eq":
			return PortRange{uint16(p), uint16(p)}
		case "lte":
			return PortRange{1, uint16(p)}
		case "gte":
			return PortRange{uint16(p), 65535}
		case "neq":
			return PortRange{}
		}
	}
	lo, _ := pm["lower-port"].(float64)
	hi, ok := pm["upper-port"].(float64)
	if !ok {
		hi = lo
	}
	return PortRange{uint16(lo), uint16(hi)}
}

func hostOfURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	return strings.ToLower(s)
}

func str(v any) string { s, _ := v.(string); return s }

func list(v any) []any { l, _ := v.([]any); return l }

func first(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return ""
}

func firstMap(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		if v, ok := m[k].(map[string]any); ok {
			return v, true
		}
	}
	return nil, false
}

// Flow is one observed relation of a device with a peer, seen from the device.
type Flow struct {
	Peer     netip.Addr
	Names    []string // DNS names observed for the peer
	Proto    uint8
	Port     uint16 // the peer's port
	Outbound bool   // device sent (or initiated) the traffic
	// PeerLocal reports whether the peer is on a local network.
	PeerLocal bool
}

// Allows reports whether the MUD file permits fl, and names the ACE that did.
// Traffic in either direction is allowed when an ACE of the matching policy
// accepts it, or when it is the return traffic of the other policy's ACE.
func (f *File) Allows(fl Flow) (bool, string) {
	primary, secondary := f.ToDevice, f.FromDevice
	if fl.Outbound {
		primary, secondary = f.FromDevice, f.ToDevice
	}
	for _, set := range [][]ACE{primary, secondary} {
		for _, a := range set {
			if a.Accept && a.matches(fl) {
				return true, a.Name
			}
		}
	}
	return false, ""
}

func (a ACE) matches(fl Flow) bool {
	if a.Protocol >= 0 && a.Protocol != int(fl.Proto) {
		return false
	}
	if !a.Ports.Contains(fl.Port) {
		return false
	}
	switch {
	case a.Abstraction == "local-networks":
		return fl.PeerLocal
	case a.Abstraction != "" && a.DNSName == "":
		// same-manufacturer, my-controller: only resolvable by the network;
		// grant them to local peers.
		return fl.PeerLocal
	case a.DNSName != "":
		for _, n := range fl.Names {
			if n == a.DNSName {
				return true
			}
		}
		return false
	case a.Network.IsValid():
		return a.Network.Contains(fl.Peer)
	}
	return true // protocol/port-only entry
}
