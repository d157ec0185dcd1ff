package simulate

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"

	"iotwatch/internal/model"
)

// testPrefix returns a random /24 inside 127.20.0.0/16 so that parallel test
// binaries (and other engineers' fleets) rarely collide.
func testPrefix() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 20, byte(100 + rand.IntN(150)), 0}), 24)
}

// startFleet starts a fleet for a test, retrying on another prefix if the first is taken.
func startFleet(t testing.TB, opts Options) *Fleet {
	t.Helper()
	var err error
	for range 5 {
		if !opts.Prefix.IsValid() || err != nil {
			opts.Prefix = testPrefix()
		}
		var f *Fleet
		f, err = Start(context.Background(), opts)
		if err == nil {
			t.Cleanup(func() { f.Close() })
			return f
		}
		if !errors.Is(err, ErrAddrInUse) {
			break
		}
	}
	t.Fatalf("Start: %v", err)
	return nil
}

// findService returns the first device service matching proto and credential kind.
func findService(t *testing.T, f *Fleet, proto, kind string, pred func(*deviceService) bool) *deviceService {
	t.Helper()
	for _, d := range f.devices {
		for _, s := range d.services {
			if s.sp.Protocol == proto && (kind == "" || s.kind == kind) && (pred == nil || pred(s)) {
				return s
			}
		}
	}
	t.Fatalf("no %s service with kind %q in the fleet", proto, kind)
	return nil
}

func addrOf(s *deviceService) string {
	return netip.AddrPortFrom(s.dev.addr, s.port).String()
}

func TestStartAndTruth(t *testing.T) {
	f := startFleet(t, Options{Devices: 200, Seed: 7, Weak: 0.4, Empty: 0.1, Anonymous: 0.1, HighPorts: true})
	tr := f.Truth()
	if got, want := tr.Summary.Devices, 200; got != want {
		t.Fatalf("devices = %d, want %d", got, want)
	}
	if got, want := tr.Summary.DevicesWithWeakCredentials, 120; got != want {
		t.Errorf("weak devices = %d, want %d (0.4+0.1+0.1 of 200)", got, want)
	}
	if got := tr.Summary.WeakPasswordShare; got != 0.6 {
		t.Errorf("weak share = %g, want 0.6", got)
	}
	if len(f.Addrs()) != 200 || len(f.TCPPorts()) == 0 || len(f.UDPPorts()) == 0 {
		t.Errorf("addrs %d tcp %v udp %v", len(f.Addrs()), f.TCPPorts(), f.UDPPorts())
	}
	for _, d := range tr.Devices {
		weak := false
		for _, c := range d.Credentials {
			if c.Kind != KindStrong {
				weak = true
			}
			if c.Kind == model.KindDefaultCredential && c.Password == "" {
				t.Errorf("%s %s: default credential with empty password should be %s", d.IP, c.Protocol, model.KindEmptyPassword)
			}
		}
		if weak != d.Weak {
			t.Errorf("%s: weak = %v, credentials say %v", d.IP, d.Weak, weak)
		}
	}
	path := t.TempDir() + "/truth.json"
	if err := WriteTruth(path, tr); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("truth file: %v", err)
	}
}
