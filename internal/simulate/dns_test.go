package simulate

import (
	"context"
	"net"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	probedns "iotwatch/internal/probe/dns"
)

const dnsProfile = `profiles:
  - id: acme-r2
    vendor: Acme
    model: R2
    firmware: "2.0"
    device_type: router
    cpe: "cpe:2.3:o:acme:r2_firmware:2.0:*:*:*:*:*:*:*"
    weight: 1
    services:
      - protocol: dns
        banner: dnsmasq-2.77
`

// TestDNS serves version.bind from a user profile and reads it with the
// scanner's prober over the shared codec.
func TestDNS(t *testing.T) {
	ps, err := ParseProfiles("dns.yaml", []byte(dnsProfile))
	if err != nil {
		t.Fatal(err)
	}
	var f *Fleet
	for range 5 {
		if f, err = StartWithProfiles(context.Background(), Options{Prefix: testPrefix(), Devices: 2, Seed: 1, HighPorts: true}, ps); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if got := f.UDPPorts(); len(got) != 1 || got[0] != HighPorts[model.ProtoDNS] {
		t.Errorf("UDP ports %v, want [%d]", got, HighPorts[model.ProtoDNS])
	}
	s := findService(t, f, model.ProtoDNS, "", nil)
	conn, err := net.Dial("udp", addrOf(s))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := probedns.Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: 2 * time.Second})
	if res.Status != model.StatusSuccess {
		t.Fatalf("probe: %v (%v)", res.Status, res.Err)
	}
	if rec := res.Data.(*probedns.Record); rec.Version != "dnsmasq-2.77" || rec.Rcode != "NOERROR" {
		t.Errorf("record %+v, want dnsmasq-2.77", rec)
	}
}
