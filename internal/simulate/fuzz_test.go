package simulate

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/wire/onvif"

	wiretelnet "iotwatch/internal/wire/telnet"
)

// fuzzService is a device service for handler fuzzing, without sockets.
func fuzzService(proto string) *deviceService {
	ps, err := BuiltinProfiles()
	if err != nil {
		panic(err)
	}
	for i := range ps {
		if sp := ps[i].service(proto); sp != nil {
			d := &device{addr: netip.MustParseAddr("127.20.0.1"), prof: &ps[i], serial: "X1", hostname: "h", uuid: "u"}
			s := &deviceService{dev: d, sp: sp, port: 1, cred: Credential{Username: "admin", Password: "public"}, kind: "default-credential", realm: sp.Realm}
			d.services = []*deviceService{s}
			return s
		}
	}
	panic("no profile for " + proto)
}

func FuzzTelnetReader(f *testing.F) {
	f.Add([]byte("root\r\n"))
	f.Add([]byte{wiretelnet.IAC, wiretelnet.WILL, 1, 'a', wiretelnet.IAC, wiretelnet.IAC, '\r', 0})
	f.Add([]byte{wiretelnet.IAC, wiretelnet.SB, 24, 0, 'x', wiretelnet.IAC, wiretelnet.SE, 'u', '\n'})
	f.Add([]byte{wiretelnet.IAC, wiretelnet.SB, 24})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := newTelnetReader(bytes.NewReader(b))
		for range 100 {
			line, err := tr.readLine()
			if err != nil {
				return
			}
			if len(line) > maxLine {
				t.Fatalf("line of %d bytes", len(line))
			}
		}
	})
}

func FuzzDigestHeader(f *testing.F) {
	f.Add(`Digest username="admin", realm="IP Camera(C6269)", nonce="abc", uri="/", qop=auth, nc=00000001, cnonce="x", response="0123"`)
	f.Add(`Digest realm="a\"b", nonce=x`)
	f.Add(`Digest `)
	f.Add(`digest a="`)
	s := fuzzService("http")
	f.Fuzz(func(t *testing.T, h string) {
		parseDigest(h)
		if digestOK(h, "GET", s) && !bytes.Contains([]byte(h), []byte("response")) {
			t.Fatalf("accepted %q", h)
		}
	})
}

func FuzzSNMP(f *testing.F) {
	// GET sysDescr.0, v2c, community public (as sent by net-snmp snmpget).
	f.Add([]byte{0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c', 0xa0, 0x1c, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78,
		0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01})
	f.Add([]byte{})
	s := fuzzService("snmp")
	f.Fuzz(func(t *testing.T, b []byte) {
		answerSNMP(s, b)
	})
}

func FuzzSSDP(f *testing.F) {
	f.Add([]byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"))
	f.Add([]byte("NOTIFY * HTTP/1.1\r\n\r\n"))
	s := fuzzService("ssdp")
	f.Fuzz(func(t *testing.T, b []byte) {
		answerSSDP(s, b)
	})
}

// FuzzONVIF feeds datagrams to the WS-Discovery responder and bodies to the
// device service: every answer must parse, relate to the probe it answers,
// and no body may get the device information without the credential.
func FuzzONVIF(f *testing.F) {
	f.Add(onvif.Probe("uuid:1"))
	f.Add(onvif.Request(onvif.GetDeviceInformation, nil))
	f.Add(onvif.Request(onvif.GetSystemDateAndTime, nil))
	tok := onvif.NewToken("admin", "wrong", []byte("nonce"), time.Now())
	f.Add(onvif.Request(onvif.GetDeviceInformation, &tok))
	s := fuzzService("onvif")
	s.dev.services = append(s.dev.services, &deviceService{dev: s.dev, sp: &ServiceProfile{Protocol: "http"}, port: 80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if resp := answerONVIF(s, b); resp != nil {
			req, _ := onvif.Parse(b)
			m, err := onvif.Parse(resp)
			if err != nil || len(m.ProbeMatches) != 1 || m.RelatesTo != req.MessageID {
				t.Fatalf("answer %q: %+v %v", resp, m, err)
			}
		}
		w := httptest.NewRecorder()
		serveONVIF(w, httptest.NewRequest(http.MethodPost, onvif.DevicePath, bytes.NewReader(b)), s)
		if m, err := onvif.Parse(w.Body.Bytes()); err == nil && m.DeviceInformation != nil {
			t.Fatalf("device information without the credential for %q", b)
		}
	})
}

func FuzzCoAP(f *testing.F) {
	f.Add([]byte{0x42, 0x01, 0x12, 0x34, 0xbe, 0xef, 0xbb, '.', 'w', 'e', 'l', 'l', '-', 'k', 'n', 'o', 'w', 'n', 0x04, 'c', 'o', 'r', 'e'})
	f.Add([]byte{0x40, 0x00, 0x00, 0x01})
	f.Add([]byte{0x50, 0x01, 0x00, 0x01, 0xdd, 0x01})
	f.Add([]byte{0x40, 0x01, 0x00, 0x01, 0xe0, 0xff, 0xff, 0xff, 0x01})
	s := fuzzService("coap")
	f.Fuzz(func(t *testing.T, b []byte) {
		if resp := answerCoAP(s, b); resp != nil {
			if _, err := parseCoAP(resp); err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
		}
	})
}

func FuzzModbus(f *testing.F) {
	f.Add([]byte{0, 7, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0})
	f.Add([]byte{0, 7, 0, 0, 0, 5, 1, 0x2B, 0x0E, 4, 9})
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 1})
	s := fuzzService("modbus")
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for range 10 {
			fr, err := readModbusFrame(r)
			if err != nil {
				return
			}
			resp := answerModbus(s, fr.PDU)
			if len(resp) > 253 {
				t.Fatalf("response PDU of %d bytes", len(resp))
			}
		}
	})
}

func FuzzParseProfiles(f *testing.F) {
	for _, n := range []string{"good.yaml", "bad-syntax.yaml", "unknown-field.yaml", "wrong-type.yaml"} {
		b, err := testdataFS.ReadFile("testdata/profiles/" + n)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseProfiles("fuzz.yaml", b)
	})
}
