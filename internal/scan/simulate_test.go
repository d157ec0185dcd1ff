package scan

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/simulate"
)

// simAccuracy scans a simulated fleet and compares fingerprints with its truth.
type simAccuracy struct {
	services, found           int // truth services, of them reported open
	versioned, exactVersion   int // truth services with a version, of them identified exactly
	devices, vendorIdentified int // devices, of them with the right vendor on some service
	hidden                    int // truth versions not visible before authentication
	missed                    []string
}

func scoreFleet(truth *simulate.Truth, svcs []model.Service) simAccuracy {
	var a simAccuracy
	type key struct {
		ip   netip.Addr
		port uint16
		tr   string
	}
	got := map[key]model.Service{}
	for _, s := range svcs {
		got[key{s.IP, s.Port, s.Transport}] = s
	}
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", " ", "", "_", "").Replace(s))
	}
	for _, d := range truth.Devices {
		a.devices++
		ip := netip.MustParseAddr(d.IP)
		vendorOK := false
		for _, ts := range d.Services {
			a.services++
			s, ok := got[key{ip, ts.Port, ts.Transport}]
			if !ok || s.Status != model.StatusSuccess {
				a.missed = append(a.missed, d.IP+" "+ts.Protocol+" not found")
				continue
			}
			a.found++
			if s.Protocol != ts.Protocol {
				a.missed = append(a.missed, d.IP+" "+ts.Protocol+" answered as "+s.Protocol)
			}
			fp := s.Fingerprint
			if fp != nil && (norm(fp.Vendor) == norm(d.Vendor) || strings.Contains(norm(fp.Product), norm(d.Vendor))) {
				vendorOK = true
			}
			if ts.Version == "" {
				continue
			}
			// Versions only visible after a login (BusyBox shells, a broker
			// that refuses anonymous clients) are out of any scanner's reach.
			if raw, _ := json.Marshal(s.Data); !strings.Contains(string(raw), ts.Version) {
				a.hidden++
				continue
			}
			a.versioned++
			if fp != nil && fp.Version == ts.Version && (strings.Contains(norm(fp.Product), norm(ts.Product)) || strings.Contains(norm(ts.Product), norm(fp.Product))) {
				a.exactVersion++
			} else {
				desc := "nil"
				if fp != nil {
					desc = fp.Product + " " + fp.Version + " (" + fp.Rule + ")"
				}
				a.missed = append(a.missed, d.IP+" "+ts.Protocol+" want "+ts.Product+" "+ts.Version+" got "+desc)
			}
		}
		if vendorOK {
			a.vendorIdentified++
		} else {
			a.missed = append(a.missed, d.IP+" vendor "+d.Vendor+" ("+d.Profile+") not identified")
		}
	}
	return a
}

func TestScanSimulatedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet scan in -short")
	}
	ctx := context.Background()
	fleet, err := simulate.Start(ctx, simulate.Options{Prefix: netip.MustParsePrefix("127.201.33.0/24"), Devices: 60, Seed: 7})
	if err != nil {
		t.Skipf("simulator: %v", err)
	}
	defer fleet.Close()
	svcs, st := collect(t, Config{Targets: []string{"127.201.33.0/24"}, TCPPorts: fleet.TCPPorts(), UDPPorts: fleet.UDPPorts(),
		Timeout: 4 * time.Second, Engine: testEngine(t), Concurrency: 256, Seed: 1})
	a := scoreFleet(fleet.Truth(), svcs)
	t.Logf("stats %+v", st)
	t.Logf("services %d found %d; versioned %d (hidden %d) exact %d; devices %d vendor identified %d", a.services, a.found, a.versioned, a.hidden, a.exactVersion, a.devices, a.vendorIdentified)
	for _, m := range a.missed {
		t.Log(m)
	}
	// SNMP agents answer only their own community; the scan tries "public".
	for _, m := range a.missed {
		if (strings.HasSuffix(m, " not found") && !strings.Contains(m, " snmp ")) || strings.Contains(m, " answered as ") {
			t.Errorf("service missed: %s", m)
		}
	}

	if a.exactVersion*100 < a.versioned*95 {
		t.Errorf("exact product+version for %d of %d versioned services, want >= 95%%", a.exactVersion, a.versioned)
	}
	if a.vendorIdentified*100 < a.devices*90 {
		t.Errorf("vendor identified on %d of %d devices, want >= 90%%", a.vendorIdentified, a.devices)
	}
}
