// Package flow turns network telemetry (NetFlow/IPFIX/sFlow, pcaps, Zeek and
// nfdump exports) into per-device evidence: hourly roll-ups of where each
// device's traffic goes, DNS names seen for addresses, and alerts from the
// behaviour detectors that decide which devices are under unauthorized
// control on a given day. Decoders live in flow/ingest/*, detectors in
// flow/detect, indicator lists in flow/intel and MUD files in flow/mud.
package flow

import (
	"net/netip"
	"strconv"
	"time"
)

// IP protocol numbers used by the detectors and decoders.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Application names for Record.App when a decoder knows the service.
const (
	AppSSH    = "ssh"
	AppTelnet = "telnet"
	AppDNS    = "dns"
	// AppDHT is BitTorrent-style DHT (KRPC, bencoded over UDP): the P2P
	// overlay of Mozi-family botnets and of BitTorrent clients.
	AppDHT = "dht"
)

// Record is one flow: a unidirectional export record (NetFlow, IPFIX, sFlow,
// nfdump) or a bidirectional connection (pcap, Zeek), in which case the Rev*
// counters hold the responder's direction. Counters have the sampling rate
// already applied.
type Record struct {
	Start, End       time.Time
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	TCPFlags         uint8
	Packets, Bytes   uint64
	RevPackets       uint64
	RevBytes         uint64
	// App names the service when the source knows it (Zeek "service", an SSH
	// banner in a pcap); empty otherwise.
	App string
	// Attempts is the number of login attempts in the connection when the
	// source knows it (Zeek ssh.log auth_attempts); 0 otherwise.
	Attempts uint32
	// SamplingRate is the rate that was applied to the counters (1 = none).
	SamplingRate uint32
	// MiraiSeq reports a TCP SYN whose sequence number equals its
	// destination IPv4 address: the fingerprint of Mirai's stateless
	// scanner (and its descendants), seen only where packets are (pcap).
	MiraiSeq bool
}

// DNSAnswer maps a name to an address as observed in DNS traffic or logs.
type DNSAnswer struct {
	Time time.Time
	Name string
	Addr netip.Addr
}

// Sink receives decoded telemetry. Decoders call it from one goroutine.
type Sink interface {
	// Flow accepts one record.
	Flow(r Record)
	// DNS accepts one observed answer.
	DNS(a DNSAnswer)
}

// RecordSink is a Sink a decoder may write its records into in place
// (a Record is 168 bytes, which Flow copies in and then into its batch).
type RecordSink interface {
	Sink
	// Record returns where the next record goes, zeroed: the decoder fills
	// it in before its next call to the sink, and it then counts as given
	// to Flow.
	Record() *Record
}

// Counts is what one ingest did: accepted records, records dropped by the
// overload policy, inputs skipped as malformed, and so on. Keys are stable and
// land in the run's counts.
type Counts map[string]int64

// Count keys.
const (
	CountRecords    = "records"   // flow records accepted into the pipeline
	CountDropped    = "dropped"   // records dropped by the overload policy
	CountMalformed  = "malformed" // datagrams, packets or lines that did not decode
	CountDNS        = "dns_answers"
	CountUnknown    = "unknown_devices"     // records whose device is not in the inventory
	CountRollups    = "rollups"             // hourly roll-ups stored
	CountRelations  = "relations"           // device↔peer relations stored
	CountUntracked  = "relations_untracked" // records whose relation exceeded the bound (still in roll-ups)
	CountSpilled    = "relations_spilled"   // relation records written to the spill file (relspill.go)
	CountAlerts     = "alerts"
	CountNoTemplate = "no_template" // NetFlow/IPFIX data sets whose template was not (yet) known
)

// Alert is one detector decision about one device.
type Alert struct {
	Detector string     `json:"detector"`
	Device   netip.Addr `json:"device"`
	Peer     netip.Addr `json:"peer,omitzero"`
	Time     time.Time  `json:"time"`
	Reason   string     `json:"reason"`
	// Known reports whether the device is in the inventory or device list.
	Known bool `json:"known"`
	// Inbound reports whether the actor is outside, acting on a device (an
	// Internet scanner brute-forcing a camera). Inbound alerts are evidence
	// about the device's exposure, not of its compromise, and are not counted
	// by DailyCompromised; Device is then the outside actor.
	Inbound bool `json:"inbound,omitempty"`
	// Port and Proto are the service the actor contacted (the peer's port;
	// 0 when the alert spans ports, as a vertical scan does); SrcPort is the
	// actor's source port in the flow that decided the alert (0 when the
	// decision spans flows).
	SrcPort uint16 `json:"src_port,omitempty"`
	Port    uint16 `json:"port,omitempty"`
	Proto   uint8  `json:"proto,omitempty"`
	// Sampling is the packet sampling rate (1 in N) of the telemetry the
	// alert was decided on; 0 or 1 means unsampled.
	Sampling uint32 `json:"sampling,omitempty"`
	// Scores are the detector's sub-scores in [0,1] (beaconing: interval,
	// size, count, histogram and the combined score).
	Scores map[string]float64 `json:"scores,omitempty"`
}

// ProtoName returns "tcp", "udp", "icmp" or the number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "ipv6-icmp"
	case 0:
		return ""
	}
	return strconv.Itoa(int(p))
}

// Day returns the UTC day of the alert.
func (a Alert) Day() string { return a.Time.UTC().Format(time.DateOnly) }
