package stats

import (
	"net/netip"
	"testing"

	"iotwatch/internal/model"
)

func TestSummarize(t *testing.T) {
	ip := netip.MustParseAddr
	svc := func(addr, proto, vendor, dtype string) model.Service {
		return model.Service{IP: ip(addr), Protocol: proto, Status: model.StatusSuccess,
			Fingerprint: &model.Fingerprint{Vendor: vendor, Product: "x", DeviceType: dtype}}
	}
	services := []model.Service{
		svc("10.0.0.1", model.ProtoTelnet, "Dahua", "ip-camera"),
		svc("10.0.0.1", model.ProtoHTTP, "Dahua", "ip-camera"),
		svc("::ffff:10.0.0.2", model.ProtoTelnet, "Dahua", "ip-camera"), // the IPv4 device 10.0.0.2
		svc("10.0.0.3", model.ProtoSSH, "MikroTik", "router"),
		svc("10.0.1.4", model.ProtoSNMP, "", ""),
		{IP: ip("10.0.0.9"), Port: 23, Protocol: model.ProtoTelnet, Status: model.StatusRefused}, // nothing listened
	}
	res := []model.CredentialResult{
		{IP: ip("10.0.0.1"), Protocol: model.ProtoTelnet, Kind: model.KindDefaultCredential},
		{IP: ip("10.0.0.1"), Protocol: model.ProtoHTTP, Kind: model.KindDefaultCredential},
		{IP: ip("10.0.1.4"), Protocol: model.ProtoSNMP, Kind: model.KindSNMPCommunity},
		{IP: ip("10.0.0.3"), Protocol: model.ProtoSSH, Kind: model.KindLockoutSuspected, LockoutSuspected: true},
		{IP: ip("10.0.2.5"), Protocol: model.ProtoFTP, Kind: model.KindAnonymousAccess}, // found by the audit alone
	}
	devs := Population(services, res)
	s := Summarize(devs, nil)
	if s.Overall.Weak != 3 || s.Overall.Devices != 5 || s.Overall.Share != 0.6 || s.Overall.CI95 != Wilson(3, 5) {
		t.Errorf("overall %+v, want 3/5", s.Overall)
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
		name      string
		got       Share
		weak, all int
	}{
		{"vendor Dahua", find(s.ByVendor, "Dahua"), 1, 2},
		{"vendor MikroTik", find(s.ByVendor, "MikroTik"), 0, 1},
		{"vendor unknown", find(s.ByVendor, model.Unknown), 2, 2},
		{"type ip-camera", find(s.ByDeviceType, "ip-camera"), 1, 2},
		{"type unknown", find(s.ByDeviceType, model.Unknown), 2, 2},
		{"proto telnet", find(s.ByProtocol, model.ProtoTelnet), 1, 2},
		{"proto http", find(s.ByProtocol, model.ProtoHTTP), 1, 1},
		{"proto ssh", find(s.ByProtocol, model.ProtoSSH), 0, 1},
		{"proto ftp", find(s.ByProtocol, model.ProtoFTP), 1, 1},
		{"subnet 10.0.0", find(s.BySubnet, "10.0.0.0/24"), 1, 3},
		{"subnet 10.0.1", find(s.BySubnet, "10.0.1.0/24"), 1, 1},
	}
	for _, c := range checks {
		if c.got.Weak != c.weak || c.got.Devices != c.all || c.got.CI95 != Wilson(c.weak, c.all) {
			t.Errorf("%s: %+v, want %d/%d", c.name, c.got, c.weak, c.all)
		}
	}
	if last := s.ByVendor[len(s.ByVendor)-1]; last.Key != model.Unknown {
		t.Errorf("vendor rows end with %q, want unknown last", last.Key)
	}
	if s.ByRegion != nil {
		t.Errorf("region rows without a region function: %+v", s.ByRegion)
	}
	if r := Summarize(devs, func(a netip.Addr) string { return map[bool]string{true: "DE"}[a.Is4()] }); len(r.ByRegion) != 1 || r.ByRegion[0].Devices != 5 {
		t.Errorf("region rows = %+v, want DE with 5 devices", r.ByRegion)
	}
}
