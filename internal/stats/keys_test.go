package stats

import (
	"net/netip"
	"testing"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		addr, subnet, device string
	}{
		{"192.0.2.77", "192.0.2.0/24", "192.0.2.77"},
		{"::ffff:192.0.2.77", "192.0.2.0/24", "192.0.2.77"}, // the IPv4 device
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1:2:3:4:5:6"},
		{"fe80::1%eth0", "fe80::/64", "fe80::1"},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := SubnetKey(a); got != tt.subnet {
			t.Errorf("SubnetKey(%s) = %s, want %s", tt.addr, got, tt.subnet)
		}
		if got := DeviceKey(a).String(); got != tt.device {
			t.Errorf("DeviceKey(%s) = %s, want %s", tt.addr, got, tt.device)
		}
	}
	if got := SubnetKey(netip.Addr{}); got != "unknown" {
		t.Errorf("SubnetKey(invalid) = %s, want unknown", got)
	}
}
