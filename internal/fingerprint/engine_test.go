package fingerprint

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const recogDir = "../../../shared/data/fingerprints/recog"

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRuleExamples checks every example shipped in rules.yaml.
func TestRuleExamples(t *testing.T) {
	var rules []Rule
	if err := yaml.Unmarshal(builtinRules, &rules); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Options{NoRecog: true})
	n := 0
	for _, r := range rules {
		for _, ex := range r.Examples {
			n++
			fp := e.Identify(r.Protocol, ex.Fields)
			if fp == nil {
				t.Errorf("rule %s: example %v identified nothing", r.ID, ex.Fields)
				continue
			}
			got := map[string]string{"vendor": fp.Vendor, "product": fp.Product, "version": fp.Version, "device_type": fp.DeviceType, "cpe": fp.CPE}
			for k, want := range ex.Expect {
				if got[k] != want {
					t.Errorf("rule %s: example %v: %s = %q, want %q (rule %s)", r.ID, ex.Fields, k, got[k], want, fp.Rule)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d rule examples", n)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, bad := range []string{
		"- {id: a, match: {x: '('}, product: p, confidence: 0.5}",
		"- {id: a, match: {x: y}, product: p, confidence: 2}",
		"- {id: a, match: {x: y}, product: p, confidence: 0.5}\n- {id: a, match: {x: y}, product: p, confidence: 0.5}",
		"- {id: a, product: p, confidence: 0.5}",
		"- {id: a, match: {x: y}, product: p, device_type: camera, confidence: 0.5}", // not model's word: ip-camera
		"not: [yaml",
	} {
		if _, err := ParseRules([]byte(bad)); err == nil {
			t.Errorf("ParseRules(%q): want error", bad)
		}
	}
}

func TestConvertCPE(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cpe:/a:openbsd:openssh:9.2p1", "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"},
		{"cpe:/a:lighttpd:lighttpd:1.4.69", "cpe:2.3:a:lighttpd:lighttpd:1.4.69:*:*:*:*:*:*:*"},
		{"cpe:/a:vsftpd_project:vsftpd:{service.version}", "cpe:2.3:a:vsftpd_project:vsftpd:*:*:*:*:*:*:*:*"},
		{"cpe:/o:mikrotik:routeros:-", "cpe:2.3:o:mikrotik:routeros:-:*:*:*:*:*:*:*"},
		{"cpe:/h:d-link:dir-615", "cpe:2.3:h:d-link:dir-615:*:*:*:*:*:*:*:*"},
		{"cpe:/a:acme:mini%20httpd:1.0", "cpe:2.3:a:acme:mini_httpd:1.0:*:*:*:*:*:*:*"},
		{"", ""},
		{"cpe:/a", ""},
	}
	for _, tt := range tests {
		if got := ConvertCPE(tt.in); got != tt.want {
			t.Errorf("ConvertCPE(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIdentifyRealBanners(t *testing.T) {
	e := newEngine(t, Options{})
	tests := []struct {
		proto   string
		fields  map[string]string
		product string
		version string
		cpe     string
	}{
		{"ssh", map[string]string{"ssh.software": "OpenSSH_9.2p1 Debian-2+deb12u3"}, "OpenSSH", "9.2p1", "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"},
		{"http", map[string]string{"http.server": "lighttpd/1.4.69"}, "lighttpd", "1.4.69", "cpe:2.3:a:lighttpd:lighttpd:1.4.69:*:*:*:*:*:*:*"},
		{"ftp", map[string]string{"ftp.banner": "(vsFTPd 3.0.3)"}, "vsftpd", "3.0.3", "cpe:2.3:a:vsftpd_project:vsftpd:3.0.3:*:*:*:*:*:*:*"},
		{"mqtt", map[string]string{"mqtt.broker_version": "mosquitto version 2.0.11"}, "Mosquitto", "2.0.11", "cpe:2.3:a:eclipse:mosquitto:2.0.11:*:*:*:*:*:*:*"},
		// Only Recog knows these.
		{"http", map[string]string{"http.server": "Microsoft-IIS/10.0"}, "IIS", "10.0", "cpe:2.3:a:microsoft:iis:10.0:*:*:*:*:*:*:*"},
		{"ftp", map[string]string{"ftp.banner": "example.com FTP server (MikroTik 6.18) ready"}, "RouterOS", "6.18", "cpe:2.3:o:mikrotik:routeros:6.18:*:*:*:*:*:*:*"},
	}
	for _, tt := range tests {
		fp := e.Identify(tt.proto, tt.fields)
		if fp == nil {
			t.Errorf("%v: no fingerprint", tt.fields)
			continue
		}
		if fp.Product != tt.product || fp.Version != tt.version || fp.CPE != tt.cpe {
			t.Errorf("%v: got %q %q %q (%s), want %q %q %q", tt.fields, fp.Product, fp.Version, fp.CPE, fp.Rule, tt.product, tt.version, tt.cpe)
		}
	}
	if fp := e.Identify("http", map[string]string{"http.server": "zzz-unknown"}); fp != nil {
		t.Errorf("unknown server identified as %+v", fp)
	}
}

type xmlDB struct {
	Fingerprints []struct {
		Examples []struct {
			Text  string     `xml:",chardata"`
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"example"`
	} `xml:"fingerprint"`
}

// TestRecogExamples runs the <example> strings of the newer Recog set from
// ../shared through the engine loaded from that directory and checks the
// versions it extracts.
func TestRecogExamples(t *testing.T) {
	if _, err := os.Stat(recogDir); err != nil {
		t.Skip("shared Recog data not present")
	}
	e := newEngine(t, Options{RecogDir: recogDir})
	set, took, err := e.Recog()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recog load from %s: %v", recogDir, took)
	for field, db := range recogDBs {
		b, err := os.ReadFile(filepath.Join(recogDir, db))
		if err != nil {
			t.Fatal(err)
		}
		var d xmlDB
		if err := xml.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		total, ok := 0, 0
		for _, f := range d.Fingerprints {
			for _, ex := range f.Examples {
				want := ""
				skip := false
				for _, a := range ex.Attrs {
					switch a.Name.Local {
					case "_encoding":
						skip = true
					case "service.version":
						want = a.Value
					}
				}
				if skip || want == "" {
					continue
				}
				total++
				fp := matchRecog(set, db, strings.TrimSpace(ex.Text))
				if fp != nil && fp.Version == want {
					ok++
				}
			}
		}
		// Recog's examples test each fingerprint in isolation; first-match over
		// the whole file agrees on almost all of them.
		if total > 0 && float64(ok) < 0.9*float64(total) {
			t.Errorf("%s (%s): %d of %d example versions extracted", db, field, ok, total)
		}
	}
}

func BenchmarkRecogLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		e := newEngine(b, Options{})
		if _, _, err := e.Recog(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdentify(b *testing.B) {
	e := newEngine(b, Options{})
	e.Recog()
	cases := map[string]map[string]string{
		"rule=openssh":   {"ssh.software": "OpenSSH_9.2p1 Debian-2+deb12u3"},
		"recog=iis":      {"http.server": "Microsoft-IIS/10.0", "http.title": "IIS Windows Server"},
		"nomatch=server": {"http.server": "zzz", "http.title": "nothing"},
	}
	for name, f := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Identify("http", f)
			}
		})
	}
}

func FuzzIdentify(f *testing.F) {
	e := newEngine(f, Options{NoRecog: true})
	f.Add("ssh.software", "OpenSSH_9.2p1")
	f.Add("upnp.manufacturer", "TP-Link")
	f.Fuzz(func(t *testing.T, field, value string) {
		e.Identify("", map[string]string{field: value, "upnp.model_name": value, "modbus.product_code": value})
		ConvertCPE(value)
	})
}
