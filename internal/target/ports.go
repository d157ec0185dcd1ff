package target

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"iotwatch/internal/protocol"
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

// ProtocolFor returns the protocol to speak on p: its explicit protocol, or
// the usual protocol on its port number, or "" (detect from the reply).
func ProtocolFor(p Port) string {
	if p.Protocol != "" {
		return p.Protocol
	}
	return protocol.ForPort(p.Number, p.Transport)
}

// DefaultPorts returns the built-in IoT port list: the default ports of
// every protocol in the protocol table (telnet 23/2323, ssh 22/2222, http
// 80/81/8080/8081/8000/8888/5000/49152, onvif 8899, cwmp 7547, https 443/8443,
// ftp 21/2121, mqtt 1883/8883, rtsp 554/8554, modbus 502/5020, snmp
// 161/1161 udp, ssdp 1900/udp, coap 5683/udp), sorted by transport and
// number.
func DefaultPorts() []Port {
	var out []Port
	for _, s := range protocol.All() {
		for _, tr := range s.Transports {
			for _, n := range s.Ports {
				out = append(out, Port{Number: n, Transport: tr})
			}
		}
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
// "1161/snmp"). A protocol implies its transport unless it also speaks the
// one given (UDP protocols imply udp). Duplicates are removed.
func ParsePorts(s string) ([]Port, error) {
	seen := map[Port]bool{}
	var out []Port
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		num, suffix, _ := strings.Cut(item, "/")
		tr, proto := "", ""
		for _, part := range strings.Split(suffix, "/") {
			switch part = strings.ToLower(part); {
			case part == "":
			case part == "tcp" || part == "udp":
				tr = part
			case protocol.Known(part):
				proto = part
			default:
				return nil, fmt.Errorf("port %q: unknown suffix %q", item, part)
			}
		}
		if spec := protocol.Lookup(proto); proto != "" && !spec.Speaks(tr) {
			tr = spec.Transport()
		} else if tr == "" {
			tr = "tcp"
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
