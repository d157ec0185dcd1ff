package audit

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strings"

	"iotwatch/internal/model"
)

// Z95 is the standard normal quantile for a two-sided 95% interval.
const Z95 = 1.959963984540054

// Wilson returns the Wilson score interval for k successes in n trials at
// quantile z. n == 0 gives [0, 1].
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return math.Max(0, center-half), math.Min(1, center+half)
}

// Share is the weak-credential share of one group of devices.
type Share struct {
	Key   string  `json:"key"`   // group value ("" for overall)
	Weak  int     `json:"weak"`  // devices with at least one weak credential
	Total int     `json:"total"` // devices in the group
	Share float64 `json:"share"` // Weak / Total
	Low   float64 `json:"ci_low"`
	High  float64 `json:"ci_high"`
}

func newShare(key string, weak, total int) Share {
	s := Share{Key: key, Weak: weak, Total: total}
	if total > 0 {
		s.Share = float64(weak) / float64(total)
	}
	s.Low, s.High = Wilson(weak, total, Z95)
	return s
}

// Summary is the population statistics of an audit: the share of devices
// that accepted a default, empty, anonymous or weak credential (or an SNMP
// community), overall and by vendor, device type, protocol and subnet, with
// 95% Wilson intervals. Groups are sorted by Total descending, then Key.
type Summary struct {
	Overall      Share   `json:"overall"`
	ByVendor     []Share `json:"by_vendor"`
	ByDeviceType []Share `json:"by_device_type"`
	// ByProtocol counts, per protocol, devices exposing it (Total) and
	// devices with a weak credential on it (Weak).
	ByProtocol []Share `json:"by_protocol"`
	BySubnet   []Share `json:"by_subnet"` // IPv4 /24, IPv6 /64
}

// Unknown is the group key of devices without a vendor or device type.
const Unknown = "unknown"

// IsWeak reports whether a credential result counts as a weak credential
// (every kind except KindLockoutSuspected).
func IsWeak(r model.CredentialResult) bool { return r.Kind != KindLockoutSuspected && r.Kind != "" }

type device struct {
	vendor, devType string
	score           int // how device-like the fingerprint behind vendor/devType is
	protos          map[string]bool
}

// genericTypes are device types that describe software, not a device.
var genericTypes = map[string]bool{"embedded": true, "general": true, "general purpose": true, "server": true, "web server": true}

// note keeps the most device-like fingerprint of a device: one with a
// specific device type beats one with only a vendor (often the server
// software's maker, e.g. lighttpd on a camera).
func (d *device) note(fp *model.Fingerprint) {
	if fp == nil || (fp.Vendor == "" && fp.DeviceType == "") {
		return
	}
	score := 1
	if fp.DeviceType != "" && !genericTypes[strings.ToLower(fp.DeviceType)] {
		score = 3
	} else if fp.DeviceType != "" {
		score = 2
	}
	if score > d.score {
		d.score, d.vendor, d.devType = score, fp.Vendor, fp.DeviceType
	}
}

// Summarize computes population statistics over the devices of services
// (one device per IP address; vendor and device type from the most
// device-like service fingerprint: one with a specific device type first) and
// the audit results.
func Summarize(services []model.Service, results []model.CredentialResult) Summary {
	devs := map[netip.Addr]*device{}
	for _, s := range services {
		d := devs[s.IP]
		if d == nil {
			d = &device{protos: map[string]bool{}}
			devs[s.IP] = d
		}
		if s.Protocol != "" {
			d.protos[s.Protocol] = true
		}
		d.note(s.Fingerprint)
	}
	return summarize(devs, results)
}

// SummarizeAssets is Summarize over assets (vendor and device type from the
// asset, protocols from its services).
func SummarizeAssets(assets []model.Asset, results []model.CredentialResult) Summary {
	devs := map[netip.Addr]*device{}
	for _, a := range assets {
		d := devs[a.IP]
		if d == nil {
			d = &device{protos: map[string]bool{}}
			devs[a.IP] = d
		}
		d.note(&model.Fingerprint{Vendor: a.Vendor, DeviceType: a.DeviceType})
		for _, s := range a.Services {
			if s.Protocol != "" {
				d.protos[s.Protocol] = true
			}
			d.note(s.Fingerprint)
		}
	}
	return summarize(devs, results)
}

func summarize(devs map[netip.Addr]*device, results []model.CredentialResult) Summary {
	weak := map[netip.Addr]bool{}
	weakProto := map[netip.Addr]map[string]bool{}
	for _, r := range results {
		if !IsWeak(r) {
			continue
		}
		if devs[r.IP] == nil {
			// A result for a device the caller did not list still is a device.
			devs[r.IP] = &device{protos: map[string]bool{}}
		}
		devs[r.IP].protos[r.Protocol] = true
		weak[r.IP] = true
		if weakProto[r.IP] == nil {
			weakProto[r.IP] = map[string]bool{}
		}
		weakProto[r.IP][r.Protocol] = true
	}
	type tally struct{ weak, total int }
	vendor, dtype, proto, subnet := map[string]*tally{}, map[string]*tally{}, map[string]*tally{}, map[string]*tally{}
	add := func(m map[string]*tally, k string, w bool) {
		t := m[k]
		if t == nil {
			t = &tally{}
			m[k] = t
		}
		t.total++
		if w {
			t.weak++
		}
	}
	nWeak := 0
	for ip, d := range devs {
		w := weak[ip]
		if w {
			nWeak++
		}
		add(vendor, orUnknown(d.vendor), w)
		add(dtype, orUnknown(d.devType), w)
		add(subnet, Subnet(ip), w)
		for p := range d.protos {
			add(proto, p, weakProto[ip][p])
		}
	}
	list := func(m map[string]*tally) []Share {
		out := make([]Share, 0, len(m))
		for k, t := range m {
			out = append(out, newShare(k, t.weak, t.total))
		}
		slices.SortFunc(out, func(a, b Share) int {
			return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Key, b.Key))
		})
		return out
	}
	return Summary{
		Overall:      newShare("", nWeak, len(devs)),
		ByVendor:     list(vendor),
		ByDeviceType: list(dtype),
		ByProtocol:   list(proto),
		BySubnet:     list(subnet),
	}
}

func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// Subnet returns the /24 (IPv4) or /64 (IPv6) prefix of ip as text.
func Subnet(ip netip.Addr) string {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
