package mud

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/declare"
	"iotwatch/internal/flow"
	"iotwatch/internal/model"
)

const fixtures = "../../../../shared/data/mud"

func load(t testing.TB, name string) *File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func TestParseFixtures(t *testing.T) {
	cases := []struct {
		file    string
		url     string
		version int
		legacy  bool
		from    int
		name    string
	}{
		{"lightbulb2000-ietf-draft.mud.json", "https://lighting.example.com/lightbulb2000", 1, false, 1, "test.example.com"},
		{"lightbulb2000.mud.json", "https://bms.example.com/.well-known/mud/lightbulb2000", 1, true, 1, "service.bms.example.com"},
		{"nest-thermostat.mud.json", "https://mplaunchpad.com/.well-known/mud/v1/nest", 0, true, 6, "nest.com"},
	}
	for _, tc := range cases {
		f := load(t, tc.file)
		if f.URL != tc.url || f.Version != tc.version || f.Legacy != tc.legacy || len(f.FromDevice) != tc.from || f.FromDevice[0].DNSName != tc.name {
			t.Errorf("%s: url %q version %d legacy %v from %d name %q", tc.file, f.URL, f.Version, f.Legacy, len(f.FromDevice), f.FromDevice[0].DNSName)
		}
	}
}

func TestAllows(t *testing.T) {
	bulb := load(t, "lightbulb2000-ietf-draft.mud.json")
	nest := load(t, "nest-thermostat.mud.json")
	peer := netip.MustParseAddr("93.184.216.34")
	cases := []struct {
		f    *File
		fl   Flow
		want bool
	}{
		{bulb, Flow{Peer: peer, Names: []string{"test.example.com"}, Proto: 6, Port: 443, Outbound: true}, true},
		{bulb, Flow{Peer: peer, Names: []string{"test.example.com"}, Proto: 6, Port: 443, Outbound: false}, true},
		{bulb, Flow{Peer: peer, Names: []string{"test.example.com"}, Proto: 6, Port: 80, Outbound: true}, false},
		{bulb, Flow{Peer: peer, Names: []string{"tracker.example.net"}, Proto: 6, Port: 443, Outbound: true}, false},
		{bulb, Flow{Peer: peer, Proto: 17, Port: 443, Outbound: true}, false},
		{nest, Flow{Peer: peer, Names: []string{"nest.com"}, Proto: 6, Port: 9543, Outbound: true}, true},
		{nest, Flow{Peer: peer, Names: []string{"nest.com"}, Proto: 6, Port: 443, Outbound: true}, false},
		{nest, Flow{Peer: netip.MustParseAddr("192.168.1.2"), Proto: 17, Port: 5353, Outbound: true, PeerLocal: true}, true}, // my-controller/same-manufacturer
		{nest, Flow{Peer: peer, Proto: 17, Port: 5353, Outbound: true}, false},
	}
	for i, tc := range cases {
		if got, ace := tc.f.Allows(tc.fl); got != tc.want {
			t.Errorf("case %d: Allows(%+v) = %v (%s), want %v", i, tc.fl, got, ace, tc.want)
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, in := range []string{`{}`, `not json`, `{"ietf-mud:mud":{}}`,
		`{"ietf-mud:mud":{"mud-url":"https://x","from-device-policy":{"access-lists":{"access-list":[{"name":"nope"}]}}}}`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%s) accepted", in)
		} else if in != "not json" && !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%s) = %v, want ErrFormat", in, err)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(fixtures, "lightbulb2000-ietf-draft.mud.json"))
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(filepath.Join(dir, "bulb.json"), src, 0o644)
	path := writeMaker(t, dir, "mud_file: bulb.json\ndata:\n  recipients:\n    - {name: Example Inc., country: US, hosts: [example.com]}\n")
	d, err := Load([]string{"192.168.1.20=" + path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.HomeCountry = "DE"
	dev := netip.MustParseAddr("192.168.1.20")
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	uses := []flow.PeerUse{
		// declared: test.example.com:443 in US
		{Device: dev, Peer: netip.MustParseAddr("93.184.216.34"), Proto: 6, Port: 443, Outbound: true, Names: []string{"test.example.com"}, Country: "US", Bytes: 100, Flows: 1, Last: now},
		// undeclared flow to a tracker in CN
		{Device: dev, Peer: netip.MustParseAddr("1.2.3.4"), Proto: 6, Port: 443, Outbound: true, Names: []string{"t.tracker.cn"}, Country: "CN", Bytes: 5000, Flows: 3, Last: now},
		// undeclared device: only the home-country check applies
		{Device: netip.MustParseAddr("192.168.1.30"), Peer: netip.MustParseAddr("8.8.8.8"), Proto: 17, Port: 53, Outbound: true, Country: "US", Bytes: 70, Flows: 1, Last: now},
		// local peer: never foreign
		{Device: dev, Peer: netip.MustParseAddr("192.168.1.1"), Proto: 17, Port: 53, Outbound: true, Bytes: 70, Flows: 1, Last: now},
	}
	fs := Check(uses, d)
	var got []string
	for _, f := range fs {
		got = append(got, f.Subject+" "+f.Kind+" "+f.Severity.String())
		if len(f.Evidence) == 0 || f.Title == "" {
			t.Errorf("finding without evidence or title: %+v", f)
		}
	}
	want := []string{
		"192.168.1.20 mud-undeclared-flow medium",  // 1.2.3.4:443
		"192.168.1.20 mud-undeclared-flow medium",  // 192.168.1.1:53 (local, but not in the MUD)
		"192.168.1.20 undeclared-country high",     // CN
		"192.168.1.20 undeclared-recipient medium", // t.tracker.cn
		"192.168.1.30 foreign-destination low",     // US from a DE home
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_ = model.SeverityHigh
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"lightbulb2000-ietf-draft.mud.json", "lightbulb2000.mud.json", "nest-thermostat.mud.json"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil {
			m.Allows(Flow{Peer: netip.MustParseAddr("1.2.3.4"), Proto: 6, Port: 443, Outbound: true})
		}
	})
}

// TestExpected: outbound traffic the maker declared by name (MUD DNS-name
// entry, declared recipient domain) is expected; other peers, ports,
// undeclared devices and owner-only recipients are not.
func TestExpected(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(fixtures, "nest-thermostat.mud.json"))
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(filepath.Join(dir, "nest.json"), src, 0o644)
	path := writeMaker(t, dir, `mud_file: nest.json
heartbeats:
  - {host: time.vendor2.example, port: 123, protocol: udp, interval_seconds: 3600}
data:
  recipients:
    - {name: Vendor, country: US, hosts: [vendor.example]}
`)
	d, err := Load([]string{"10.0.0.0/24=" + path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, peer := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("52.1.2.3")
	tests := []struct {
		name  string
		dev   netip.Addr
		names []string
		port  uint16
		want  bool
	}{
		{"mud dns name and port", dev, []string{"nest.com"}, 9543, true},
		{"mud name, other port", dev, []string{"nest.com"}, 4444, false},
		{"declared recipient domain", dev, []string{"api.vendor.example"}, 8883, true},
		{"unknown name", dev, []string{"c2.evil.example"}, 9543, false},
		{"no names", dev, nil, 9543, false},
		{"undeclared device", netip.MustParseAddr("10.0.1.7"), []string{"nest.com"}, 9543, false},
		{"declared heartbeat", dev, []string{"ntp.time.vendor2.example"}, 123, true},
		{"heartbeat host, other port", dev, []string{"ntp.time.vendor2.example"}, 443, false},
	}
	for _, tc := range tests {
		proto := uint8(6)
		if tc.port == 123 {
			proto = 17
		}
		got, why := d.Expected(tc.dev, peer, tc.names, proto, tc.port)
		if got != tc.want || got != (why != "") {
			t.Errorf("%s: Expected = %v (%q), want %v", tc.name, got, why, tc.want)
		}
	}
	var none *Declarations
	if ok, _ := none.Expected(dev, peer, []string{"nest.com"}, 6, 9543); ok {
		t.Error("nil declarations expect traffic")
	}
}

// writeMaker writes a maker declaration with extra YAML fields and returns
// its path.
func writeMaker(t *testing.T, dir, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "maker.yaml")
	doc := "schema_version: \"1\"\nproduct: {model: LB-2000}\nmanufacturer: {name: Bulbs Ltd., country: GB}\n" + extra
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoad: the example maker declaration binds to the inventory's devices of
// its model and yields findings for data sent elsewhere; the retired flows-only
// format and a declaration matching no device are refused with a clear error.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	example := filepath.Join(dir, "example.yaml")
	os.WriteFile(example, declare.Example, 0o644)
	md, err := declare.Load(example)
	if err != nil {
		t.Fatal(err)
	}
	cam := netip.MustParseAddr("192.168.7.9")
	assets := []model.Asset{{IP: cam, Product: md.Product.Model}, {IP: netip.MustParseAddr("192.168.7.10"), Product: "other"}}
	d, err := Load([]string{example}, assets)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Devices) != 1 || d.Devices[0].Device != cam.String() {
		t.Fatalf("bound to %+v, want only %s", d.Devices, cam)
	}
	uses := []flow.PeerUse{{Device: cam, Peer: netip.MustParseAddr("1.2.3.4"), Proto: 6, Port: 443, Outbound: true,
		Names: []string{"t.tracker.cn"}, Country: "CN", Bytes: 5000, Flows: 3}}
	var kinds []string
	for _, f := range Check(uses, d) {
		kinds = append(kinds, f.Kind)
	}
	if strings.Join(kinds, ",") != KindUndeclaredCountry+","+KindUndeclaredRecipient {
		t.Errorf("findings %v, want undeclared country and recipient", kinds)
	}

	old := filepath.Join(dir, "old.yaml")
	os.WriteFile(old, []byte("home_country: DE\ndevices:\n  - device: 10.0.0.1\n    countries: [DE]\n"), 0o644)
	if _, err := Load([]string{old}, assets); !errors.Is(err, ErrOldFormat) {
		t.Errorf("old format: %v, want ErrOldFormat", err)
	}
	if _, err := Load([]string{example}, nil); !errors.Is(err, ErrUnbound) || !strings.Contains(err.Error(), "ADDR="+example) {
		t.Errorf("no device of the model: %v, want a hint to bind it", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("schema_version: \"1\"\nproduct: {model: x}\n"), 0o644)
	if _, err := Load([]string{"10.0.0.1=" + bad}, nil); err == nil || strings.Contains(err.Error(), "\n") || !errors.Is(err, declare.ErrInvalid) {
		t.Errorf("invalid declaration: %q, want one line wrapping declare.ErrInvalid", err)
	}
}
