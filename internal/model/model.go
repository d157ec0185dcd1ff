// Package model holds the small core of value types every iotwatch stage shares:
// runs, assets, services with their fingerprints, credential results,
// vulnerability matches and findings with evidence. It imports nothing heavy.
package model

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Transport names for Service.Transport.
const (
	TCP = "tcp"
	UDP = "udp"
)

// Status is the outcome class of a probe or login attempt, reported beside any
// error so that reports can count outcomes (after zgrab2's ScanStatus).
type Status string

// Outcome classes.
const (
	StatusSuccess       Status = "success"
	StatusRefused       Status = "refused"
	StatusTimeout       Status = "timeout"
	StatusProtocolError Status = "protocol-error"
	StatusAuthFailed    Status = "auth-failed"
	StatusIOError       Status = "io-error"
	StatusUnknownError  Status = "unknown-error"
)

// Fingerprint identifies what answered on a service.
type Fingerprint struct {
	Vendor     string  `json:"vendor,omitempty"`
	Product    string  `json:"product,omitempty"`
	Version    string  `json:"version,omitempty"`
	DeviceType string  `json:"device_type,omitempty"`
	CPE        string  `json:"cpe,omitempty"` // CPE 2.3 formatted string
	Confidence float64 `json:"confidence,omitempty"`
	Rule       string  `json:"rule,omitempty"` // id of the rule that matched
	// Device is the device the same record also identifies when the
	// fingerprint itself names only server software: a login page titled
	// with the maker and model behind a lighttpd Server header. The service
	// keeps the software (its CPE is what vulnerability matching needs);
	// device identity reads Device.
	Device *Fingerprint `json:"device,omitempty"`
	// Distro is the distribution package the software came from, when the
	// banner or a package database says so ("OpenSSH_9.2p1
	// Debian-2+deb12u10"): distributions backport fixes without changing the
	// upstream version, so their advisories decide what is fixed.
	Distro Distro `json:"distro,omitzero"`
}

// Distro is a distribution package: the distribution (debian, ubuntu,
// alpine, raspbian), its release when known ("12", "22.04", "3.20"), the
// source package name and the full package version ("9.2p1-2+deb12u10",
// with an epoch only when the source gave one).
type Distro struct {
	Name    string `json:"name"`
	Release string `json:"release,omitempty"`
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
}

// Empty reports whether the fingerprint identifies nothing.
func (f *Fingerprint) Empty() bool {
	return f == nil || (f.Vendor == "" && f.Product == "" && f.CPE == "")
}

// Unknown is the group key of devices whose vendor, device type or other
// attribute is not known: every breakdown counts them in a row of this name.
const Unknown = "unknown"

// GenericDeviceType reports whether a device type says nothing about what
// the device is ("embedded", "general-purpose", …) or names a software role
// ("mqtt-broker": a broker runs on thermostats and servers alike; "web
// server"). Case is ignored: Recog spells some of them with capitals.
func GenericDeviceType(t string) bool {
	return slices.Contains(genericDeviceTypes, strings.ToLower(t))
}

// Device types iotwatch's own data names (fingerprint rules, the device-type
// table, simulator profiles). Recog may name others; reports show whatever
// the evidence says.
const (
	DeviceIPCamera          = "ip-camera"
	DeviceDVR               = "dvr"
	DeviceRouter            = "router"
	DeviceFirewall          = "firewall"
	DeviceWirelessBridge    = "wireless-bridge"
	DeviceNetworkController = "network-controller"
	DeviceNAS               = "nas"
	DevicePrinter           = "printer"
	DeviceSmartPlug         = "smart-plug"
	DeviceThermostat        = "thermostat"
	DeviceIndustrialGateway = "industrial-gateway"
	DevicePLC               = "plc"
	DeviceBuildingControl   = "building-controller"
	DeviceMediaPlayer       = "media-player" // streaming players announcing themselves over mDNS (Chromecast, Apple TV)
)

var deviceTypes = []string{DeviceIPCamera, DeviceDVR, DeviceRouter, DeviceFirewall, DeviceWirelessBridge, DeviceNetworkController,
	DeviceNAS, DevicePrinter, DeviceSmartPlug, DeviceThermostat, DeviceIndustrialGateway, DevicePLC, DeviceBuildingControl, DeviceMediaPlayer}

// KnownDeviceType reports whether t is one of the device types above or a
// generic one (GenericDeviceType): the words iotwatch's own data may use.
func KnownDeviceType(t string) bool {
	return slices.Contains(deviceTypes, t) || GenericDeviceType(t)
}

// genericDeviceTypes is the one list of device types that name no device.
var genericDeviceTypes = []string{"", Unknown, "embedded", "general", "general-purpose", "general purpose", "server", "web server", "mqtt-broker"}

// GenericDeviceTypes returns the device types GenericDeviceType accepts, in
// lower case (for stores that test them in SQL).
func GenericDeviceTypes() []string { return slices.Clone(genericDeviceTypes) }

// SoftwareOnly reports whether the fingerprint names only server software:
// an application CPE (OpenSSH, vsftpd, lighttpd, Mosquitto, net-snmp) and a
// generic device type. Such software runs on devices of every maker, so its
// vendor is not the device's.
func (f *Fingerprint) SoftwareOnly() bool {
	return f != nil && strings.HasPrefix(f.CPE, "cpe:2.3:a:") && GenericDeviceType(f.DeviceType)
}

// Service is one transport endpoint of an asset and what a probe learned there.
type Service struct {
	IP        netip.Addr `json:"ip"`
	Port      uint16     `json:"port"`
	Transport string     `json:"transport"`
	Protocol  string     `json:"protocol"`
	Status    Status     `json:"status"`
	Banner    string     `json:"banner,omitempty"`
	// Data is the protocol's structured handshake record. In memory it is the
	// probe's own type; read back from the store it is a json.RawMessage.
	Data        any          `json:"data,omitempty"`
	Fingerprint *Fingerprint `json:"fingerprint,omitempty"`
	Error       string       `json:"error,omitempty"`
	Time        time.Time    `json:"time"`
}

// Asset is one device: an address and what is known of it.
type Asset struct {
	IP         netip.Addr `json:"ip"`
	Hostname   string     `json:"hostname,omitempty"`
	Vendor     string     `json:"vendor,omitempty"`
	Product    string     `json:"product,omitempty"`
	Version    string     `json:"version,omitempty"`
	DeviceType string     `json:"device_type,omitempty"`
	CPE        string     `json:"cpe,omitempty"`
	Services   []Service  `json:"services,omitempty"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
}

// Credential kinds for CredentialResult.Kind.
const (
	KindDefaultCredential = "default-credential"
	KindEmptyPassword     = "empty-password"
	KindAnonymousAccess   = "anonymous-access"
	KindSNMPCommunity     = "snmp-community"
	KindWeakPassword      = "weak-password"
	KindHardcoded         = "hard-coded-credential"
	// KindLockoutSuspected records a service where the audit saw lockout or
	// rate limiting and backed off; it carries no credential.
	KindLockoutSuspected = "lockout-suspected"
	// KindUnknownVerdict records a service that accepted a credential but
	// also accepted the deliberately wrong control (or answered both the
	// same way), so the acceptance proves nothing: the result is unknown,
	// never weak. Evidence says what both attempts got.
	KindUnknownVerdict = "unknown-verdict"
)

// WeakKinds are the kinds of CredentialResult that count as a weak
// credential; the other kinds are observations (lockout, unknown verdict).
var WeakKinds = []string{KindDefaultCredential, KindEmptyPassword, KindAnonymousAccess,
	KindSNMPCommunity, KindWeakPassword, KindHardcoded}

// CredentialResult is a login surface that accepted a default, empty, weak or
// no credential. Password holds the raw secret; outputs redact it (see Redact)
// unless the user asks for raw values.
type CredentialResult struct {
	IP               netip.Addr `json:"ip"`
	Port             uint16     `json:"port"`
	Protocol         string     `json:"protocol"`
	Username         string     `json:"username"`
	Password         string     `json:"password"`
	Kind             string     `json:"kind"`
	Source           string     `json:"source,omitempty"` // dictionary the pair came from
	Attempts         int        `json:"attempts"`
	LockoutSuspected bool       `json:"lockout_suspected,omitempty"`
	Time             time.Time  `json:"time"`
	// Evidence is what proved the acceptance: the service's answer to the
	// credential and to a deliberately wrong password (status codes, prompts).
	Evidence string `json:"evidence,omitempty"`
}

// Weak reports whether the result is a weak credential: one of WeakKinds,
// not an observation (KindLockoutSuspected, KindUnknownVerdict) nor the empty
// kind of a malformed record.
func (c CredentialResult) Weak() bool {
	return slices.Contains(WeakKinds, c.Kind)
}

// SourceFirmware starts the Source of a credential result whose pair is an
// account a firmware image of the device's product proved:
// "firmware:" and the image's name.
const SourceFirmware = "firmware"

// FirmwareImageOf returns the image a credential source names, and whether
// the source is a firmware one.
func FirmwareImageOf(source string) (string, bool) {
	return strings.CutPrefix(source, SourceFirmware+":")
}

// FirmwareAccount is a login account whose password a firmware analysis
// proved (cracked from /etc/shadow, or empty), kept so that the credential
// audit tries it first on devices identified as the image's product. Image
// is the analysed image's path, whose name names the product.
type FirmwareAccount struct {
	RunID    int64     `json:"run_id"`
	Image    string    `json:"image"`
	SHA256   string    `json:"sha256,omitempty"`
	Username string    `json:"username"`
	Password string    `json:"password"`
	Empty    bool      `json:"empty,omitempty"`
	File     string    `json:"file,omitempty"` // the file the hash came from
	HashType string    `json:"hash_type,omitempty"`
	Time     time.Time `json:"time"`
}

// VulnMatch is a known vulnerability matched to an identified product.
type VulnMatch struct {
	IP         netip.Addr `json:"ip,omitzero"` // zero for firmware components
	Port       uint16     `json:"port,omitempty"`
	Subject    string     `json:"subject,omitempty"` // firmware image or component, when not a network service
	CPE        string     `json:"cpe"`
	Product    string     `json:"product,omitempty"`
	Version    string     `json:"version,omitempty"`
	CVE        string     `json:"cve"`
	CVSS       float64    `json:"cvss,omitempty"`
	CVSSVector string     `json:"cvss_vector,omitempty"`
	Severity   Severity   `json:"severity"`
	KEV        bool       `json:"kev,omitempty"`
	KEVDue     string     `json:"kev_due,omitempty"`
	CWEs       []string   `json:"cwes,omitempty"`
	Summary    string     `json:"summary,omitempty"`
	// EPSS is the exploitation probability (FIRST EPSS, 0..1) on EPSSDate;
	// matches rank by KEV, then EPSS, then CVSS.
	EPSS     float64 `json:"epss,omitempty"`
	EPSSDate string  `json:"epss_date,omitempty"`
	// Status is empty for an affected product, or "fixed" when the
	// distribution's advisory (Advisory, fixed in FixedIn) shows the installed
	// package carries the fix although its upstream version is affected.
	// Affects reports whether the match still counts.
	Status   string `json:"status,omitempty"`
	Advisory string `json:"advisory,omitempty"`
	FixedIn  string `json:"fixed_in,omitempty"`
	// Justification is a VEX statement's reason for not_affected; VEX
	// statements also set Status (not_affected, fixed, under_investigation)
	// with the document as Advisory.
	Justification string `json:"justification,omitempty"`
	// Distro is the distribution package of a firmware component whose
	// distribution's advisories were consulted (kept so that a re-match
	// consults them again).
	Distro Distro `json:"distro,omitzero"`
}

// Component is a software component a firmware analysis identified, as
// vulnerability matching needs it: where it is (Subject, image:path), its
// name and version, its CPE 2.3 name, and its distribution package when a
// package database on a system with a distribution listed it.
type Component struct {
	Subject string `json:"subject"`
	Name    string `json:"name"`
	Version string `json:"version"`
	CPE     string `json:"cpe"`
	Distro  Distro `json:"distro,omitzero"`
}

// Evidence is one piece of support for a Finding: where it came from and what it shows.
type Evidence struct {
	Source string `json:"source"` // scan, audit, firmware, flows, declaration, vulndb
	Detail string `json:"detail"`
	Data   any    `json:"data,omitempty"`
}

// Finding is a security-relevant observation about a subject (a device
// address, a firmware image, a product) with its severity and evidence.
type Finding struct {
	Kind     string     `json:"kind"`    // e.g. weak-credential, hard-coded-key, c2-beaconing
	Subject  string     `json:"subject"` // IP address, image path or product
	Severity Severity   `json:"severity"`
	Title    string     `json:"title"`
	Detail   string     `json:"detail,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
	Time     time.Time  `json:"time"`
	// Secrets are the raw secret values that appear in Detail or Evidence
	// (a cracked password, a token): the store seals them wherever they
	// appear. Never serialised.
	Secrets []string `json:"-"`
}

// Run states.
const (
	RunRunning     = "running"
	RunComplete    = "complete"
	RunInterrupted = "interrupted"
	RunFailed      = "failed"
	// RunAbandoned is a run whose process ended without finishing it (killed,
	// crashed, host lost): its owner is gone or its heartbeat is stale.
	RunAbandoned = "abandoned"
)

// Run records one invocation of a pipeline: when, on what, which stages, with what counts.
type Run struct {
	ID        int64            `json:"id"`
	Kind      string           `json:"kind"` // scan, audit, demo, firmware, flows, ...
	Targets   []string         `json:"targets"`
	Stages    []string         `json:"stages"`
	Status    string           `json:"status"`
	StartedAt time.Time        `json:"started_at"`
	EndedAt   time.Time        `json:"ended_at,omitzero"`
	Counts    map[string]int64 `json:"counts,omitempty"`
	Error     string           `json:"error,omitempty"`
	// Host and PID name the process that runs it; Heartbeat is when that
	// process last said it was alive.
	Host      string    `json:"host,omitempty"`
	PID       int       `json:"pid,omitempty"`
	Heartbeat time.Time `json:"heartbeat_at,omitzero"`
	// Parent is the run this one continues (a resumed scan), 0 for none;
	// the two are one logical run for reports and the API.
	Parent int64 `json:"parent,omitempty"`
}

// Redact hides a secret for display: the first two characters and "***".
// Secrets of two characters or fewer show only "***"; an empty secret stays empty.
func Redact(s string) string {
	switch {
	case strings.HasPrefix(s, "[sealed:") && strings.HasSuffix(s, "]"):
		return s // a sealed value read without its key: already a stand-in
	case s == "":
		return ""
	case len(s) <= 2:
		return "***"
	default:
		return s[:2] + "***"
	}
}

// Protocol names for Service.Protocol and CredentialResult.Protocol. Every
// stage uses these spellings.
const (
	ProtoTelnet = "telnet"
	ProtoSSH    = "ssh"
	ProtoHTTP   = "http"
	ProtoHTTPS  = "https"
	ProtoFTP    = "ftp"
	ProtoMQTT   = "mqtt"
	ProtoMQTTS  = "mqtts"
	ProtoRTSP   = "rtsp"
	ProtoSNMP   = "snmp"
	ProtoSSDP   = "ssdp" // UPnP discovery; the description XML is fetched over HTTP
	ProtoCoAP   = "coap"
	ProtoModbus = "modbus"
	ProtoDNS    = "dns"    // read-only: the server's CHAOS TXT version.bind
	ProtoCWMP   = "cwmp"   // TR-069 connection-request server (HTTP on 7547)
	ProtoXMeye  = "xmeye"  // XMeye/NetSurveillance DVR protocol (Xiongmai, 34567)
	ProtoDVRIP  = "dvrip"  // Dahua DVRIP (37777), identification query and log-in only
	ProtoENIP   = "enip"   // EtherNet/IP (44818), ListIdentity only
	ProtoBACnet = "bacnet" // BACnet/IP (47808/udp), ReadProperty of the device object only
	ProtoS7     = "s7"     // Siemens S7comm (102), read SZL only
	ProtoDNP3   = "dnp3"   // DNP3 (20000), link status only
	ProtoFox    = "fox"    // Niagara Fox (1911), hello only
	ProtoONVIF  = "onvif"  // ONVIF: WS-Discovery (3702/udp), then the device service over HTTP at its XAddr
	ProtoHikSDK = "hiksdk" // Hikvision SDK/iVMS port (8000), a refused request only
	ProtoMDNS   = "mdns"   // mDNS/DNS-SD (5353/udp), unicast queries to the target only
)

// CompareVulnMatches orders matches for work: known exploited (KEV) first,
// then by EPSS (likelihood of exploitation), then by CVSS (impact), then by
// id, newest first. It returns a negative number when a comes first.
func CompareVulnMatches(a, b VulnMatch) int {
	switch {
	case a.KEV != b.KEV:
		if a.KEV {
			return -1
		}
		return 1
	case a.EPSS != b.EPSS:
		if a.EPSS > b.EPSS {
			return -1
		}
		return 1
	case a.CVSS != b.CVSS:
		if a.CVSS > b.CVSS {
			return -1
		}
		return 1
	}
	return -strings.Compare(a.CVE, b.CVE)
}

// Affects reports whether the match still affects its subject: not fixed
// by a backport or VEX statement and not declared not_affected. A match
// under investigation counts.
func (m *VulnMatch) Affects() bool {
	return m.Status != "fixed" && m.Status != "not_affected"
}
