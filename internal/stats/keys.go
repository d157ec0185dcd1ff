package stats

import "net/netip"

// IPv6SubnetBits is the prefix length that groups IPv6 devices: /64, one
// link (the SLAAC subnet), the same unit as the IPv4 /24 of one LAN. A /48 is
// a whole site's allocation of 65,536 links and would merge networks the
// IPv4 rows keep apart.
const IPv6SubnetBits = 64

// IPv4SubnetBits is the prefix length that groups IPv4 devices: /24.
const IPv4SubnetBits = 24

// DeviceKey is the address that identifies a device: IPv4-mapped IPv6
// addresses are the IPv4 device, and zones are dropped.
func DeviceKey(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// SubnetKey names the network of a device: its IPv4 /24 or IPv6 /64, or
// "unknown" for an invalid address.
func SubnetKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	a = DeviceKey(a)
	bits := IPv6SubnetBits
	if a.Is4() {
		bits = IPv4SubnetBits
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}
