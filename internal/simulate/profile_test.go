package simulate

import (
	"embed"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/firmware/secrets"
	"iotwatch/internal/model"
)

func TestParseProfilesErrors(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error: file:line: message
	}{
		{"bad-syntax.yaml", "bad-syntax.yaml:4: "},
		{"unknown-field.yaml", `unknown-field.yaml:10: unknown field "bannner" in service`},
		{"missing-vendor.yaml", "missing-vendor.yaml:2: profile \"acme-x1\": vendor, model, firmware and device_type are required"},
		{"bad-cpe.yaml", `bad-cpe.yaml:2: profile "acme-x1": cpe "cpe:/o:acme:x1_firmware:1.0" is not a CPE 2.3`},
		{"unknown-protocol.yaml", `unknown-protocol.yaml:11: profile "acme-x1": service 1: unknown protocol "gopher"`},
		{"http-no-auth.yaml", `http-no-auth.yaml:9: profile "acme-x1": service http: auth ""`},
		{"wrong-type.yaml", "wrong-type.yaml:8: cannot unmarshal !!str `many` into int"},
		{"no-default.yaml", "no-default.yaml:9: profile \"acme-x1\": service ssh: login service needs a default credential"},
		{"empty.yaml", "empty.yaml:1: no profiles"},
		{"bad-update.yaml", `bad-update.yaml:2: profile "acme-x1": update 1.1: uptake [0.5 0.4]: want shares within 0..1, never decreasing`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "profiles", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseProfiles(tt.file, data)
			if err == nil {
				t.Fatalf("ParseProfiles(%s) = nil error, want %q", tt.file, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseProfilesGood(t *testing.T) {
	data, err := os.ReadFile("testdata/profiles/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ParseProfiles("good.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Vendor != "Acme" || ps[0].Services[0].Default.Password != "xc3511" {
		t.Errorf("got %+v", ps)
	}
}

// TestBuiltinProfiles checks the embedded profiles: they load, cover every
// device type and protocol the simulator promises, and every weak default
// is a known vendor default or Mirai-list credential, or a password only
// the firmware cracker's list holds (a default proven from firmware).
func TestBuiltinProfiles(t *testing.T) {
	ps, err := BuiltinProfiles()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	protos := map[string]bool{}
	for _, p := range ps {
		types[p.DeviceType] = true
		if !model.KnownDeviceType(p.DeviceType) || model.GenericDeviceType(p.DeviceType) {
			t.Errorf("%s: device type %q is not one of model's specific device types", p.ID, p.DeviceType)
		}
		for _, s := range p.Services {
			protos[s.Protocol] = true
			if s.Default != nil && !knownDefault(t, s.Default.Username, s.Default.Password) {
				t.Errorf("%s %s: default %s/%s is in neither defaultcreds.csv nor the Mirai list", p.ID, s.Protocol, s.Default.Username, s.Default.Password)
			}
		}
	}
	for _, want := range []string{"ip-camera", "dvr", "router", "smart-plug", "printer", "nas", "thermostat", "industrial-gateway"} {
		if !types[want] {
			t.Errorf("no profile of device type %s", want)
		}
	}
	for p := range knownProtocols {
		if !protos[p] && !customOnly[p] {
			t.Errorf("no profile serves %s", p)
		}
	}
}

// customOnly are protocols the simulator serves for profiles users write
// (simulate --profiles) but no built-in profile offers: the built-in fleet
// is the demo's baseline, and adding a service to it changes the demo's
// counts.
var customOnly = map[string]bool{model.ProtoDNS: true}

// miraiCreds is an excerpt of the Mirai botnet's telnet credential list.
var miraiCreds = map[string]bool{
	"root:xc3511": true, "root:vizxv": true, "root:admin": true, "admin:admin": true, "root:888888": true,
	"root:xmhdipc": true, "root:default": true, "root:juantech": true, "root:123456": true, "root:54321": true,
	"support:support": true, "root:": true, "admin:password": true, "root:root": true, "root:12345": true,
	"user:user": true, "admin:": true, "root:pass": true, "admin:admin1234": true, "root:1111": true,
	"admin:smcadmin": true, "admin:1111": true, "root:666666": true, "root:password": true, "root:1234": true,
	"admin:1234": true, "admin:12345": true, "admin:54321": true, "admin:123456": true, "admin:pass": true,
}

var defaultCreds map[string]bool

func knownDefault(t *testing.T, user, pass string) bool {
	if miraiCreds[user+":"+pass] || loadDefaultCreds(t)[user+":"+pass] {
		return true
	}
	// A default only firmware evidence proves (the Hikvision web password):
	// in the firmware cracker's word list, which cracks it from the image,
	// and for no user in the DefaultCreds sheet.
	if !slices.Contains(secrets.DefaultWords(), pass) {
		return false
	}
	for k := range loadDefaultCreds(t) {
		if strings.HasSuffix(k, ":"+pass) {
			return false
		}
	}
	return true
}

// loadDefaultCreds reads the DefaultCreds sheet's user:pass pairs once.
func loadDefaultCreds(t *testing.T) map[string]bool {
	if defaultCreds != nil {
		return defaultCreds
	}
	b, err := os.ReadFile("../../../shared/data/creds/defaultcreds.csv")
	if err != nil {
		t.Skipf("defaultcreds.csv not available: %v", err)
	}
	defaultCreds = map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 3 {
			continue
		}
		u, p := f[len(f)-2], f[len(f)-1]
		u, p = strings.ReplaceAll(u, "<blank>", ""), strings.ReplaceAll(p, "<blank>", "")
		defaultCreds[u+":"+p] = true
	}
	return defaultCreds
}

//go:embed testdata/profiles/*.yaml
var testdataFS embed.FS
