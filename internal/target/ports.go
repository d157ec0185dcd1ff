package target

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Port is one port to probe, with its transport and, when known, the
// protocol to speak there (empty: decide from the port number or the reply).
type Port struct {
	Number    uint16 `json:"port"`
	Transport string `json:"transport"` // "tcp" or "udp"
	Protocol  string `json:"protocol,omitempty"`
}

func (p Port) String() string {
	s := strconv.Itoa(int(p.Number)) + "/" + p.Transport
	if p.Protocol != "" {
		s += "/" + p.Protocol
	}
	return s
}

// udpProtocols are spoken over UDP; naming one implies /udp.
var udpProtocols = map[string]bool{"snmp": true, "ssdp": true, "coap": true}

// wellKnown maps IoT port numbers to the protocol usually found there.
var wellKnown = map[Port]string{
	{Number: 21, Transport: "tcp"}: "ftp", {Number: 22, Transport: "tcp"}: "ssh",
	{Number: 23, Transport: "tcp"}: "telnet", {Number: 2323, Transport: "tcp"}: "telnet",
	{Number: 80, Transport: "tcp"}: "http", {Number: 81, Transport: "tcp"}: "http",
	{Number: 8080, Transport: "tcp"}: "http", {Number: 8081, Transport: "tcp"}: "http",
	{Number: 8000, Transport: "tcp"}: "http", {Number: 8888, Transport: "tcp"}: "http",
	{Number: 8899, Transport: "tcp"}: "http", {Number: 5000, Transport: "tcp"}: "http",
	{Number: 49152, Transport: "tcp"}: "http", {Number: 7547, Transport: "tcp"}: "http",
	{Number: 443, Transport: "tcp"}: "https", {Number: 8443, Transport: "tcp"}: "https",
	{Number: 1883, Transport: "tcp"}: "mqtt", {Number: 8883, Transport: "tcp"}: "mqtts",
	{Number: 554, Transport: "tcp"}: "rtsp", {Number: 8554, Transport: "tcp"}: "rtsp",
	{Number: 502, Transport: "tcp"}: "modbus", {Number: 5020, Transport: "tcp"}: "modbus",
	{Number: 2222, Transport: "tcp"}: "ssh", {Number: 2121, Transport: "tcp"}: "ftp",
	{Number: 1161, Transport: "udp"}: "snmp",
	{Number: 161, Transport: "udp"}:  "snmp", {Number: 1900, Transport: "udp"}: "ssdp",
	{Number: 5683, Transport: "udp"}: "coap",
}

// ProtocolFor returns the protocol to speak on p: its explicit protocol, or
// the usual protocol on its port number, or "" (detect from the reply).
func ProtocolFor(p Port) string {
	if p.Protocol != "" {
		return p.Protocol
	}
	return wellKnown[Port{Number: p.Number, Transport: p.Transport}]
}

// DefaultPorts returns the built-in IoT port list: telnet 23/2323, ssh
// 22/2222, http 80/81/8080/8081/8000/8888/5000/49152/7547, https 443/8443,
// ftp 21/2121, mqtt 1883/8883, rtsp 554/8554, modbus 502/5020, onvif 8899,
// snmp 161/1161 udp, ssdp 1900/udp, coap 5683/udp.
func DefaultPorts() []Port {
	var out []Port
	for p := range wellKnown {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePort)
	return out
}

func comparePort(a, b Port) int {
	if a.Transport != b.Transport {
		return strings.Compare(a.Transport, b.Transport)
	}
	return int(a.Number) - int(b.Number)
}

// ParsePorts parses a port list: comma-separated items "N", "N-M", each
// optionally followed by "/tcp", "/udp" or "/PROTOCOL" (e.g. "18830/mqtt",
// "1161/snmp"; UDP protocols imply udp). Duplicates are removed.
func ParsePorts(s string) ([]Port, error) {
	seen := map[Port]bool{}
	var out []Port
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		num, suffix, _ := strings.Cut(item, "/")
		tr, proto := "tcp", ""
		for _, part := range strings.Split(suffix, "/") {
			switch part = strings.ToLower(part); {
			case part == "":
			case part == "tcp" || part == "udp":
				tr = part
			case isProtoName(part):
				proto = part
				if udpProtocols[part] {
					tr = "udp"
				}
			default:
				return nil, fmt.Errorf("port %q: unknown suffix %q", item, part)
			}
		}
		lo, hi, isRange := strings.Cut(num, "-")
		a, err := parsePortNum(lo)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", item, err)
		}
		b := a
		if isRange {
			if b, err = parsePortNum(hi); err != nil {
				return nil, fmt.Errorf("port %q: %w", item, err)
			}
			if b < a {
				return nil, fmt.Errorf("port %q: end before start", item)
			}
		}
		for n := int(a); n <= int(b); n++ {
			p := Port{Number: uint16(n), Transport: tr, Protocol: proto}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty port list %q", s)
	}
	return out, nil
}

func parsePortNum(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port number %q", s)
	}
	return uint16(n), nil
}

func isProtoName(s string) bool {
	switch s {
	case "ftp", "ssh", "telnet", "http", "https", "mqtt", "mqtts", "rtsp", "modbus", "snmp", "ssdp", "coap":
		return true
	}
	return false
}

// Space is the cross product of a Set's addresses with a port list, plus the
// Set's explicit pairs (scanned on TCP with the port's usual protocol).
type Space struct {
	Set   *Set
	Ports []Port
}

// Len returns the number of (address, port) items in the space.
func (sp *Space) Len() uint64 {
	return sp.Set.Len()*uint64(len(sp.Ports)) + uint64(len(sp.Set.Pairs))
}

// At returns the i-th item. Items 0..addrs×ports-1 are the cross product
// (address-major); the rest are the explicit pairs.
func (sp *Space) At(i uint64) (netip.Addr, Port) {
	cross := sp.Set.Len() * uint64(len(sp.Ports))
	if i < cross {
		np := uint64(len(sp.Ports))
		return sp.Set.At(i / np), sp.Ports[i%np]
	}
	ap := sp.Set.Pairs[i-cross]
	return ap.Addr(), Port{Number: ap.Port(), Transport: "tcp"}
}

// ParseShard parses "I/N" (0 <= I < N, zmap's numbering) into shard, shards.
func ParseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: want I/N with 0 <= I < N: %w", s, ErrBadShard)
	}
	return i, n, nil
}
