package report

import (
	"context"
	"fmt"
	"net/netip"

	"iotwatch/internal/store"
)

// DeviceAddrs lists the device addresses r names in its rows (its devices,
// and the devices under unauthorized control).
func (r *Report) DeviceAddrs() []netip.Addr {
	var addrs []netip.Addr
	for _, d := range r.Devices {
		if a, err := netip.ParseAddr(d.IP); err == nil {
			addrs = append(addrs, a)
		}
	}
	if r.Fall != nil {
		for _, d := range r.Fall.Devices {
			addrs = append(addrs, d.Device)
		}
	}
	return addrs
}

// CoveredAddrs lists every device address of r: its rows' (DeviceAddrs) and
// those of the evidence of the runs it covers (services, credential results,
// vulnerability matches, findings whose subject is an address). A section
// may name a device that no row lists — a run of flows alone has findings
// ("c2-beaconing by ADDR") but no device rows — so a published form of r
// hides these (PublishOptions.Addresses) and CheckPublished looks for them.
func CoveredAddrs(ctx context.Context, st *store.Store, r *Report) ([]netip.Addr, error) {
	addrs := r.DeviceAddrs()
	ids := make([]int64, len(r.Runs))
	for i, run := range r.Runs {
		ids[i] = run.ID
	}
	if len(ids) == 0 {
		return addrs, nil
	}
	ev, err := st.LoadEvidence(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("addresses of the report's runs: %w", err)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		seen[a] = true
	}
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	subject := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			add(a)
		} else if ap, err := netip.ParseAddrPort(s); err == nil {
			add(ap.Addr())
		}
	}
	for _, sv := range ev.Services {
		add(sv.IP)
	}
	for _, c := range ev.Credentials {
		add(c.IP)
	}
	for _, v := range ev.Vulns {
		add(v.IP)
	}
	for _, f := range ev.Findings {
		subject(f.Subject)
	}
	return addrs, nil
}
