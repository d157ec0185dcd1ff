package report

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/stats"
)

// Insight sections: answers that need more than one kind of evidence about
// the same devices (flow telemetry joined with the scan, the audit and the
// vulnerability matches).
const (
	SecFall = "fall"
	SecRisk = "risk"
)

// AlertRow is one stored flow alert as the insight sections read it.
type AlertRow struct {
	// Device is the fleet's device: the one misbehaving, or for an inbound
	// alert the one an outside actor targeted.
	Device   netip.Addr
	Day      string // YYYY-MM-DD
	Detector string
	Port     uint16 // the service the actor contacted, 0 when unknown
	// Inbound is true when an outside actor targeted the device (an attack
	// seen), false when the device itself misbehaved (under unauthorized
	// control).
	Inbound bool
}

// Fall says what made the devices under unauthorized remote control
// reachable: for each kind of weakness, the share of those devices that had
// it, beside the share of the other sampled devices that had it too.
type Fall struct {
	// Compromised counts devices under unauthorized control on any covered
	// day; InSample those of them in the sample (scanned or audited): only
	// these have evidence of how they fell.
	Compromised int `json:"compromised"`
	InSample    int `json:"in_sample"`
	// Others is the number of sampled devices not seen under control, the
	// comparison group.
	Others  int          `json:"others"`
	Reasons []FallReason `json:"reasons"`
	// ByVendor and ByDeviceType: per group, compromised devices in the
	// sample and those of them with a weak credential.
	ByVendor     []GroupShare `json:"by_vendor"`
	ByDeviceType []GroupShare `json:"by_device_type"`
	// Devices is the device-level evidence behind every row.
	Devices []FallDevice `json:"devices"`
}

// FallReason is one weakness and how common it was among the devices under
// unauthorized control and among the others.
type FallReason struct {
	Key         string   `json:"key"`
	Devices     int      `json:"devices"` // compromised devices in the sample with it
	Share       float64  `json:"share"`
	CI95        Interval `json:"ci95"`
	Others      int      `json:"others"` // sampled devices not under control with it
	OthersShare float64  `json:"others_share"`
	OthersCI95  Interval `json:"others_ci95"`
}

// FallDevice is one device under unauthorized control and its weaknesses.
type FallDevice struct {
	Device    netip.Addr `json:"device"`
	Days      []string   `json:"days"`
	Detectors []string   `json:"detectors"`
	InSample  bool       `json:"in_sample"`
	Vendor    string     `json:"vendor,omitempty"`
	Type      string     `json:"device_type,omitempty"`
	Reasons   []string   `json:"reasons"`
	// Evidence names each weakness's source: the credential (redacted), the
	// CVE, the cleartext service.
	Evidence []string `json:"evidence,omitempty"`
}

// RiskRow is one vulnerability ranked by the exploitation evidence iotwatch
// itself holds about the fleet, not only by its score.
type RiskRow struct {
	CVE      string   `json:"cve"`
	Units    int      `json:"units"` // devices on which the CVE is matched and affecting
	Products []string `json:"products"`
	KEV      bool     `json:"kev"`
	EPSS     float64  `json:"epss,omitempty"`
	CVSS     float64  `json:"cvss,omitempty"`
	// Attacked counts units on which flows showed outside actors targeting
	// the vulnerable service's port; Compromised counts units seen under
	// unauthorized control.
	Attacked    int `json:"attacked"`
	Compromised int `json:"compromised"`
	// Evidence says, in words, why the row ranks where it does.
	Evidence string `json:"evidence"`
}

// ReasonWeak is the key of the Fall reason "any weak credential".
const ReasonWeak = "any weak credential"

// Reason keys that are not per protocol.
const (
	reasonWeak      = ReasonWeak
	reasonKEV       = "a KEV-listed vulnerability"
	reasonCleartext = "an exposed cleartext login"
	reasonFirmware  = "a default account in its firmware"
	reasonNone      = "none of these found"
)

// weakness is what the report knows about one sampled device's exposure.
type weakness struct {
	reasons  map[string]bool
	evidence []string
}

// weaknesses returns, per sampled device, the weaknesses that could have
// let an attacker in: weak credentials by kind and protocol, KEV-listed
// vulnerabilities and cleartext logins.
func (r *Report) weaknesses(ev *evidence) map[netip.Addr]*weakness {
	out := map[netip.Addr]*weakness{}
	get := func(a netip.Addr) *weakness {
		a = stats.DeviceKey(a)
		w := out[a]
		if w == nil {
			w = &weakness{reasons: map[string]bool{}}
			out[a] = w
		}
		return w
	}
	for _, d := range ev.devices {
		get(d.Addr)
	}
	for _, c := range ev.creds {
		w := get(c.IP)
		w.reasons[reasonWeak] = true
		w.reasons[kindLabel(c.Kind)+" on "+cmp.Or(c.Protocol, model.Unknown)] = true
		w.evidence = append(w.evidence, fmt.Sprintf("%s %s:%d/%s user %q password %q", c.Kind, c.IP, c.Port, c.Protocol, c.Username, r.secret(c.Password)))
	}
	for _, v := range ev.Vulns {
		if !v.IP.IsValid() || !v.KEV || !v.Affects() {
			continue
		}
		w := get(v.IP)
		w.reasons[reasonKEV] = true
		w.evidence = append(w.evidence, fmt.Sprintf("%s (KEV) on %s:%d %s", v.CVE, v.IP, v.Port, v.CPE))
	}
	for _, s := range ev.open {
		if spec := protocol.Lookup(s.Protocol); spec.Cleartext && spec.Login {
			w := get(s.IP)
			w.reasons[reasonCleartext] = true
			w.evidence = append(w.evidence, fmt.Sprintf("cleartext %s login on %s:%d", s.Protocol, s.IP, s.Port))
		}
	}
	// Firmware evidence reaches a device through its product: an analysed
	// image whose name carries the product's model (as assess links them).
	var fwAccounts []model.Finding
	for _, f := range ev.Findings {
		if f.Kind == "firmware-default-password" || f.Kind == "firmware-empty-password" {
			fwAccounts = append(fwAccounts, f)
		}
	}
	for _, d := range ev.devices {
		m := strings.ToLower(d.Identity.Product)
		if len(m) < 3 {
			continue
		}
		for _, f := range fwAccounts {
			if strings.Contains(strings.ToLower(f.Subject), m) {
				w := get(d.Addr)
				w.reasons[reasonFirmware] = true
				w.evidence = append(w.evidence, fmt.Sprintf("%s: %s", f.Subject, f.Title))
			}
		}
	}
	for _, w := range out {
		slices.Sort(w.evidence)
		w.evidence = slices.Compact(w.evidence)
	}
	return out
}

// kindLabel names a credential kind in a reason.
func kindLabel(kind string) string {
	switch kind {
	case model.KindDefaultCredential:
		return "default password"
	case model.KindEmptyPassword:
		return "empty password"
	case model.KindAnonymousAccess:
		return "no credential needed"
	case model.KindSNMPCommunity:
		return "default SNMP community"
	case model.KindHardcoded:
		return "hard-coded account"
	default:
		return "weak password"
	}
}

// buildInsight joins the flow alerts with the sample's evidence: why the
// devices under unauthorized control fell, and the vulnerabilities ranked
// by exploitation observed in the fleet.
func (r *Report) buildInsight(ctx context.Context, ev *evidence, in Inputs) error {
	if in.Alerts == nil {
		r.Absent[SecFall] = "no flow telemetry wired to the report"
		r.Absent[SecRisk] = "no flow telemetry wired to the report"
		return nil
	}
	alerts, err := in.Alerts(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Absent[SecFall] = "flow alerts unavailable: " + err.Error()
		r.Absent[SecRisk] = r.Absent[SecFall]
		return nil
	}
	weak := r.weaknesses(ev)
	r.buildFall(ev, alerts, weak)
	r.buildRisk(ev, alerts)
	return nil
}

func (r *Report) buildFall(ev *evidence, alerts []AlertRow, weak map[netip.Addr]*weakness) {
	type seen struct{ days, detectors map[string]bool }
	under := map[netip.Addr]*seen{}
	for _, a := range alerts {
		if a.Inbound || !a.Device.IsValid() {
			continue
		}
		k := stats.DeviceKey(a.Device)
		s := under[k]
		if s == nil {
			s = &seen{days: map[string]bool{}, detectors: map[string]bool{}}
			under[k] = s
		}
		s.days[a.Day] = true
		s.detectors[a.Detector] = true
	}
	if len(under) == 0 {
		r.Absent[SecFall] = "no device was seen under unauthorized remote control"
		return
	}
	byAddr := map[netip.Addr]*stats.Device{}
	for _, d := range ev.devices {
		byAddr[d.Addr] = d
	}
	f := &Fall{Compromised: len(under), Reasons: []FallReason{}, Devices: []FallDevice{}}
	count := map[string][2]int{} // reason → compromised, others
	var inSample []*stats.Device
	for _, d := range ev.devices {
		_, comp := under[d.Addr]
		w := weak[d.Addr]
		rs := w.reasons
		if len(rs) == 0 {
			rs = map[string]bool{reasonNone: true}
		}
		for k := range rs {
			c := count[k]
			if comp {
				c[0]++
			} else {
				c[1]++
			}
			count[k] = c
		}
		if comp {
			f.InSample++
			inSample = append(inSample, d)
		} else {
			f.Others++
		}
	}
	for k, c := range count {
		if c[0] == 0 && k != reasonNone && k != reasonWeak && k != reasonKEV && k != reasonCleartext && k != reasonFirmware {
			continue // a weakness no compromised device had: no row
		}
		f.Reasons = append(f.Reasons, FallReason{Key: k,
			Devices: c[0], Share: stats.Ratio(c[0], f.InSample), CI95: stats.Wilson(c[0], f.InSample),
			Others: c[1], OthersShare: stats.Ratio(c[1], f.Others), OthersCI95: stats.Wilson(c[1], f.Others)})
	}
	for _, k := range []string{reasonWeak, reasonKEV, reasonCleartext, reasonFirmware, reasonNone} {
		if _, ok := count[k]; !ok {
			f.Reasons = append(f.Reasons, FallReason{Key: k, CI95: stats.Wilson(0, f.InSample), OthersCI95: stats.Wilson(0, f.Others)})
		}
	}
	slices.SortFunc(f.Reasons, func(a, b FallReason) int {
		return cmp.Or(cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Key, b.Key))
	})
	sum := stats.Summarize(inSample, nil)
	f.ByVendor, f.ByDeviceType = sum.ByVendor, sum.ByDeviceType
	addrs := make([]netip.Addr, 0, len(under))
	for a := range under {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		s := under[a]
		fd := FallDevice{Device: a, Days: sortedKeys(s.days), Detectors: sortedKeys(s.detectors), Reasons: []string{}}
		if d := byAddr[a]; d != nil {
			fd.InSample = true
			fd.Vendor, fd.Type = d.Identity.Vendor, d.Identity.DeviceType
			if w := weak[a]; w != nil && len(w.reasons) > 0 {
				fd.Reasons, fd.Evidence = sortedKeys(w.reasons), w.evidence
			} else {
				fd.Reasons = []string{reasonNone}
			}
		}
		f.Devices = append(f.Devices, fd)
	}
	r.Fall = f
}

func (r *Report) buildRisk(ev *evidence, alerts []AlertRow) {
	attacked := map[netip.Addr]map[uint16]bool{}
	under := map[netip.Addr]bool{}
	for _, a := range alerts {
		k := stats.DeviceKey(a.Device)
		if !a.Inbound {
			under[k] = true
			continue
		}
		if attacked[k] == nil {
			attacked[k] = map[uint16]bool{}
		}
		attacked[k][a.Port] = true
	}
	type acc struct {
		row              RiskRow
		units, hit, comp map[netip.Addr]bool
		products         map[string]bool
	}
	by := map[string]*acc{}
	for _, v := range ev.Vulns {
		if !v.IP.IsValid() || !v.Affects() {
			continue
		}
		a := by[v.CVE]
		if a == nil {
			a = &acc{row: RiskRow{CVE: v.CVE}, units: map[netip.Addr]bool{}, hit: map[netip.Addr]bool{}, comp: map[netip.Addr]bool{}, products: map[string]bool{}}
			by[v.CVE] = a
		}
		d := stats.DeviceKey(v.IP)
		a.units[d] = true
		if attacked[d][v.Port] {
			a.hit[d] = true
		}
		if under[d] {
			a.comp[d] = true
		}
		a.row.KEV = a.row.KEV || v.KEV
		a.row.EPSS = max(a.row.EPSS, v.EPSS)
		a.row.CVSS = max(a.row.CVSS, v.CVSS)
		a.products[strings.TrimSpace(cmp.Or(v.Product, v.CPE)+" "+v.Version)] = true
	}
	if len(by) == 0 {
		r.Absent[SecRisk] = "no vulnerability matched on the devices"
		return
	}
	rows := make([]RiskRow, 0, len(by))
	for _, a := range by {
		row := a.row
		row.Units, row.Attacked, row.Compromised = len(a.units), len(a.hit), len(a.comp)
		row.Products = sortedKeys(a.products)
		var why []string
		if row.Compromised > 0 {
			why = append(why, fmt.Sprintf("%d of %d units under unauthorized control", row.Compromised, row.Units))
		}
		if row.Attacked > 0 {
			why = append(why, fmt.Sprintf("%d units attacked on the vulnerable port", row.Attacked))
		}
		if row.KEV {
			why = append(why, "exploited in the wild (KEV)")
		}
		if row.EPSS > 0 {
			why = append(why, fmt.Sprintf("EPSS %.3f", row.EPSS))
		}
		if len(why) == 0 {
			why = append(why, "no exploitation evidence")
		}
		row.Evidence = strings.Join(why, "; ")
		rows = append(rows, row)
	}
	slices.SortFunc(rows, compareRisk)
	r.Risk = rows
}

// compareRisk ranks what is present and being used against the fleet
// first: units under control, then units attacked on the vulnerable port,
// then KEV, EPSS, units exposed and CVSS.
func compareRisk(a, b RiskRow) int {
	bool2 := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(b.Compromised, a.Compromised),
		cmp.Compare(b.Attacked, a.Attacked),
		cmp.Compare(bool2(b.KEV), bool2(a.KEV)),
		cmp.Compare(b.EPSS, a.EPSS),
		cmp.Compare(b.Units, a.Units),
		cmp.Compare(b.CVSS, a.CVSS),
		cmp.Compare(a.CVE, b.CVE))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
