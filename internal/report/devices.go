package report

import (
	"net/netip"
	"slices"
	"strconv"
)

// DeviceRow is one sampled device and the evidence behind its place in the
// report's numbers, so that every count can be recounted from the rows.
type DeviceRow struct {
	IP         string   `json:"ip"`
	Vendor     string   `json:"vendor,omitempty"`
	Product    string   `json:"product,omitempty"`
	DeviceType string   `json:"device_type,omitempty"`
	Region     string   `json:"region,omitempty"`
	Services   []string `json:"services"`         // protocol/port of each open service
	Weak       []string `json:"weak_credentials"` // protocol/port:kind of each accepted login (no secrets)
	CVEs       []string `json:"cves"`             // matched vulnerabilities
	KEV        bool     `json:"kev,omitempty"`    // at least one match is known exploited
	Scanned    bool     `json:"scanned"`          // has an open service (counted in summary.devices)
}

// buildDeviceRows lists every sampled device with its evidence, by address.
func (r *Report) buildDeviceRows(ev *evidence, region func(netip.Addr) string) {
	rows := map[netip.Addr]*DeviceRow{}
	row := func(a netip.Addr) *DeviceRow {
		d := rows[a]
		if d == nil {
			d = &DeviceRow{IP: a.String(), Services: []string{}, Weak: []string{}, CVEs: []string{}}
			rows[a] = d
		}
		return d
	}
	fps := map[netip.Addr][]serviceFP{}
	for _, s := range ev.services {
		d := row(s.IP)
		d.Scanned = true
		d.Services = append(d.Services, orUnknown(s.Protocol)+"/"+strconv.Itoa(int(s.Port)))
		fps[s.IP] = append(fps[s.IP], serviceFP{s.Protocol, s.Fingerprint})
	}
	for _, c := range ev.creds {
		d := row(c.IP)
		w := orUnknown(c.Protocol) + "/" + strconv.Itoa(int(c.Port)) + ":" + orUnknown(c.Kind)
		if !slices.Contains(d.Weak, w) {
			d.Weak = append(d.Weak, w)
		}
	}
	for _, v := range ev.vulns {
		if !v.IP.IsValid() {
			continue
		}
		d, ok := rows[v.IP]
		if !ok {
			continue // only sampled devices; a match alone does not make one
		}
		if !slices.Contains(d.CVEs, v.CVE) {
			d.CVEs = append(d.CVEs, v.CVE)
		}
		d.KEV = d.KEV || v.KEV
	}
	addrs := make([]netip.Addr, 0, len(rows))
	for a := range rows {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	r.Devices = make([]DeviceRow, 0, len(addrs))
	for _, a := range addrs {
		d := rows[a]
		id := identify(a, fps[a], ev.assets)
		d.Vendor, d.Product, d.DeviceType = id.vendor, id.product, id.deviceType
		if region != nil {
			d.Region = region(a)
		}
		slices.Sort(d.Services)
		slices.Sort(d.Weak)
		slices.Sort(d.CVEs)
		r.Devices = append(r.Devices, *d)
	}
}
