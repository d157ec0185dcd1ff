package onvif

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/netx"
)

var update = flag.Bool("update", false, "rewrite the encoder's golden files in testdata/")

// TestDigest checks PasswordDigest against the worked example of the ONVIF
// Application Programmer's Guide (§6.1.1.3): nonce LKqI6G/AikKCQrN0zqZFlg==,
// created 2010-09-16T07:50:45Z, password "userpassword".
func TestDigest(t *testing.T) {
	tok := UsernameToken{Username: "user", Type: PasswordDigest, Nonce: "LKqI6G/AikKCQrN0zqZFlg==",
		Created: "2010-09-16T07:50:45Z", Password: "tuOSpGlFlIXsozq4HFNeeGeFLEI="}
	if !tok.Verify("userpassword") {
		t.Errorf("the guide's digest does not verify")
	}
	if tok.Verify("userpassword2") {
		t.Errorf("a wrong password verifies")
	}
	bad := tok
	bad.Nonce = "%%%"
	if bad.Verify("userpassword") {
		t.Errorf("a token with a non-Base64 nonce verifies")
	}
	text := UsernameToken{Username: "user", Type: PasswordText, Password: "pw"}
	if !text.Verify("pw") || text.Verify("pw2") {
		t.Errorf("PasswordText verification wrong")
	}
}

// TestEncoders keeps each encoder's output as a golden file and parses it
// back: what the prober sends and what the simulator answers must be read
// by the same parser as a real device's messages.
func TestEncoders(t *testing.T) {
	clock := time.Date(2026, 12, 6, 18, 30, 5, 0, time.UTC)
	tok := NewToken("admin", "12345", []byte("0123456789abcdef"), clock)
	tests := []struct {
		name  string
		b     []byte
		check func(m *Message) bool
	}{
		{"probe", Probe("uuid:0a6dc791-2be6-4991-9af1-454778a1917a"), func(m *Message) bool {
			return m.Action == ActionProbe && m.MessageID == "uuid:0a6dc791-2be6-4991-9af1-454778a1917a" &&
				m.Operation == "Probe" && slices.Equal(m.ProbeTypes, []string{"dn:NetworkVideoTransmitter"})
		}},
		{"probematches", ProbeMatchesReply("uuid:1", "uuid:0a6d", ProbeMatch{Address: "urn:uuid:98190dc2",
			Types: []string{"dn:NetworkVideoTransmitter", "tds:Device"}, Scopes: []string{"onvif://www.onvif.org/hardware/A%26B"},
			XAddrs: []string{"http://127.0.0.1:8080/onvif/device_service"}, MetadataVersion: "1"}), func(m *Message) bool {
			return m.RelatesTo == "uuid:0a6d" && m.Action == ActionProbeMatches && len(m.ProbeMatches) == 1 &&
				Scope(m.ProbeMatches[0].Scopes, "hardware") == "A&B" && m.ProbeMatches[0].XAddrs[0] == "http://127.0.0.1:8080/onvif/device_service"
		}},
		{"getdeviceinformation-anonymous", Request(GetDeviceInformation, nil), func(m *Message) bool {
			return m.Operation == "GetDeviceInformation" && m.Token == nil
		}},
		{"getdeviceinformation-digest", Request(GetDeviceInformation, &tok), func(m *Message) bool {
			ct, err := m.Token.CreatedTime()
			return m.Operation == "GetDeviceInformation" && m.Token.Username == "admin" &&
				m.Token.Created == "2026-12-06T18:30:05.000Z" && err == nil && ct.Equal(clock) &&
				m.Token.Verify("12345") && !m.Token.Verify("123456")
		}},
		{"getsystemdateandtime", Request(GetSystemDateAndTime, nil), func(m *Message) bool {
			return m.Operation == "GetSystemDateAndTime" && m.SOAP == 12
		}},
		{"deviceinformation", DeviceInformationReply(DeviceInformation{Manufacturer: "UNIVIEW", Model: "IPC322LB-SF28-A",
			FirmwareVersion: "IPC_G6103-B0004P03D1805", SerialNumber: "210235C3EN3181000123", HardwareID: "DV1"}), func(m *Message) bool {
			d := m.DeviceInformation
			return m.Reply(GetDeviceInformation) == nil && d.Manufacturer == "UNIVIEW" && d.Model == "IPC322LB-SF28-A" &&
				d.FirmwareVersion == "IPC_G6103-B0004P03D1805" && d.SerialNumber == "210235C3EN3181000123" && d.HardwareID == "DV1"
		}},
		{"systemdateandtime", SystemDateAndTimeReply(SystemDateAndTime{DateTimeType: "Manual", TZ: "CST-8", UTC: clock}), func(m *Message) bool {
			return m.Reply(GetSystemDateAndTime) == nil && m.SystemDateAndTime.UTC.Equal(clock) && m.SystemDateAndTime.TZ == "CST-8"
		}},
		{"fault-notauthorized", NotAuthorizedReply(), func(m *Message) bool {
			var f *Fault
			return errors.As(m.Reply(GetDeviceInformation), &f) && f.NotAuthorized() && f.Reason == "Sender not Authorized"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden := filepath.Join("testdata", "encoded-"+tt.name+".xml")
			if *update {
				if err := os.WriteFile(golden, tt.b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(tt.b, want) {
				t.Errorf("encoding changed:\n%s\nwant\n%s", tt.b, want)
			}
			m, err := Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(m) {
				t.Errorf("parsed %+v", m)
			}
		})
	}
}

// TestSpecShapes parses messages hand-written in the shape of the
// specifications' examples, with other prefixes and whitespace than ours.
func TestSpecShapes(t *testing.T) {
	read := func(name string) *Message {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	m := read("spec-probematches.xml")
	if m.Action != ActionProbeMatches || m.RelatesTo != "uuid:0a6dc791-2be6-4991-9af1-454778a1917a" || len(m.ProbeMatches) != 1 {
		t.Fatalf("probematches %+v", m)
	}
	pm := m.ProbeMatches[0]
	if pm.Address != "urn:uuid:98190dc2-0890-4ef8-ac9a-5940995e6119" || !HasType(pm.Types, "NetworkVideoTransmitter") ||
		!HasType(pm.Types, "Device") || HasType(pm.Types, "Printer") || len(pm.Scopes) != 5 || pm.MetadataVersion != "75965" {
		t.Errorf("match %+v", pm)
	}
	if h, n, l := Scope(pm.Scopes, "hardware"), Scope(pm.Scopes, "NAME"), Scope(pm.Scopes, "location"); h != "IPC-Example X1" || n != "Example Camera" || l != "country/nowhere" {
		t.Errorf("scopes hardware %q name %q location %q", h, n, l)
	}
	if u, err := DeviceURL(pm.XAddrs, netip.MustParseAddr("2001:db8::10")); err != nil || u != "http://[2001:db8::10]/onvif/device_service" {
		t.Errorf("DeviceURL v6 = %q %v", u, err)
	}

	for _, name := range []string{"spec-fault-soap12.xml", "spec-fault-soap11.xml"} {
		var f *Fault
		m := read(name)
		if !errors.As(m.Reply(GetDeviceInformation), &f) || !f.NotAuthorized() || f.Reason == "" {
			t.Errorf("%s: fault %+v", name, m.Fault)
		}
	}
	if m := read("spec-fault-soap11.xml"); m.SOAP != 11 || m.Fault.Code != "wsse:FailedAuthentication" {
		t.Errorf("soap 1.1 fault %+v", m.Fault)
	}
	m = read("spec-deviceinformation.xml")
	if d := m.DeviceInformation; m.Reply(GetDeviceInformation) != nil || d.Manufacturer != "Example Maker" || d.Model != "X1-2MP" ||
		d.FirmwareVersion != "V1.2.3 build 240101" || d.HardwareID != "88" {
		t.Errorf("device information %+v", m.DeviceInformation)
	}
	m = read("spec-systemdateandtime.xml")
	if s := m.SystemDateAndTime; s == nil || !s.UTC.Equal(time.Date(2010, 9, 16, 7, 50, 45, 0, time.UTC)) || s.DateTimeType != "NTP" || s.TZ != "CST-8:00:00" {
		t.Errorf("date and time %+v", m.SystemDateAndTime)
	}
	// A reply that answers another operation is no answer.
	if err := m.Reply(GetDeviceInformation); !errors.Is(err, ErrNoReply) || !errors.Is(err, netx.ErrProtocol) {
		t.Errorf("wrong operation: %v", err)
	}
}

// captures are public replies of real devices that the shared data may
// hold (never committed here), with what must be read from each; a file
// not listed must still parse to something.
var captures = map[string]func(m *Message) bool{
	// hammeraj/onvif (BSD-3-Clause) test/devices/fixtures/get_system_date_and_time.xml:
	// an Axis camera's GetSystemDateAndTimeResponse (gSOAP, Axis namespaces).
	"hammeraj-get_system_date_and_time.xml": func(m *Message) bool {
		s := m.SystemDateAndTime
		return s != nil && s.UTC.Equal(time.Date(2024, 7, 9, 19, 49, 6, 0, time.UTC)) && s.TZ == "BRT3" &&
			s.DateTimeType == "Manual" && s.DaylightSavings
	},
	// agsh/onvif (MIT) test/serverMockup/Probe.xml: a gSOAP camera's
	// ProbeMatches with its AppSequence, RelatesTo and XAddrs replaced by
	// placeholders.
	"agsh-Probe.xml": func(m *Message) bool {
		return m.Action == ActionProbeMatches && m.RelatesTo != "" && len(m.ProbeMatches) == 1 && slices.Equal(m.ProbeMatches[0].XAddrs, []string{"SERVICE_URI"}) &&
			HasType(m.ProbeMatches[0].Types, "NetworkVideoTransmitter") &&
			Scope(m.ProbeMatches[0].Scopes, "hardware") == "HD_PREDATOR" && Scope(m.ProbeMatches[0].Scopes, "name") == "PREDATOR"
	},
}

// TestCapture parses public captures of real devices' replies when the
// shared data holds them (../shared/data/onvif), and skips otherwise.
func TestCapture(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "data", "onvif")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("no ONVIF captures in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if check, ok := captures[filepath.Base(f)]; ok && !check(m) {
			t.Errorf("%s: read %+v", f, m)
		}
		if len(m.ProbeMatches) == 0 && m.DeviceInformation == nil && m.SystemDateAndTime == nil && m.Fault == nil {
			t.Errorf("%s: nothing read (%q)", f, m.Operation)
		}
	}
}

func TestRejects(t *testing.T) {
	for name, b := range map[string]string{
		"empty":     "",
		"http":      "HTTP/1.1 400 Bad Request\r\n\r\n",
		"html":      "<html><body>401</body></html>",
		"no body":   `<s:Envelope xmlns:s="` + NSSOAP12 + `"><s:Header/></s:Envelope>`,
		"other ns":  `<s:Envelope xmlns:s="urn:x"><s:Body/></s:Envelope>`,
		"entity":    `<!DOCTYPE s [<!ENTITY x "y">]><s:Envelope xmlns:s="` + NSSOAP12 + `"><s:Body><a>&x;</a></s:Body></s:Envelope>`,
		"truncated": string(Probe("uuid:1")[:200]),
		"oversize":  `<s:Envelope xmlns:s="` + NSSOAP12 + `"><s:Body>` + strings.Repeat(" ", MaxMessage) + `</s:Body></s:Envelope>`,
		"unclosed":  `<s:Envelope xmlns:s="` + NSSOAP12 + `"><s:Body><tds:GetDeviceInformationResponse>`,
	} {
		if _, err := Parse([]byte(b)); !errors.Is(err, ErrNotONVIF) {
			t.Errorf("%s: err %v, want ErrNotONVIF", name, err)
		}
	}
	// An impossible clock is no clock, not an error.
	b := bytes.Replace(SystemDateAndTimeReply(SystemDateAndTime{UTC: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}),
		[]byte("<tt:Month>1<"), []byte("<tt:Month>13<"), 1)
	m, err := Parse(b)
	if err != nil || m.SystemDateAndTime == nil || !m.SystemDateAndTime.UTC.IsZero() {
		t.Errorf("month 13: %+v %v", m, err)
	}
}

func TestDeviceURL(t *testing.T) {
	a := netip.MustParseAddr("127.0.0.1")
	for _, tt := range []struct {
		xaddrs []string
		want   string
	}{
		{[]string{"http://127.0.0.1/onvif/device_service"}, "http://127.0.0.1/onvif/device_service"},
		{[]string{"http://192.0.2.1/onvif/device_service", "http://127.0.0.1:8080/onvif/device_service"}, "http://127.0.0.1:8080/onvif/device_service"},
		{[]string{"http://192.0.2.1/onvif/device_service"}, ""},
		{[]string{"http://localhost/onvif/device_service"}, ""}, // never resolved
		{[]string{"https://127.0.0.1/onvif/device_service"}, ""},
		{[]string{"http://user:pw@127.0.0.1/onvif/device_service"}, ""},
		{[]string{"%zz"}, ""},
		{nil, ""},
	} {
		got, err := DeviceURL(tt.xaddrs, a)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("DeviceURL(%q) = %q, %v; want %q", tt.xaddrs, got, err, tt.want)
		}
	}
}

func TestOnlyReadOperations(t *testing.T) {
	for _, op := range []Operation{GetSystemDateAndTime, GetDeviceInformation} {
		if !strings.HasPrefix(string(op), "Get") {
			t.Errorf("operation %s is not a read", op)
		}
		if m, err := Parse(Request(op, nil)); err != nil || m.Operation != string(op) {
			t.Errorf("%s: %+v %v", op, m, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<s:Envelope xmlns:s="` + NSSOAP12 + `"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>a</s:Value><s:Subcode><s:Value>b</s:Value></s:Subcode></s:Subcode></s:Code></s:Fault></s:Body></s:Envelope>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrNotONVIF) {
				t.Fatalf("error %v is not ErrNotONVIF", err)
			}
			return
		}
		if m.Token != nil {
			m.Token.Verify("x")
			if _, err := m.Token.CreatedTime(); err == nil && m.Token.Created == "" {
				t.Fatal("an empty Created parsed as a time")
			}
		}
		for _, pm := range m.ProbeMatches {
			Scope(pm.Scopes, "hardware")
			DeviceURL(pm.XAddrs, netip.MustParseAddr("127.0.0.1"))
		}
		if m.Fault != nil {
			_ = m.Fault.NotAuthorized()
			_ = m.Fault.Error()
		}
		_ = m.Reply(GetDeviceInformation)
	})
}
