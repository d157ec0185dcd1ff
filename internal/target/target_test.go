package target

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, io.EOF
}

func TestParse(t *testing.T) {
	files := map[string]string{
		"zmap.csv":    "saddr,sport\n10.0.0.5,80\n10.0.0.6,8080\n",
		"masscan.txt": "#masscan\nopen tcp 23 10.0.1.1 1390167550\nclosed tcp 24 10.0.1.2 1\n# end\n",
		"plain.txt":   "127.0.0.1\n# comment\n\n192.168.1.0/30\n",
	}
	p := &Parser{
		Resolver: fakeResolver{"cam.local": {netip.MustParseAddr("10.9.9.9")}},
		Stdin:    strings.NewReader("10.2.0.1\n10.2.0.2,22\n"),
		Open: func(n string) (io.ReadCloser, error) {
			s, ok := files[n]
			if !ok {
				return nil, io.ErrUnexpectedEOF
			}
			return io.NopCloser(strings.NewReader(s)), nil
		},
	}
	tests := []struct {
		specs     []string
		wantLen   uint64
		wantPairs int
		wantErr   bool
	}{
		{specs: []string{"10.0.0.1"}, wantLen: 1},
		{specs: []string{"10.0.0.0/24"}, wantLen: 256},
		{specs: []string{"10.0.0.0/24", "10.0.0.128/25"}, wantLen: 256},
		{specs: []string{"10.0.0.1-10"}, wantLen: 10},
		{specs: []string{"10.0.0.250-10.0.1.5"}, wantLen: 12},
		{specs: []string{"::1"}, wantLen: 1},
		{specs: []string{"2001:db8::/120"}, wantLen: 256},
		{specs: []string{"fd00::1-fd00::ff"}, wantLen: 255},
		{specs: []string{"cam.local"}, wantLen: 1},
		{specs: []string{"@zmap.csv"}, wantPairs: 2},
		{specs: []string{"@masscan.txt"}, wantPairs: 1},
		{specs: []string{"@plain.txt"}, wantLen: 5},
		{specs: []string{"-"}, wantLen: 1, wantPairs: 1},
		{specs: []string{"10.0.0.10-1"}, wantErr: true},
		{specs: []string{"10.0.0.0/33"}, wantErr: true},
		{specs: []string{"not a host!"}, wantErr: true},
		{specs: []string{"@missing"}, wantErr: true},
		{specs: []string{"::/0"}, wantErr: true},
		{specs: []string{"nosuch.invalid"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.specs, " "), func(t *testing.T) {
			s, err := p.Parse(context.Background(), tt.specs)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := s.Len(); got != tt.wantLen {
				t.Errorf("Len = %d, want %d", got, tt.wantLen)
			}
			if got := len(s.Pairs); got != tt.wantPairs {
				t.Errorf("pairs = %d, want %d", got, tt.wantPairs)
			}
		})
	}
}

// countingResolver resolves every name to 10.9.9.9 and counts the lookups.
type countingResolver struct{ n int }

func (c *countingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	c.n++
	return []netip.Addr{netip.MustParseAddr("10.9.9.9")}, nil
}

// TestMistypedAddressNotResolved checks that a dotted number that is not
// an address (an octet over 255, too many octets) is refused as a bad
// target without a DNS query: `scan 127.77.0.300` asked the resolver.
func TestMistypedAddressNotResolved(t *testing.T) {
	for _, spec := range []string{"127.77.0.300", "10.0.0.1.5", "256.1.1.1", "10.0.0.300."} {
		res := &countingResolver{}
		_, err := (&Parser{Resolver: res}).Parse(context.Background(), []string{spec})
		if err == nil || !strings.Contains(err.Error(), "not an address") {
			t.Errorf("%s: err = %v, want it refused as not an address", spec, err)
		}
		if res.n != 0 {
			t.Errorf("%s: %d DNS lookups, want none", spec, res.n)
		}
	}
	res := &countingResolver{}
	if _, err := (&Parser{Resolver: res}).Parse(context.Background(), []string{"cam1.lab", "printer-2"}); err != nil || res.n != 2 {
		t.Errorf("host names: err %v, %d lookups, want 2", err, res.n)
	}
}

func TestSetAtAndExclude(t *testing.T) {
	s, err := (&Parser{}).Parse(context.Background(), []string{"10.0.0.0/24", "10.0.2.0/31", "fd00::/126"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.At(256), netip.MustParseAddr("10.0.2.0"); got != want {
		t.Errorf("At(256) = %v, want %v", got, want)
	}
	if got, want := s.At(259), netip.MustParseAddr("fd00::1"); got != want {
		t.Errorf("At(259) = %v, want %v", got, want)
	}
	s.Exclude([]netip.Prefix{netip.MustParsePrefix("10.0.0.64/26"), netip.MustParsePrefix("fd00::/127")})
	if got, want := s.Len(), uint64(256-64+2+2); got != want {
		t.Errorf("Len after exclude = %d, want %d", got, want)
	}
	if s.Contains(netip.MustParseAddr("10.0.0.100")) || !s.Contains(netip.MustParseAddr("10.0.0.200")) {
		t.Error("Contains wrong after exclude")
	}
	if err := s.Intersect([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/25")}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Len(), uint64(64); got != want {
		t.Errorf("Len after intersect = %d, want %d", got, want)
	}
}

func TestDefaultBlocklist(t *testing.T) {
	bl := DefaultBlocklist()
	s, err := (&Parser{}).Parse(context.Background(), []string{"127.0.0.1", "192.168.1.1", "10.1.1.1", "172.16.0.1",
		"224.0.0.1", "0.1.2.3", "255.255.255.255", "192.0.2.7", "ff02::1", "2001:db8::1", "::1", "fe80::1"})
	if err != nil {
		t.Fatal(err)
	}
	s.Exclude(bl)
	for _, a := range []string{"127.0.0.1", "192.168.1.1", "10.1.1.1", "172.16.0.1", "::1", "fe80::1"} {
		if !s.Contains(netip.MustParseAddr(a)) {
			t.Errorf("%s blocked by default, want scannable", a)
		}
	}
	if got, want := s.Len(), uint64(6); got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

func TestWalkCoversOnce(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 97, 1000, 65536 * 3} {
		for _, shards := range []int{1, 2, 3, 7} {
			seen := make([]uint8, n)
			for shard := 0; shard < shards; shard++ {
				w, err := NewWalk(n, 42, shard, shards)
				if err != nil {
					t.Fatal(err)
				}
				for _, idx := range w.From(0) {
					seen[idx]++
				}
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("n=%d shards=%d: index %d visited %d times", n, shards, i, c)
				}
			}
		}
	}
}

func TestWalkResumeAndOrder(t *testing.T) {
	w, err := NewWalk(5000, 7, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var all []uint64
	var positions []uint64
	for pos, idx := range w.From(0) {
		all = append(all, idx)
		positions = append(positions, pos)
	}
	// Not the identity order: a random walk.
	inOrder := 0
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1]+1 {
			inOrder++
		}
	}
	if inOrder > len(all)/10 {
		t.Errorf("%d of %d consecutive steps are sequential; want a random order", inOrder, len(all))
	}
	mid := positions[len(positions)/2]
	var rest []uint64
	for _, idx := range w.From(mid) {
		rest = append(rest, idx)
	}
	want := all[len(all)/2:]
	if len(rest) != len(want) || rest[0] != want[0] || rest[len(rest)-1] != want[len(want)-1] {
		t.Errorf("resume from %d: got %d items, want %d", mid, len(rest), len(want))
	}
	w2, _ := NewWalk(5000, 8, 0, 1)
	var other []uint64
	for _, idx := range w2.From(0) {
		other = append(other, idx)
		if len(other) == 10 {
			break
		}
	}
	if slicesEqual(other, all[:10]) {
		t.Error("different seeds gave the same order")
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "22", want: "22/tcp"},
		{in: "22,80-82", want: "22/tcp 80/tcp 81/tcp 82/tcp"},
		{in: "161/udp,18830/mqtt,1161/snmp", want: "161/udp 18830/tcp/mqtt 1161/udp/snmp"},
		{in: "22,22", want: "22/tcp"},
		{in: "1161/tcp/snmp,8080/udp/http", want: "1161/udp/snmp 8080/tcp/http"},
		{in: "53/dns,5353/tcp/dns,5354/dns/tcp", want: "53/udp/dns 5353/tcp/dns 5354/tcp/dns"},
		{in: "0", wantErr: true},
		{in: "70000", wantErr: true},
		{in: "80-79", wantErr: true},
		{in: "80/gopher", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePorts(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePorts(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		var parts []string
		for _, p := range got {
			parts = append(parts, p.String())
		}
		if s := strings.Join(parts, " "); !tt.wantErr && s != tt.want {
			t.Errorf("ParsePorts(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
	if ProtocolFor(Port{Number: 1883, Transport: "tcp"}) != "mqtt" || ProtocolFor(Port{Number: 161, Transport: "udp"}) != "snmp" {
		t.Error("ProtocolFor well-known ports wrong")
	}
}

// TestDefaultPorts pins the default port list derived from the protocol
// table: a row's ports change what every default scan touches.
func TestDefaultPorts(t *testing.T) {
	var parts []string
	for _, p := range DefaultPorts() {
		parts = append(parts, fmt.Sprintf("%s/%s", p, ProtocolFor(p)))
	}
	want := "21/tcp/ftp 22/tcp/ssh 23/tcp/telnet 53/tcp/dns 80/tcp/http 81/tcp/http 102/tcp/s7 443/tcp/https 502/tcp/modbus " +
		"554/tcp/rtsp 1883/tcp/mqtt 1911/tcp/fox 2121/tcp/ftp 2222/tcp/ssh 2323/tcp/telnet 5000/tcp/http 5020/tcp/modbus " +
		"7547/tcp/cwmp 8000/tcp/http 8080/tcp/http 8081/tcp/http 8443/tcp/https 8554/tcp/rtsp 8883/tcp/mqtts " +
		"8888/tcp/http 8899/tcp/http 20000/tcp/dnp3 34567/tcp/xmeye 37777/tcp/dvrip 44818/tcp/enip 49152/tcp/http " +
		"53/udp/dns 161/udp/snmp 1161/udp/snmp 1900/udp/ssdp 3702/udp/onvif 5353/udp/mdns 5683/udp/coap 47808/udp/bacnet"
	if got := strings.Join(parts, " "); got != want {
		t.Errorf("DefaultPorts() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseShard(t *testing.T) {
	if i, n, err := ParseShard("1/4"); err != nil || i != 1 || n != 4 {
		t.Errorf("ParseShard(1/4) = %d, %d, %v", i, n, err)
	}
	for _, bad := range []string{"4/4", "-1/2", "1", "a/b", "0/0"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q): want error", bad)
		}
	}
}

func TestSpace(t *testing.T) {
	s, _ := (&Parser{}).Parse(context.Background(), []string{"10.0.0.1-2"})
	s.Pairs = append(s.Pairs, netip.MustParseAddrPort("10.0.0.9:8080"))
	sp := &Space{Set: s, Ports: []Port{{Number: 22, Transport: "tcp"}, {Number: 80, Transport: "tcp"}}}
	if sp.Len() != 5 {
		t.Fatalf("Len = %d, want 5", sp.Len())
	}
	if a, p := sp.At(3); a != netip.MustParseAddr("10.0.0.2") || p.Number != 80 {
		t.Errorf("At(3) = %v %v", a, p)
	}
	if a, p := sp.At(4); a != netip.MustParseAddr("10.0.0.9") || p.Number != 8080 {
		t.Errorf("At(4) = %v %v", a, p)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.0/24", "10.0.0.1-5", "1.2.3.4,80", "open tcp 80 1.2.3.4 1", "fd00::1-fd00::5", "::ffff:1.2.3.4/120", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p := &Parser{Resolver: fakeResolver{}}
		s := &Set{Names: map[netip.Addr]string{}}
		if err := p.parseLine(context.Background(), s, line); err != nil {
			return
		}
		if err := s.normalize(); err != nil {
			return
		}
		if s.Len() > 0 {
			_ = s.At(s.Len() - 1)
		}
	})
}

func FuzzParsePrefixList(f *testing.F) {
	f.Add(defaultBlocklist)
	f.Add("10.0.0.0/8 # x\n\n::1\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParsePrefixList(strings.NewReader(s))
		_, _ = ParsePorts(s)
	})
}
