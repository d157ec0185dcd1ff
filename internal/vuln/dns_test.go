package vuln

import (
	"context"
	"net/netip"
	"testing"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/model"
)

// TestMatchDNSVersionBind follows a version.bind answer through the DNS
// fingerprint rules into matching: dnsmasq before 2.78 has CVE-2017-14491
// (heap overflow via DNS replies), 2.78 fixed it.
func TestMatchDNSVersionBind(t *testing.T) {
	eng, err := fingerprint.New(fingerprint.Options{NoRecog: true})
	if err != nil {
		t.Fatal(err)
	}
	d := fixtureDB(t)
	for _, tt := range []struct {
		version string
		want    bool
	}{{"dnsmasq-2.77", true}, {"dnsmasq-2.78", false}} {
		fp := eng.Identify(model.ProtoDNS, map[string]string{"dns.version": tt.version})
		if fp == nil {
			t.Fatalf("%s: no fingerprint", tt.version)
		}
		svc := model.Service{IP: netip.MustParseAddr("127.0.0.53"), Port: 53, Transport: model.UDP, Protocol: model.ProtoDNS, Fingerprint: fp}
		ms, err := d.MatchServices(context.Background(), []model.Service{svc})
		if err != nil {
			t.Fatal(err)
		}
		if got := find(ms, "CVE-2017-14491") != nil; got != tt.want {
			t.Errorf("%s (%s): CVE-2017-14491 matched %v, want %v", tt.version, fp.CPE, got, tt.want)
		}
	}
}
