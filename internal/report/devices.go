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
	rows := make(map[netip.Addr]*DeviceRow, len(ev.devices))
	r.Devices = make([]DeviceRow, 0, len(ev.devices))
	for _, d := range ev.devices { // ordered by address
		row := DeviceRow{IP: d.Addr.String(), Vendor: d.Identity.Vendor, Product: d.Identity.Product, DeviceType: d.Identity.DeviceType,
			Scanned: d.Scanned, Services: []string{}, Weak: []string{}, CVEs: []string{}}
		if region != nil {
			row.Region = region(d.Addr)
		}
		r.Devices = append(r.Devices, row)
	}
	for i := range r.Devices {
		rows[ev.devices[i].Addr] = &r.Devices[i]
	}
	for _, s := range ev.open {
		if d := rows[s.IP]; d != nil {
			d.Services = append(d.Services, orUnknown(s.Protocol)+"/"+strconv.Itoa(int(s.Port)))
		}
	}
	for _, c := range ev.creds {
		d := rows[c.IP]
		w := orUnknown(c.Protocol) + "/" + strconv.Itoa(int(c.Port)) + ":" + orUnknown(c.Kind)
		if d != nil && !slices.Contains(d.Weak, w) {
			d.Weak = append(d.Weak, w)
		}
	}
	for _, v := range ev.Vulns {
		d := rows[v.IP] // only sampled devices; a match alone does not make one
		if !v.IP.IsValid() || d == nil {
			continue
		}
		if !slices.Contains(d.CVEs, v.CVE) {
			d.CVEs = append(d.CVEs, v.CVE)
		}
		d.KEV = d.KEV || v.KEV
	}
	for i := range r.Devices {
		d := &r.Devices[i]
		slices.Sort(d.Services)
		slices.Sort(d.Weak)
		slices.Sort(d.CVEs)
	}
}
