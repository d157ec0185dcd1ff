package audit

import (
	"context"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stats"
)

// fleetServices turns a simulator's truth into the services a scan would
// report (with the fingerprint a scan would have made).
func fleetServices(t testing.TB, truth *simulate.Truth) []model.Service {
	t.Helper()
	var svcs []model.Service
	for _, d := range truth.Devices {
		ip := netip.MustParseAddr(d.IP)
		for _, s := range d.Services {
			svcs = append(svcs, model.Service{IP: ip, Port: s.Port, Transport: s.Transport, Protocol: s.Protocol,
				Fingerprint: &model.Fingerprint{Vendor: d.Vendor, Product: d.Model, DeviceType: d.DeviceType}})
		}
	}
	return svcs
}

func startFleet(t testing.TB, devices int) *simulate.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f, err := simulate.Start(ctx, simulate.Options{Prefix: netip.MustParsePrefix("127.77.0.0/16"), Devices: devices, Seed: 7,
		Weak: 0.3, Empty: 0.05, Anonymous: 0.05, HighPorts: true})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestRunSimulatedFleet audits an emulated fleet and checks that the weak
// devices found are exactly the ground truth's, and so is the share.
func TestRunSimulatedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated fleet")
	}
	t.Parallel()
	n := 150
	if v, err := strconv.Atoi(os.Getenv("IOTWATCH_SIM_DEVICES")); err == nil && v > 0 {
		n = v // bench/audit.sh runs 1,000
	}
	f := startFleet(t, n)
	truth := f.Truth()
	svcs := fleetServices(t, truth)
	var mu sync.Mutex
	var got []model.CredentialResult
	st, err := Run(context.Background(), Config{Timeout: 5 * time.Second, Concurrency: 256}, svcs, func(r model.CredentialResult) error {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	foundWeak := map[string]bool{}
	for _, r := range got {
		if r.Weak() {
			foundWeak[r.IP.String()] = true
		}
	}
	var missed, extra []string
	for _, d := range truth.Devices {
		if d.Weak && !foundWeak[d.IP] {
			missed = append(missed, d.IP+" "+d.Profile+" "+credsOf(d))
		}
		if !d.Weak && foundWeak[d.IP] {
			extra = append(extra, d.IP+" "+d.Profile)
		}
	}
	sort.Strings(missed)
	sort.Strings(extra)
	if len(missed) > 0 || len(extra) > 0 {
		t.Errorf("missed %d weak devices: %v\nreported %d devices the truth calls strong: %v", len(missed), first(missed, 20), len(extra), first(extra, 20))
	}
	sum := stats.Summarize(stats.Population(svcs, got), nil)
	if sum.Overall.Weak != truth.Summary.DevicesWithWeakCredentials || sum.Overall.Devices != truth.Summary.Devices {
		t.Errorf("summary %d/%d, truth %d/%d", sum.Overall.Weak, sum.Overall.Devices, truth.Summary.DevicesWithWeakCredentials, truth.Summary.Devices)
	}
	if sum.Overall.Share != truth.Summary.WeakPasswordShare {
		t.Errorf("share %v, truth %v", sum.Overall.Share, truth.Summary.WeakPasswordShare)
	}
	t.Logf("devices %d, services %d, attempts %d, found %d, lockouts %d, %v; status %v", n, len(svcs), st.Attempts, st.Found, st.Lockouts, st.Duration, st.ByStatus)
}

func credsOf(d simulate.TruthDevice) string {
	s := ""
	for _, c := range d.Credentials {
		if c.Kind != simulate.KindStrong {
			s += c.Protocol + "/" + c.Username + ":" + c.Password + "(" + c.Kind + ") "
		}
	}
	return s
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
