package audit

import (
	"math"
	"net/netip"
	"testing"

	"iotwatch/internal/model"
)

func TestWilson(t *testing.T) {
	// Reference values: Wilson score interval, z = 1.959964 (e.g. R
	// binom::binom.wilson, statsmodels proportion_confint(method="wilson")).
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.27753},
		{10, 10, 0.72247, 1},
		{5, 10, 0.23659, 0.76341},
		{1, 10, 0.01788, 0.40415},
		{40, 100, 0.30944, 0.49804},
		// Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3.
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n, Z95)
		if math.Abs(lo-tt.lo) > 5.1e-5 || math.Abs(hi-tt.hi) > 5.1e-5 {
			t.Errorf("Wilson(%d, %d) = [%.5f, %.5f], want [%.5f, %.5f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestSummarize(t *testing.T) {
	svc := func(ip, proto, vendor, dtype string) model.Service {
		return model.Service{IP: netip.MustParseAddr(ip), Protocol: proto,
			Fingerprint: &model.Fingerprint{Vendor: vendor, DeviceType: dtype}}
	}
	services := []model.Service{
		svc("10.0.0.1", model.ProtoTelnet, "Dahua", "ip-camera"),
		svc("10.0.0.1", model.ProtoHTTP, "Dahua", "ip-camera"),
		svc("10.0.0.2", model.ProtoTelnet, "Dahua", "ip-camera"),
		svc("10.0.0.3", model.ProtoSSH, "MikroTik", "router"),
		svc("10.0.1.4", model.ProtoSNMP, "", ""),
		svc("10.0.0.3", model.ProtoHTTP, "lighttpd", "embedded"), // server software, not the device
	}
	res := []model.CredentialResult{
		{IP: netip.MustParseAddr("10.0.0.1"), Protocol: model.ProtoTelnet, Kind: model.KindDefaultCredential},
		{IP: netip.MustParseAddr("10.0.0.1"), Protocol: model.ProtoHTTP, Kind: model.KindDefaultCredential},
		{IP: netip.MustParseAddr("10.0.1.4"), Protocol: model.ProtoSNMP, Kind: model.KindSNMPCommunity},
		{IP: netip.MustParseAddr("10.0.0.3"), Protocol: model.ProtoSSH, Kind: KindLockoutSuspected, LockoutSuspected: true},
	}
	s := Summarize(services, res)
	if s.Overall.Weak != 2 || s.Overall.Total != 4 || s.Overall.Share != 0.5 {
		t.Errorf("overall %+v, want 2/4", s.Overall)
	}
	find := func(list []Share, key string) Share {
		for _, x := range list {
			if x.Key == key {
				return x
			}
		}
		t.Fatalf("no group %q in %+v", key, list)
		return Share{}
	}
	checks := []struct {
		name        string
		got         Share
		weak, total int
	}{
		{"vendor Dahua", find(s.ByVendor, "Dahua"), 1, 2},
		{"vendor MikroTik", find(s.ByVendor, "MikroTik"), 0, 1},
		{"vendor unknown", find(s.ByVendor, Unknown), 1, 1},
		{"type ip-camera", find(s.ByDeviceType, "ip-camera"), 1, 2},
		{"proto telnet", find(s.ByProtocol, model.ProtoTelnet), 1, 2},
		{"proto http", find(s.ByProtocol, model.ProtoHTTP), 1, 2},
		{"proto ssh", find(s.ByProtocol, model.ProtoSSH), 0, 1},
		{"subnet 10.0.0.0/24", find(s.BySubnet, "10.0.0.0/24"), 1, 3},
		{"subnet 10.0.1.0/24", find(s.BySubnet, "10.0.1.0/24"), 1, 1},
	}
	for _, c := range checks {
		if c.got.Weak != c.weak || c.got.Total != c.total {
			t.Errorf("%s: %d/%d, want %d/%d", c.name, c.got.Weak, c.got.Total, c.weak, c.total)
		}
		lo, hi := Wilson(c.weak, c.total, Z95)
		if c.got.Low != lo || c.got.High != hi {
			t.Errorf("%s: interval [%v, %v], want [%v, %v]", c.name, c.got.Low, c.got.High, lo, hi)
		}
	}
	if s.ByVendor[0].Key != "Dahua" {
		t.Errorf("groups not sorted by size: %+v", s.ByVendor)
	}
}

func TestSubnet(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.77":      "192.168.1.0/24",
		"::ffff:10.1.2.3":   "10.1.2.0/24",
		"2001:db8:1:2:3::4": "2001:db8:1:2::/64",
	} {
		if got := Subnet(netip.MustParseAddr(in)); got != want {
			t.Errorf("Subnet(%s) = %s, want %s", in, got, want)
		}
	}
}
