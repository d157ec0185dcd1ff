package stats

import (
	"cmp"
	"net/netip"
	"slices"

	"iotwatch/internal/model"
)

// Device is one sampled device and the evidence that places it in the
// statistics.
type Device struct {
	Addr     netip.Addr
	Identity Identity
	// Scanned reports whether the device has an open service; a device
	// known only from a credential result is sampled but not scanned.
	Scanned bool
	// Protocols are the protocols it exposes: its open services and every
	// protocol on which a credential was accepted.
	Protocols map[string]bool
	// WeakOn are the protocols on which a weak credential was accepted.
	WeakOn map[string]bool
}

// Weak reports whether the device accepted at least one weak credential.
func (d *Device) Weak() bool { return len(d.WeakOn) > 0 }

// closed reports whether a stored service status means nothing listened.
func closed(s model.Status) bool {
	return s == model.StatusRefused || s == model.StatusTimeout
}

// Population returns the sampled devices, ordered by address: every
// address (DeviceKey) with an open service or a weak credential. Identity
// comes from the open services' pre-login fingerprints (Identify).
// Lockout records (model.CredentialResult.Weak false) do not make a device.
func Population(services []model.Service, creds []model.CredentialResult) []*Device {
	devs := map[netip.Addr]*Device{}
	svcs := map[netip.Addr][]model.Service{}
	get := func(a netip.Addr) *Device {
		a = DeviceKey(a)
		d := devs[a]
		if d == nil {
			d = &Device{Addr: a, Protocols: map[string]bool{}, WeakOn: map[string]bool{}}
			devs[a] = d
		}
		return d
	}
	for _, s := range services {
		if !s.IP.IsValid() || closed(s.Status) {
			continue
		}
		d := get(s.IP)
		d.Scanned = true
		d.Protocols[cmp.Or(s.Protocol, model.Unknown)] = true
		svcs[d.Addr] = append(svcs[d.Addr], s)
	}
	for _, c := range creds {
		if !c.IP.IsValid() || !c.Weak() {
			continue
		}
		d := get(c.IP)
		p := cmp.Or(c.Protocol, model.Unknown)
		d.Protocols[p] = true
		d.WeakOn[p] = true
	}
	out := make([]*Device, 0, len(devs))
	for a, d := range devs {
		d.Identity = Identify(svcs[a])
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Device) int { return a.Addr.Compare(b.Addr) })
	return out
}

// Share is the weak-credential share of one group of sampled devices.
type Share struct {
	Key     string   `json:"key"`
	Devices int      `json:"devices"`
	Weak    int      `json:"weak"` // devices with at least one weak credential
	Share   float64  `json:"share"`
	CI95    Interval `json:"ci95"`
}

// NewShare returns the share of weak devices among n with its interval.
func NewShare(key string, weak, n int) Share {
	return Share{Key: key, Devices: n, Weak: weak, Share: Ratio(weak, n), CI95: Wilson(weak, n)}
}

// Summary is the weak-credential share of a population, overall and by
// vendor, device type, protocol, subnet and (when a region function is
// given) region, each with its 95% Wilson interval. Devices of unknown
// vendor or type are counted in a row named model.Unknown. Rows are ordered
// by devices (most first), then key, with "unknown" last.
type Summary struct {
	Overall      Share   `json:"overall"`
	ByVendor     []Share `json:"by_vendor"`
	ByDeviceType []Share `json:"by_device_type"`
	// ByProtocol counts, per protocol, the devices exposing it and those
	// with a weak credential on that protocol.
	ByProtocol []Share `json:"by_protocol"`
	BySubnet   []Share `json:"by_subnet"` // IPv4 /24, IPv6 /64
	ByRegion   []Share `json:"by_region,omitempty"`
}

// Summarize computes the Summary of devs. region maps an address to a
// region or country; nil (or a function that knows no address) leaves the
// region breakdown out.
func Summarize(devs []*Device, region func(netip.Addr) string) Summary {
	type tally struct{ weak, n int }
	add := func(m map[string]*tally, k string, weak bool) {
		t := m[cmp.Or(k, model.Unknown)]
		if t == nil {
			t = &tally{}
			m[cmp.Or(k, model.Unknown)] = t
		}
		t.n++
		if weak {
			t.weak++
		}
	}
	vendor, dtype, proto, subnet, reg := map[string]*tally{}, map[string]*tally{}, map[string]*tally{}, map[string]*tally{}, map[string]*tally{}
	weak := 0
	for _, d := range devs {
		w := d.Weak()
		if w {
			weak++
		}
		add(vendor, d.Identity.Vendor, w)
		add(dtype, d.Identity.DeviceType, w)
		add(subnet, SubnetKey(d.Addr), w)
		for p := range d.Protocols {
			add(proto, p, d.WeakOn[p])
		}
		if region != nil {
			add(reg, region(d.Addr), w)
		}
	}
	list := func(m map[string]*tally) []Share {
		out := make([]Share, 0, len(m))
		for k, t := range m {
			out = append(out, NewShare(k, t.weak, t.n))
		}
		SortShares(out)
		return out
	}
	s := Summary{
		Overall:      NewShare("", weak, len(devs)),
		ByVendor:     list(vendor),
		ByDeviceType: list(dtype),
		ByProtocol:   list(proto),
		BySubnet:     list(subnet),
	}
	if _, onlyUnknown := reg[model.Unknown]; len(reg) > 0 && !(onlyUnknown && len(reg) == 1) {
		s.ByRegion = list(reg)
	}
	return s
}

// SortShares orders rows by devices (most first), then key, "unknown" last.
func SortShares(s []Share) {
	slices.SortFunc(s, func(a, b Share) int {
		return cmp.Or(UnknownLast(a.Key, b.Key), cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Key, b.Key))
	})
}

// UnknownLast orders the model.Unknown key after every named one; it is 0
// for any two other keys.
func UnknownLast(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == model.Unknown:
		return 1
	case b == model.Unknown:
		return -1
	}
	return 0
}
