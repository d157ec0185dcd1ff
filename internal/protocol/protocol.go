package protocol

import (
	"bytes"
	"fmt"
	"slices"

	"iotwatch/internal/model"
)

// Spec is one row of the protocol table.
type Spec struct {
	// Name is the protocol's spelling in model.Service.Protocol (model.Proto*).
	Name string
	// Transports are model.TCP and/or model.UDP; the first is the one naming
	// the protocol in a port list implies ("161/snmp" is UDP).
	Transports []string
	// Ports are the default ports, probed on every transport in Transports.
	Ports []uint16
	// Nmap is nmap's service name for it (nmap-services), used in -oX output.
	Nmap string
	// TLS reports whether the protocol runs inside TLS.
	TLS bool
	// Cleartext reports whether a login over the protocol crosses the network
	// readable: telnet, FTP, HTTP Basic and forms, MQTT CONNECT. Protocols
	// without a login carry no credential; RTSP cameras answer with Digest;
	// SNMP communities are judged by the audit's community results.
	Cleartext bool
	// Prompt reports whether every session begins with a login, so that an
	// answering service is itself a login surface (telnet, SSH, FTP).
	Prompt bool
	// Login reports whether the audit has a login module for the protocol
	// (internal/audit/registry.go).
	Login bool
	// Identifies reports whether answers name the device itself (UPnP
	// descriptions, sysDescr, Modbus device identification, camera streams)
	// rather than server software found on devices of every maker.
	Identifies bool
	// SharedPorts are ports the protocol shares with another row that owns
	// them (Hikvision's SDK port 8000 is also a common HTTP port): scan
	// tries the protocol there when the owner's prober gets a reply it
	// cannot read.
	SharedPorts []uint16
	// Greeting, when set, reports whether the first bytes a server sends
	// unprompted are this protocol's greeting; scan uses it on ports with no
	// known protocol. Greetings of different rows never overlap.
	Greeting func(b []byte) bool
}

// Speaks reports whether the protocol runs over transport.
func (s Spec) Speaks(transport string) bool { return slices.Contains(s.Transports, transport) }

// Transport returns the transport that naming the protocol implies ("" for
// the zero Spec).
func (s Spec) Transport() string {
	if len(s.Transports) == 0 {
		return ""
	}
	return s.Transports[0]
}

var (
	tcp = []string{model.TCP}
	udp = []string{model.UDP}
)

// table is the list of protocols. Everything about a protocol that more than
// its own packages need is here and nowhere else.
var table = []Spec{
	{Name: model.ProtoTelnet, Transports: tcp, Ports: []uint16{23, 2323}, Nmap: "telnet",
		Cleartext: true, Prompt: true, Login: true,
		Greeting: func(b []byte) bool { return len(b) > 0 && b[0] == 0xff }}, // IAC
	{Name: model.ProtoSSH, Transports: tcp, Ports: []uint16{22, 2222}, Nmap: "ssh",
		Prompt: true, Login: true, Greeting: prefix("SSH-")},
	{Name: model.ProtoHTTP, Transports: tcp, Ports: []uint16{80, 81, 5000, 8000, 8080, 8081, 8888, 8899, 49152}, Nmap: "http",
		Cleartext: true, Login: true, Greeting: prefix("HTTP/")},
	{Name: model.ProtoHTTPS, Transports: tcp, Ports: []uint16{443, 8443}, Nmap: "https", TLS: true, Login: true},
	{Name: model.ProtoFTP, Transports: tcp, Ports: []uint16{21, 2121}, Nmap: "ftp",
		Cleartext: true, Prompt: true, Login: true, Greeting: ftpGreeting},
	{Name: model.ProtoMQTT, Transports: tcp, Ports: []uint16{1883}, Nmap: "mqtt", Cleartext: true, Login: true},
	{Name: model.ProtoMQTTS, Transports: tcp, Ports: []uint16{8883}, Nmap: "mqtt", TLS: true, Login: true},
	{Name: model.ProtoRTSP, Transports: tcp, Ports: []uint16{554, 8554}, Nmap: "rtsp",
		Login: true, Identifies: true, Greeting: prefix("RTSP/")},
	{Name: model.ProtoSNMP, Transports: udp, Ports: []uint16{161, 1161}, Nmap: "snmp", Login: true, Identifies: true},
	{Name: model.ProtoSSDP, Transports: udp, Ports: []uint16{1900}, Nmap: "upnp", Identifies: true},
	{Name: model.ProtoCoAP, Transports: udp, Ports: []uint16{5683}, Nmap: "coap"},
	{Name: model.ProtoModbus, Transports: tcp, Ports: []uint16{502, 5020}, Nmap: "modbus", Identifies: true},
	{Name: model.ProtoDNS, Transports: []string{model.UDP, model.TCP}, Ports: []uint16{53}, Nmap: "domain"},
	// TR-069 connection requests: HTTP with Digest (cleartext only when a CPE offers Basic).
	{Name: model.ProtoCWMP, Transports: tcp, Ports: []uint16{7547}, Nmap: "cwmp", Login: true},
	// Xiongmai DVR protocol: the login reply names the device type; the rest needs a login.
	{Name: model.ProtoXMeye, Transports: tcp, Ports: []uint16{34567}, Nmap: "dhanalakshmi", Login: true, Identifies: true},
	// Dahua's binary protocol: its answer names the maker's platform, no more;
	// the log-in is a realm/random MD5 digest, never cleartext.
	{Name: model.ProtoDVRIP, Transports: tcp, Ports: []uint16{37777}, Nmap: "dvrip", Login: true, Identifies: true},
	// Industrial protocols are probed read-only (identification requests only).
	{Name: model.ProtoENIP, Transports: tcp, Ports: []uint16{44818}, Nmap: "EtherNetIP-2", Identifies: true},
	{Name: model.ProtoS7, Transports: tcp, Ports: []uint16{102}, Nmap: "iso-tsap", Identifies: true},
	{Name: model.ProtoDNP3, Transports: tcp, Ports: []uint16{20000}, Nmap: "dnp"},
	{Name: model.ProtoFox, Transports: tcp, Ports: []uint16{1911}, Nmap: "mtp", Identifies: true},
	{Name: model.ProtoBACnet, Transports: udp, Ports: []uint16{47808}, Nmap: "bacnet", Identifies: true},
	// ONVIF cameras: a unicast WS-Discovery Probe names the device service
	// (XAddr), whose GetDeviceInformation names maker, model and firmware;
	// logins are WS-Security digests, never cleartext.
	{Name: model.ProtoONVIF, Transports: udp, Ports: []uint16{3702}, Nmap: "ws-discovery", Login: true, Identifies: true},
	// Hikvision's SDK port refuses an anonymous request; the log-in is the closed HCNetSDK's.
	{Name: model.ProtoHikSDK, Transports: tcp, SharedPorts: []uint16{8000}, Nmap: "ipcam"},
	// mDNS/DNS-SD asked by unicast: service instances and their TXT records name the device.
	{Name: model.ProtoMDNS, Transports: udp, Ports: []uint16{5353}, Nmap: "mdns", Identifies: true},
}

func prefix(p string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(p)) }
}

// ftpGreeting is a 220 reply that is not an SMTP server's.
func ftpGreeting(b []byte) bool {
	return (bytes.HasPrefix(b, []byte("220 ")) || bytes.HasPrefix(b, []byte("220-"))) && !bytes.Contains(b, []byte("SMTP"))
}

// index maps names to rows and (port, transport) to protocol names. A name
// or a default port claimed twice is a programming error.
type index struct {
	byName map[string]int
	byPort map[portKey]string
}

type portKey struct {
	port      uint16
	transport string
}

var idx = build(table)

func build(table []Spec) index {
	ix := index{byName: map[string]int{}, byPort: map[portKey]string{}}
	for i, s := range table {
		if _, dup := ix.byName[s.Name]; dup {
			panic(fmt.Sprintf("protocol: %q listed twice", s.Name))
		}
		if len(s.Transports) == 0 {
			panic(fmt.Sprintf("protocol: %q has no transport", s.Name))
		}
		ix.byName[s.Name] = i
		for _, tr := range s.Transports {
			for _, p := range s.Ports {
				k := portKey{p, tr}
				if other, dup := ix.byPort[k]; dup {
					panic(fmt.Sprintf("protocol: port %d/%s claimed by %q and %q", p, tr, other, s.Name))
				}
				ix.byPort[k] = s.Name
			}
		}
	}
	return ix
}

// Lookup returns the row of the named protocol; for a name not in the table
// it returns the zero Spec, whose flags are all false.
func Lookup(name string) Spec {
	if i, ok := idx.byName[name]; ok {
		return table[i]
	}
	return Spec{}
}

// Known reports whether name is a row of the table.
func Known(name string) bool {
	_, ok := idx.byName[name]
	return ok
}

// All returns the rows in table order.
func All() []Spec { return slices.Clone(table) }

// ForPort returns the protocol usually found on port/transport, or "".
func ForPort(port uint16, transport string) string {
	return idx.byPort[portKey{port, transport}]
}

// Sharing returns the protocols that share port/transport with its owner
// (SharedPorts), in table order.
func Sharing(port uint16, transport string) []string {
	var out []string
	for _, s := range table {
		if s.Speaks(transport) && slices.Contains(s.SharedPorts, port) {
			out = append(out, s.Name)
		}
	}
	return out
}

// Names returns the names of the rows for which keep reports true (every row
// when keep is nil), in table order.
func Names(keep func(Spec) bool) []string {
	var out []string
	for _, s := range table {
		if keep == nil || keep(s) {
			out = append(out, s.Name)
		}
	}
	return out
}

// Set returns Names(keep) as a set.
func Set(keep func(Spec) bool) map[string]bool {
	m := map[string]bool{}
	for _, n := range Names(keep) {
		m[n] = true
	}
	return m
}

// Greeted returns the protocol whose greeting starts b, or "".
func Greeted(b []byte) string {
	for _, s := range table {
		if s.Greeting != nil && s.Greeting(b) {
			return s.Name
		}
	}
	return ""
}
