package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestSameSeedSameTruth(t *testing.T) {
	ps, err := BuiltinProfiles()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Prefix: netip.MustParsePrefix("127.20.0.0/16"), Devices: 500, Seed: 99, Weak: 0.3, Empty: 0.1, Anonymous: 0.1}
	truth := func(o Options) []byte {
		devs, err := planFleet(o, ps, true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(buildTruth(o.Seed, o.Prefix.String(), devs))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := truth(opts), truth(opts)
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("same seed, different truth (-a +b):\n%s", diff)
	}
	opts.Seed = 100
	if string(truth(opts)) == string(a) {
		t.Error("different seeds gave the same truth")
	}
}

func TestPlanErrors(t *testing.T) {
	ps, _ := BuiltinProfiles()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no devices", Options{Prefix: DefaultPrefix}, "devices must be positive"},
		{"shares", Options{Prefix: DefaultPrefix, Devices: 1, Weak: 0.8, Empty: 0.3}, "exceeds 1"},
		{"negative", Options{Prefix: DefaultPrefix, Devices: 1, Weak: -0.1}, "within 0..1"},
		{"not loopback", Options{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Devices: 1}, "inside 127.0.0.0/8"},
		{"too small", Options{Prefix: netip.MustParsePrefix("127.20.1.0/30"), Devices: 5}, "room for 3 devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := planFleet(tt.opts, ps, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestOccupiedPort(t *testing.T) {
	prefix := testPrefix()
	first := prefix.Addr().Next()
	// Occupy the first device's ports before the fleet starts: whatever it
	// serves, one of 2323/2222/8080/2121/8554/5020/1883 collides.
	var held []net.Listener
	for _, p := range []string{"2323", "2222", "8080", "2121", "8554", "5020", "1883"} {
		l, err := net.Listen("tcp", net.JoinHostPort(first.String(), p))
		if err != nil {
			t.Skipf("cannot occupy %s:%s: %v", first, p, err)
		}
		held = append(held, l)
	}
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	_, err := Start(context.Background(), Options{Prefix: prefix, Devices: 3, Seed: 1, HighPorts: true})
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("err = %v, want ErrAddrInUse", err)
	}
	if !strings.Contains(err.Error(), first.String()) {
		t.Errorf("error %q does not name the address", err)
	}
	// The failed start must release everything it bound: a second fleet on
	// the same prefix (minus the busy device) starts.
	for _, l := range held {
		l.Close()
	}
	held = nil
	f, err := Start(context.Background(), Options{Prefix: prefix, Devices: 3, Seed: 1, HighPorts: true})
	if err != nil {
		t.Fatalf("restart after failed start: %v", err)
	}
	f.Close()
}

func TestRealPortsAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind ports below 1024")
	}
	f := startFleet(t, Options{Devices: 30, Seed: 3, Weak: 0.5})
	if f.HighPortMap() {
		t.Fatal("root fleet uses the high-port map")
	}
	tcp := f.TCPPorts()
	for _, p := range tcp {
		if p == 2323 || p == 8080 || p == 2222 {
			t.Errorf("high port %d in use as root: %v", p, tcp)
		}
	}
	s := f.devices[0].services[0]
	if s.sp.Protocol != "ssdp" && s.sp.Protocol != "snmp" && s.sp.Protocol != "coap" {
		c, err := net.DialTimeout("tcp", addrOf(s), 2*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addrOf(s), err)
		}
		c.Close()
	}
}

func TestCloseAndCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	f, err := Start(ctx, Options{Prefix: testPrefix(), Devices: 20, Seed: 5, Weak: 1, HighPorts: true})
	if err != nil {
		t.Fatal(err)
	}
	// Leave connections open on every TCP service, as a slow scanner would.
	var conns []net.Conn
	for _, d := range f.devices[:5] {
		for _, s := range d.services {
			if transportOf(s.sp.Protocol) == "tcp" {
				if c, err := net.Dial("tcp", addrOf(s)); err == nil {
					conns = append(conns, c)
				}
			}
		}
	}
	if len(conns) == 0 {
		t.Fatal("no connection succeeded")
	}
	time.Sleep(50 * time.Millisecond) // let the handlers start
	cancel()
	done := make(chan struct{})
	go func() { f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
	if _, err := net.DialTimeout("tcp", addrOf(f.devices[0].services[0]), 200*time.Millisecond); err == nil && transportOf(f.devices[0].services[0].sp.Protocol) == "tcp" {
		t.Error("still accepting after Close")
	}
}

func TestOccupiedPortInsideFleet(t *testing.T) {
	// A socket on a device that is not the first of its port must also be
	// reported, in both modes.
	for _, perDevice := range []bool{false, true} {
		prefix := testPrefix()
		ps, _ := BuiltinProfiles()
		devs, err := planFleet(Options{Prefix: prefix, Devices: 20, Seed: 1, HighPorts: true}, ps, true)
		if err != nil {
			t.Fatal(err)
		}
		last := devs[len(devs)-1]
		s := last.services[0]
		network := "tcp"
		if udpProtocols[s.sp.Protocol] {
			network = "udp"
		}
		addr := addrOf(s)
		var closer interface{ Close() error }
		if network == "tcp" {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Skip(err)
			}
			closer = l
		} else {
			l, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Skip(err)
			}
			closer = l
		}
		_, err = Start(context.Background(), Options{Prefix: prefix, Devices: 20, Seed: 1, HighPorts: true, perDevice: perDevice})
		closer.Close()
		if !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), addr) {
			t.Errorf("perDevice=%v: err = %v, want ErrAddrInUse naming %s", perDevice, err, addr)
		}
	}
}

// nilAddrConn is a connection whose peer vanished before accept completed.
type nilAddrConn struct{ net.Conn }

func (nilAddrConn) RemoteAddr() net.Addr { return nil }

func TestDeviceConnNilRemoteAddr(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	dc := &deviceConn{Conn: nilAddrConn{a}}
	if dc.RemoteAddr() == nil || dc.RemoteAddr().String() == "" {
		t.Fatal("RemoteAddr is nil; mochi-mqtt would panic on String()")
	}
	dc.Close()
}

func TestOverlappingFleets(t *testing.T) {
	prefix := testPrefix()
	a, err := Start(context.Background(), Options{Prefix: prefix, Devices: 100, Seed: 1, HighPorts: true})
	if err != nil {
		t.Skip(err)
	}
	defer a.Close()
	if a.steer == nil {
		t.Skip("overlap detection by probing applies to steering mode; per-device binds fail by themselves")
	}
	// A second fleet starting inside the first one's addresses must refuse.
	b4 := prefix.Addr().As4()
	inner := netip.PrefixFrom(netip.AddrFrom4([4]byte{b4[0], b4[1], b4[2], 40}), 29)
	_, err = Start(context.Background(), Options{Prefix: inner, Devices: 5, Seed: 2, HighPorts: true})
	if !errors.Is(err, ErrAddrInUse) {
		t.Errorf("overlapping fleet: err = %v, want ErrAddrInUse", err)
	}
}

func TestWildcardTCPPorts(t *testing.T) {
	// Whatever listens here, the parser must return sane ports and not fail.
	for p := range wildcardTCPPorts() {
		if p == 0 {
			t.Errorf("port 0 reported as a wildcard listener")
		}
	}
	ep, ok := parseProcAddr("0100007F:1F90")
	if !ok || ep.addr != netip.MustParseAddr("127.0.0.1") || ep.port != 8080 {
		t.Errorf("parseProcAddr = %v %v, want 127.0.0.1:8080", ep, ok)
	}
}
