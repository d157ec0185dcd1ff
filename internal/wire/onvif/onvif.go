// Package onvif is the codec of ONVIF's discovery and device service:
// WS-Discovery Probe and ProbeMatches (SOAP-over-UDP on 3702), the device
// service's read-only GetSystemDateAndTime and GetDeviceInformation (SOAP 1.2
// over HTTP at the XAddr, usually /onvif/device_service), SOAP faults, and
// the WS-Security UsernameToken with PasswordDigest that ONVIF requires:
//
//	Digest = Base64(SHA-1(nonce + created + password))
//
// (OASIS Web Services Security UsernameToken Profile 1.0, §3.1; ONVIF Core
// Specification §5.9.4). One parser, Parse, reads every message by local
// element names, so that SOAP 1.1 and 1.2 envelopes and every prefix
// spelling decode alike; encoding/xml expands no entities and reads no DTD.
// The prober, the login module and the simulator all use this codec.
package onvif

import (
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"iotwatch/internal/netx"
)

// Namespaces and URIs the messages use.
const (
	NSSOAP12     = "http://www.w3.org/2003/05/soap-envelope"
	NSSOAP11     = "http://schemas.xmlsoap.org/soap/envelope/"
	NSAddressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	NSDiscovery  = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	NSDevice     = "http://www.onvif.org/ver10/device/wsdl"
	NSNetwork    = "http://www.onvif.org/ver10/network/wsdl"
	NSSchema     = "http://www.onvif.org/ver10/schema"
	NSError      = "http://www.onvif.org/ver10/error"
	NSWSSE       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

	// PasswordDigest and PasswordText are the UsernameToken password types.
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	Base64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

	// ActionProbe and ActionProbeMatches are the WS-Discovery actions;
	// DiscoveryTo is the To of a Probe sent to a target service.
	ActionProbe        = NSDiscovery + "/Probe"
	ActionProbeMatches = NSDiscovery + "/ProbeMatches"
	DiscoveryTo        = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	anonymousRole      = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

	// Port is WS-Discovery's UDP port; DevicePath the device service's usual path.
	Port       = 3702
	DevicePath = "/onvif/device_service"

	// MaxMessage caps one message (a ProbeMatches datagram, a SOAP reply).
	MaxMessage = 64 << 10
)

// ErrNotONVIF marks bytes that are not the SOAP message expected.
var ErrNotONVIF = fmt.Errorf("not an ONVIF/WS-Discovery message: %w", netx.ErrProtocol)

// Operation is a device-service request this codec can encode. Only
// read-only operations exist: the prober and the audit never change a device.
type Operation string

// The read-only device-service operations.
const (
	// GetSystemDateAndTime is answered without authentication (ONVIF access
	// class PRE_AUTH): the device clock that WS-Security's Created must match.
	GetSystemDateAndTime Operation = "GetSystemDateAndTime"
	// GetDeviceInformation needs READ_SYSTEM: maker, model, firmware, serial.
	GetDeviceInformation Operation = "GetDeviceInformation"
)

// Action returns the operation's SOAP action URI.
func (o Operation) Action() string { return NSDevice + "/" + string(o) }

// esc escapes s for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Probe returns a WS-Discovery Probe for ONVIF video transmitters
// (dn:NetworkVideoTransmitter), addressed to the target's discovery service,
// with messageID (a "uuid:..." URI) to match the reply's RelatesTo.
func Probe(messageID string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + NSSOAP12 + `" xmlns:a="` + NSAddressing + `" xmlns:d="` + NSDiscovery + `" xmlns:dn="` + NSNetwork + `">` +
		`<s:Header><a:Action s:mustUnderstand="1">` + ActionProbe + `</a:Action>` +
		`<a:MessageID>` + esc(messageID) + `</a:MessageID>` +
		`<a:ReplyTo><a:Address>` + anonymousRole + `</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">` + DiscoveryTo + `</a:To></s:Header>` +
		`<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`)
}

// ProbeMatch is one matching service of a ProbeMatches reply.
type ProbeMatch struct {
	// Address is the EndpointReference address (urn:uuid:...), stable per device.
	Address string
	// Types are the QNames the service implements (dn:NetworkVideoTransmitter, tds:Device).
	Types []string
	// Scopes are the scope URIs (onvif://www.onvif.org/hardware/..., name/...).
	Scopes []string
	// XAddrs are the device service's transport addresses (URLs).
	XAddrs          []string
	MetadataVersion string
}

// ProbeMatchesReply encodes a ProbeMatches reply to the Probe whose message
// id was relatesTo (the simulator's side).
func ProbeMatchesReply(messageID, relatesTo string, m ProbeMatch) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + NSSOAP12 + `" xmlns:wsa="` + NSAddressing + `" xmlns:wsdd="` + NSDiscovery +
		`" xmlns:dn="` + NSNetwork + `" xmlns:tds="` + NSDevice + `">` +
		`<SOAP-ENV:Header><wsa:MessageID>` + esc(messageID) + `</wsa:MessageID>` +
		`<wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo>` +
		`<wsa:To SOAP-ENV:mustUnderstand="true">` + anonymousRole + `</wsa:To>` +
		`<wsa:Action SOAP-ENV:mustUnderstand="true">` + ActionProbeMatches + `</wsa:Action></SOAP-ENV:Header>` +
		`<SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch>` +
		`<wsa:EndpointReference><wsa:Address>` + esc(m.Address) + `</wsa:Address></wsa:EndpointReference>` +
		`<wsdd:Types>` + esc(strings.Join(m.Types, " ")) + `</wsdd:Types>` +
		`<wsdd:Scopes>` + esc(strings.Join(m.Scopes, " ")) + `</wsdd:Scopes>` +
		`<wsdd:XAddrs>` + esc(strings.Join(m.XAddrs, " ")) + `</wsdd:XAddrs>` +
		`<wsdd:MetadataVersion>` + esc(m.MetadataVersion) + `</wsdd:MetadataVersion>` +
		`</wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}

// Scope returns the value of the first scope onvif://www.onvif.org/<category>/...
// (category compared without case: hardware, name, location, type, Profile),
// percent-decoded; "" when there is none.
func Scope(scopes []string, category string) string {
	const root = "onvif://www.onvif.org/"
	for _, s := range scopes {
		if len(s) <= len(root) || !strings.EqualFold(s[:len(root)], root) {
			continue
		}
		cat, val, ok := strings.Cut(s[len(root):], "/")
		if !ok || !strings.EqualFold(cat, category) {
			continue
		}
		if u, err := url.PathUnescape(val); err == nil {
			val = u
		}
		return val
	}
	return ""
}

// HasType reports whether types holds a QName with local part local.
func HasType(types []string, local string) bool {
	for _, t := range types {
		if _, l, ok := strings.Cut(t, ":"); ok && l == local || !ok && t == local {
			return true
		}
	}
	return false
}

// UsernameToken is a WS-Security UsernameToken.
type UsernameToken struct {
	Username string
	// Password is the Base64 digest (Type PasswordDigest) or the clear text.
	Password string
	Type     string
	// Nonce is Base64; Created is the xsd:dateTime the digest covers.
	Nonce   string
	Created string
}

// Digest is Base64(SHA-1(nonce + created + password)).
func Digest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// NewToken builds a PasswordDigest token; created is the device's clock
// (the local clock plus the device's offset), nonce fresh random bytes.
func NewToken(user, password string, nonce []byte, created time.Time) UsernameToken {
	c := created.UTC().Format("2006-01-02T15:04:05.000Z")
	return UsernameToken{Username: user, Password: Digest(nonce, c, password), Type: PasswordDigest,
		Nonce: base64.StdEncoding.EncodeToString(nonce), Created: c}
}

// Verify reports whether the token proves password (the device's side). A
// digest token whose nonce is not Base64 proves nothing.
func (t UsernameToken) Verify(password string) bool {
	want := password
	if t.Type == PasswordDigest || t.Type == "" && t.Nonce != "" {
		nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(t.Nonce))
		if err != nil {
			return false
		}
		want = Digest(nonce, strings.TrimSpace(t.Created), password)
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(t.Password)), []byte(want)) == 1
}

// CreatedTime parses the token's Created (xsd:dateTime, UTC or with offset).
func (t UsernameToken) CreatedTime() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(t.Created))
}

// Request encodes a SOAP 1.2 device-service request, with the token in a
// WS-Security header when tok is not nil.
func Request(op Operation, tok *UsernameToken) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<s:Envelope xmlns:s="` + NSSOAP12 + `" xmlns:tds="` + NSDevice + `">`)
	if tok != nil {
		typ := tok.Type
		if typ == "" {
			typ = PasswordDigest
		}
		b.WriteString(`<s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="` + NSWSSE + `" xmlns:wsu="` + NSWSU + `">` +
			`<wsse:UsernameToken><wsse:Username>` + esc(tok.Username) + `</wsse:Username>` +
			`<wsse:Password Type="` + esc(typ) + `">` + esc(tok.Password) + `</wsse:Password>`)
		if tok.Nonce != "" {
			b.WriteString(`<wsse:Nonce EncodingType="` + Base64Binary + `">` + esc(tok.Nonce) + `</wsse:Nonce>`)
		}
		if tok.Created != "" {
			b.WriteString(`<wsu:Created>` + esc(tok.Created) + `</wsu:Created>`)
		}
		b.WriteString(`</wsse:UsernameToken></wsse:Security></s:Header>`)
	}
	b.WriteString(`<s:Body><tds:` + string(op) + `/></s:Body></s:Envelope>`)
	return []byte(b.String())
}

// DeviceInformation is GetDeviceInformationResponse.
type DeviceInformation struct {
	Manufacturer    string `xml:"Manufacturer"`
	Model           string `xml:"Model"`
	FirmwareVersion string `xml:"FirmwareVersion"`
	SerialNumber    string `xml:"SerialNumber"`
	HardwareID      string `xml:"HardwareId"`
}

func (d *DeviceInformation) trim() {
	for _, p := range []*string{&d.Manufacturer, &d.Model, &d.FirmwareVersion, &d.SerialNumber, &d.HardwareID} {
		*p = strings.TrimSpace(*p)
	}
}

// DeviceInformationReply encodes a GetDeviceInformationResponse.
func DeviceInformationReply(d DeviceInformation) []byte {
	return response(`<tds:GetDeviceInformationResponse>` +
		`<tds:Manufacturer>` + esc(d.Manufacturer) + `</tds:Manufacturer><tds:Model>` + esc(d.Model) + `</tds:Model>` +
		`<tds:FirmwareVersion>` + esc(d.FirmwareVersion) + `</tds:FirmwareVersion>` +
		`<tds:SerialNumber>` + esc(d.SerialNumber) + `</tds:SerialNumber><tds:HardwareId>` + esc(d.HardwareID) + `</tds:HardwareId>` +
		`</tds:GetDeviceInformationResponse>`)
}

// SystemDateAndTime is GetSystemDateAndTimeResponse's SystemDateAndTime.
type SystemDateAndTime struct {
	DateTimeType    string // Manual or NTP
	DaylightSavings bool
	TZ              string // POSIX TZ string, e.g. CST-8
	// UTC is the device clock (zero when the device gave none or an invalid one).
	UTC time.Time
}

// SystemDateAndTimeReply encodes a GetSystemDateAndTimeResponse for the
// device clock now.
func SystemDateAndTimeReply(s SystemDateAndTime) []byte {
	u := s.UTC.UTC()
	dt := func(t time.Time) string {
		return fmt.Sprintf(`<tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
			`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date>`,
			t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day())
	}
	return response(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>` +
		`<tt:DateTimeType>` + esc(s.DateTimeType) + `</tt:DateTimeType>` +
		`<tt:DaylightSavings>` + strconv.FormatBool(s.DaylightSavings) + `</tt:DaylightSavings>` +
		`<tt:TimeZone><tt:TZ>` + esc(s.TZ) + `</tt:TZ></tt:TimeZone>` +
		`<tt:UTCDateTime>` + dt(u) + `</tt:UTCDateTime>` +
		`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`)
}

// Fault is a SOAP fault (1.2 Code/Subcode/Reason, or 1.1 faultcode/faultstring).
type Fault struct {
	Code     string   // env:Sender, env:Receiver, SOAP-ENV:Client, ...
	Subcodes []string // ter:NotAuthorized, ...
	Reason   string
}

func (f *Fault) Error() string {
	s := "SOAP fault " + f.Code
	for _, c := range f.Subcodes {
		s += "/" + c
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// authCodes are the fault codes that refuse a credential: ONVIF's
// ter:NotAuthorized and WS-Security's failures.
var authCodes = map[string]bool{"NotAuthorized": true, "FailedAuthentication": true,
	"InvalidSecurity": true, "InvalidSecurityToken": true, "FailedCheck": true}

// NotAuthorized reports whether the fault refuses the sender's credential.
func (f *Fault) NotAuthorized() bool {
	for _, c := range append([]string{f.Code}, f.Subcodes...) {
		if _, l, ok := strings.Cut(c, ":"); ok && authCodes[l] || authCodes[c] {
			return true
		}
	}
	return false
}

// NotAuthorizedReply encodes ONVIF's fault for a missing or wrong credential
// (ONVIF Core §5.11.2.4: env:Sender / ter:NotAuthorized).
func NotAuthorizedReply() []byte {
	return response(`<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>` +
		`<SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>` +
		`<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">Sender not Authorized</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>`)
}

// response wraps body in the SOAP 1.2 envelope devices answer with.
func response(body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + NSSOAP12 + `" xmlns:tds="` + NSDevice + `" xmlns:tt="` + NSSchema +
		`" xmlns:ter="` + NSError + `"><SOAP-ENV:Body>` + body + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}

// Message is one parsed SOAP message; the body's parts that were present
// are set.
type Message struct {
	// SOAP is 12 or 11, by the envelope's namespace.
	SOAP                         int
	Action, MessageID, RelatesTo string
	// Operation is the local name of the body's first element.
	Operation string
	// Token is the request's WS-Security UsernameToken, if any.
	Token *UsernameToken
	Fault *Fault
	// ProbeTypes is a Probe's Types (the request side of WS-Discovery).
	ProbeTypes        []string
	ProbeMatches      []ProbeMatch
	DeviceInformation *DeviceInformation
	SystemDateAndTime *SystemDateAndTime
}

// Parse decodes a SOAP envelope.
func Parse(b []byte) (*Message, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%d bytes: %w", len(b), ErrNotONVIF)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = charset.NewReaderLabel
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotONVIF, err)
	}
	m := &Message{Action: strings.TrimSpace(env.Header.Action), MessageID: strings.TrimSpace(env.Header.MessageID),
		RelatesTo: strings.TrimSpace(env.Header.RelatesTo)}
	switch env.XMLName.Space {
	case NSSOAP12:
		m.SOAP = 12
	case NSSOAP11:
		m.SOAP = 11
	default:
		return nil, fmt.Errorf("envelope namespace %q: %w", env.XMLName.Space, ErrNotONVIF)
	}
	if env.Body == nil {
		return nil, fmt.Errorf("no body: %w", ErrNotONVIF)
	}
	if t := env.Header.Security; t != nil && t.Token != nil {
		x := t.Token
		m.Token = &UsernameToken{Username: strings.TrimSpace(x.Username), Password: strings.TrimSpace(x.Password.Value),
			Type: strings.TrimSpace(x.Password.Type), Nonce: strings.TrimSpace(x.Nonce), Created: strings.TrimSpace(x.Created)}
	}
	bd := env.Body
	m.Operation, m.Fault, m.DeviceInformation = bd.first, bd.fault, bd.info
	if bd.probe != nil {
		m.ProbeTypes = strings.Fields(*bd.probe)
		if m.ProbeTypes == nil {
			m.ProbeTypes = []string{}
		}
	}
	for _, x := range bd.matches {
		m.ProbeMatches = append(m.ProbeMatches, ProbeMatch{Address: strings.TrimSpace(x.Address),
			Types: strings.Fields(x.Types), Scopes: strings.Fields(x.Scopes), XAddrs: strings.Fields(x.XAddrs),
			MetadataVersion: strings.TrimSpace(x.MetadataVersion)})
	}
	if x := bd.clock; x != nil {
		s := &SystemDateAndTime{DateTimeType: strings.TrimSpace(x.DateTimeType), TZ: strings.TrimSpace(x.TZ)}
		s.DaylightSavings, _ = strconv.ParseBool(strings.TrimSpace(x.DaylightSavings))
		s.UTC = x.UTC.time()
		m.SystemDateAndTime = s
	}
	if m.DeviceInformation != nil {
		m.DeviceInformation.trim()
	}
	return m, nil
}

// Read reads and parses one message of at most MaxMessage bytes.
func Read(r io.Reader) (*Message, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxMessage+1))
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

type envelope struct {
	XMLName xml.Name
	Header  struct {
		Action    string    `xml:"Action"`
		MessageID string    `xml:"MessageID"`
		RelatesTo string    `xml:"RelatesTo"`
		Security  *security `xml:"Security"`
	} `xml:"Header"`
	Body *body `xml:"Body"`
}

type security struct {
	Token *struct {
		Username string `xml:"Username"`
		Password struct {
			Type  string `xml:"Type,attr"`
			Value string `xml:",chardata"`
		} `xml:"Password"`
		Nonce   string `xml:"Nonce"`
		Created string `xml:"Created"`
	} `xml:"UsernameToken"`
}

type probeMatchXML struct {
	Address         string `xml:"EndpointReference>Address"`
	Types           string `xml:"Types"`
	Scopes          string `xml:"Scopes"`
	XAddrs          string `xml:"XAddrs"`
	MetadataVersion string `xml:"MetadataVersion"`
}

type dateTimeXML struct {
	Hour   int `xml:"Time>Hour"`
	Minute int `xml:"Time>Minute"`
	Second int `xml:"Time>Second"`
	Year   int `xml:"Date>Year"`
	Month  int `xml:"Date>Month"`
	Day    int `xml:"Date>Day"`
}

// time returns the date-time, or the zero time when a field is out of range.
func (d *dateTimeXML) time() time.Time {
	if d == nil || d.Year < 1970 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 ||
		d.Hour < 0 || d.Hour > 24 || d.Minute < 0 || d.Minute > 59 || d.Second < 0 || d.Second > 61 {
		return time.Time{}
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, d.Hour, d.Minute, d.Second, 0, time.UTC)
}

type clockXML struct {
	DateTimeType    string       `xml:"SystemDateAndTime>DateTimeType"`
	DaylightSavings string       `xml:"SystemDateAndTime>DaylightSavings"`
	TZ              string       `xml:"SystemDateAndTime>TimeZone>TZ"`
	UTC             *dateTimeXML `xml:"SystemDateAndTime>UTCDateTime"`
}

type faultXML struct {
	Code struct {
		Value   string      `xml:"Value"`
		Subcode *subcodeXML `xml:"Subcode"`
	} `xml:"Code"`
	Reason      []string `xml:"Reason>Text"`
	FaultCode   string   `xml:"faultcode"`   // SOAP 1.1
	FaultString string   `xml:"faultstring"` // SOAP 1.1
}

type subcodeXML struct {
	Value   string      `xml:"Value"`
	Subcode *subcodeXML `xml:"Subcode"`
}

// body decodes the parts of a SOAP body this codec knows, by local name,
// and remembers the first element's name.
type body struct {
	first   string
	fault   *Fault
	probe   *string // a Probe's Types
	matches []probeMatchXML
	info    *DeviceInformation
	clock   *clockXML
}

// maxSubcodes bounds nested fault subcodes.
const maxSubcodes = 8

func (b *body) UnmarshalXML(d *xml.Decoder, _ xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if b.first == "" {
				b.first = t.Name.Local
			}
			if err := b.element(d, t); err != nil {
				return err
			}
		}
	}
}

func (b *body) element(d *xml.Decoder, t xml.StartElement) error {
	switch t.Name.Local {
	case "Fault":
		var f faultXML
		if err := d.DecodeElement(&f, &t); err != nil {
			return err
		}
		b.fault = f.fault()
	case "Probe":
		var p struct {
			Types string `xml:"Types"`
		}
		if err := d.DecodeElement(&p, &t); err != nil {
			return err
		}
		b.probe = &p.Types
	case "ProbeMatches":
		var p struct {
			Match []probeMatchXML `xml:"ProbeMatch"`
		}
		if err := d.DecodeElement(&p, &t); err != nil {
			return err
		}
		b.matches = append(b.matches, p.Match...)
	case "GetDeviceInformationResponse":
		b.info = new(DeviceInformation)
		return d.DecodeElement(b.info, &t)
	case "GetSystemDateAndTimeResponse":
		b.clock = new(clockXML)
		return d.DecodeElement(b.clock, &t)
	default:
		return d.Skip()
	}
	return nil
}

func (f *faultXML) fault() *Fault {
	out := &Fault{Code: strings.TrimSpace(f.Code.Value)}
	if out.Code == "" {
		out.Code = strings.TrimSpace(f.FaultCode)
	}
	for s, n := f.Code.Subcode, 0; s != nil && n < maxSubcodes; s, n = s.Subcode, n+1 {
		if v := strings.TrimSpace(s.Value); v != "" {
			out.Subcodes = append(out.Subcodes, v)
		}
	}
	if len(f.Reason) > 0 {
		out.Reason = strings.TrimSpace(f.Reason[0])
	} else {
		out.Reason = strings.TrimSpace(f.FaultString)
	}
	return out
}

// ErrNoReply marks a message that holds neither the expected reply nor a fault.
var ErrNoReply = errors.New("no reply in the SOAP body")

// Reply returns the device-service reply's error: its fault, or ErrNoReply
// wrapped with the body's first element when the operation's answer is absent.
func (m *Message) Reply(op Operation) error {
	if m.Fault != nil {
		return m.Fault
	}
	switch {
	case op == GetDeviceInformation && m.DeviceInformation != nil,
		op == GetSystemDateAndTime && m.SystemDateAndTime != nil:
		return nil
	}
	return fmt.Errorf("%s: body holds %q: %w: %w", op, m.Operation, ErrNoReply, netx.ErrProtocol)
}
