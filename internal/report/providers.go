package report

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
)

// buildProviders asks the optional providers for their evidence. A provider
// that is not wired, fails, or returns nothing leaves its section absent with
// the reason; only a cancelled context fails the build.
func (r *Report) buildProviders(ctx context.Context, in Inputs) error {
	if in.VulnStats == nil {
		r.Absent[SecVulnArchive] = "no vulnerability database wired to the report"
	} else if vs, err := in.VulnStats(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Absent[SecVulnArchive] = "vulnerability database unavailable: " + err.Error()
	} else if len(vs.ByYear) == 0 {
		r.Absent[SecVulnArchive] = "vulnerability database is empty: no CVE records imported"
	} else {
		r.VulnArchive = archive(vs, r.GeneratedAt.Year())
		r.summariseArchive()
	}

	if in.DailyCompromised == nil {
		r.Absent[SecCompromise] = "no flow telemetry wired to the report"
	} else if days, err := in.DailyCompromised(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Absent[SecCompromise] = "flow detection unavailable: " + err.Error()
	} else if len(days) == 0 {
		r.Absent[SecCompromise] = "no flow telemetry ingested"
	} else {
		r.Compromise = compromise(days)
		r.Summary.CompromisedPerDay = r.Compromise.Mean
		r.Summary.CompromisedPeak = r.Compromise.Peak
	}

	if in.Destinations == nil {
		r.Absent[SecDestinations] = "no flow telemetry wired to the report"
	} else if rows, err := in.Destinations(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Absent[SecDestinations] = "flow destinations unavailable: " + err.Error()
	} else if len(rows) == 0 {
		r.Absent[SecDestinations] = "no flow telemetry ingested"
	} else {
		r.Destinations = destinations(rows)
	}

	if in.Assessment == nil {
		r.Absent[SecAssessment] = "no assessment wired to the report"
	} else if as, err := in.Assessment(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Absent[SecAssessment] = "assessment unavailable: " + err.Error()
	} else if len(as.Provisions) == 0 && len(as.Labels) == 0 {
		r.Absent[SecAssessment] = "no devices assessed against a baseline"
	} else {
		r.Assessment = assessment(as)
	}
	return nil
}

// archive orders the years and computes growth and IoT share.
func archive(vs VulnStats, currentYear int) *VulnArchive {
	years := slices.Clone(vs.ByYear)
	slices.SortFunc(years, func(a, b YearStats) int { return cmp.Compare(a.Year, b.Year) })
	a := &VulnArchive{Source: vs.Source, Years: make([]YearRow, 0, len(years))}
	for i, y := range years {
		row := YearRow{YearStats: y, IoTShare: stats.Ratio(y.IoT, y.Total), Partial: y.Year >= currentYear}
		if i > 0 && years[i-1].Year == y.Year-1 {
			if prev := years[i-1].Total; prev > 0 {
				g := growth(y.Total, prev)
				row.Growth = &g
			}
			if prev := years[i-1].IoT; prev > 0 {
				g := growth(y.IoT, prev)
				row.IoTGrowth = &g
			}
		}
		a.Total += y.Total
		a.IoT += y.IoT
		a.KEV += y.KEV
		a.Years = append(a.Years, row)
	}
	return a
}

// summariseArchive puts the latest complete year into the headline.
func (r *Report) summariseArchive() {
	ys := r.VulnArchive.Years
	i := len(ys) - 1
	for i > 0 && ys[i].Partial {
		i--
	}
	y := ys[i]
	r.Summary.ArchivedLatestYear = y.Year
	r.Summary.ArchivedLatest = y.Total
	r.Summary.ArchivedGrowth = y.Growth
	r.Summary.IoTShareLatest = y.IoTShare
}

// compromise orders the days and computes mean and peak.
func compromise(days []DayCount) *Compromise {
	d := slices.Clone(days)
	slices.SortFunc(d, func(a, b DayCount) int { return cmp.Compare(a.Day, b.Day) })
	c := &Compromise{Days: d}
	sum := 0
	for _, x := range d {
		sum += x.Devices
		if x.Devices > c.Peak || c.PeakDay == "" {
			c.Peak, c.PeakDay = x.Devices, x.Day
		}
	}
	c.Mean = float64(sum) / float64(len(d))
	return c
}

// assessment computes conformance rates, provisions in baseline and id order.
func assessment(as AssessmentSummary) *AssessmentSection {
	sec := &AssessmentSection{Devices: as.Devices, Provisions: []ProvisionRate{}, Labels: slices.Clone(as.Labels),
		Contradictions: slices.Clone(as.Contradictions)}
	for _, p := range as.Provisions {
		n := p.Pass + p.Fail
		sec.Provisions = append(sec.Provisions, ProvisionRate{ProvisionOutcomes: p, Rate: stats.Ratio(p.Pass, n), CI95: stats.Wilson(p.Pass, n)})
	}
	slices.SortStableFunc(sec.Provisions, func(a, b ProvisionRate) int {
		return cmp.Or(cmp.Compare(a.Baseline, b.Baseline), compareProvisionIDs(a.ID, b.ID))
	})
	sortCounts(sec.Labels)
	return sec
}

// compareProvisionIDs orders ids like "5.1-1" < "5.1-2" < "5.10-1" by their
// numeric parts.
func compareProvisionIDs(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == ' ' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		var na, nb int
		_, ea := fmt.Sscanf(pa[i], "%d", &na)
		_, eb := fmt.Sscanf(pb[i], "%d", &nb)
		if ea == nil && eb == nil && na != nb {
			return cmp.Compare(na, nb)
		}
		if c := cmp.Compare(pa[i], pb[i]); c != 0 && (ea != nil || eb != nil) {
			return c
		}
	}
	return cmp.Or(cmp.Compare(len(pa), len(pb)), cmp.Compare(a, b))
}

// buildTrends computes per-run headline numbers for the most recent runs up
// to the newest covered run, oldest first, from the store's per-run counts.
func (r *Report) buildTrends(ctx context.Context, st *store.Store, covered []model.Run, limit int) error {
	if limit <= 0 {
		limit = 20
	}
	counts, err := st.RunCountsUpTo(ctx, covered[len(covered)-1].ID)
	if err != nil {
		return fmt.Errorf("report trends: %w", err)
	}
	ids := slices.Sorted(maps.Keys(counts))
	if len(ids) > limit {
		ids = ids[len(ids)-limit:]
	}
	r.Trends = []TrendPoint{}
	for _, id := range ids {
		c := counts[id]
		run, err := st.Run(ctx, id)
		if err != nil {
			return fmt.Errorf("report trends: %w", err)
		}
		t := TrendPoint{RunID: id, Kind: run.Kind, StartedAt: run.StartedAt.UTC(), Devices: c.Devices, Services: c.Services, WeakDevices: c.WeakDevices}
		if c.WeakDevices > 0 || slices.Contains(run.Stages, "audit") {
			share := stats.Ratio(c.WeakDevices, c.Sampled)
			t.WeakPasswordShare = &share
		}
		r.Trends = append(r.Trends, t)
	}
	if len(r.Trends) < 2 {
		r.Absent[SecTrends] = "fewer than two runs with evidence: no trend yet"
	}
	return nil
}

// methodNotes says where each headline number comes from, so that every
// number can be traced to stored evidence.
func methodNotes() map[string]string {
	return map[string]string{
		"devices":                       "distinct addresses with at least one service whose status is not refused or timeout (table services) in the covered runs",
		"services":                      "distinct (address, port, transport) of those services",
		"devices_with_weak_credentials": "distinct addresses with at least one credential result (table credentials) in the covered runs, except results of kind lockout-suspected (the audit backed off; no credential found)",
		"weak_password_share":           "devices_with_weak_credentials / sampled_devices; sampled_devices = devices plus addresses with a credential result but no stored open service",
		"ci95":                          "Wilson score interval, z = 1.96",
		"vulnerable_devices":            "distinct addresses with at least one vulnerability match (table vuln_matches); kev_devices: those with a match in CISA KEV",
		"firmware":                      "vulnerability matches without an address (firmware components) and findings with firmware evidence",
		"breakdowns":                    "device vendor and type from what the scan saw before any log-in (stats.Identify: the fingerprint that best identifies the device — a specific device type, then a device-describing protocol such as UPnP, Modbus or RTSP, then confidence; SNMP and MQTT answers, which need an accepted credential, are not used); devices of unknown vendor or type are counted in an \"unknown\" row; subnet is the /24 (IPv4) or /64 (IPv6)",
		"vulnerability_archive":         "vulnerability database statistics by publication year; growth is relative to the previous year",
		"compromise":                    "devices under unauthorized remote control per day, from flow detection",
		"conformance_rate":              "pass / (pass + fail) per provision; not applicable and unknown are excluded",
		"fall":                          "devices with an outbound flow alert on any day (under unauthorized control), joined with the sample's evidence: weak credentials by kind and protocol, KEV-listed vulnerability matches, open cleartext login services, default or empty accounts in an analysed firmware image whose name carries the device's model; each share is over the compromised devices in the sample, beside the same share over the other sampled devices, with Wilson intervals.",
		"risk":                          "vulnerability matches that affect devices, ranked by units under unauthorized control, then units an outside actor attacked on the vulnerable service's port (inbound flow alerts), then CISA KEV, EPSS, units exposed and CVSS",
		"uptake":                        "patch uptake across the scans up to the covered runs (at most trend_runs of them): each device identified by its pre-login fingerprint (vendor, product) and the version that fingerprint names; units tracked are addresses seen in two scans or more, never updated when always on one version older than the newest seen; a CVE's affected versions are those its matches (in the scan's run or a later run before the next scan) were made on, and it is half fixed at the first scan where at most half as many units run an affected version as when it was first seen",
	}
}

// destinations sums outbound bytes per destination country and owner.
func destinations(rows []DestinationRow) *Destinations {
	type acc struct {
		bytes   int64
		devices map[netip.Addr]bool
	}
	byCountry, byOwner := map[string]*acc{}, map[string]*acc{}
	devices, dbs := map[netip.Addr]bool{}, map[string]bool{}
	d := &Destinations{}
	add := func(m map[string]*acc, k string, row DestinationRow) {
		a := m[k]
		if a == nil {
			a = &acc{devices: map[netip.Addr]bool{}}
			m[k] = a
		}
		a.bytes += row.Bytes
		a.devices[row.Device] = true
	}
	for _, row := range rows {
		d.Bytes += row.Bytes
		devices[row.Device] = true
		country := row.Country
		if country == "" || country == "ZZ" { // ZZ: the country database's "unknown" (reserved ranges)
			country = "unknown, local or reserved"
		}
		add(byCountry, country, row)
		if row.Owner != "" || row.ASN != 0 {
			add(byOwner, strings.TrimSpace(fmt.Sprintf("AS%d %s", row.ASN, row.Owner)), row)
		}
		for _, db := range []string{row.CountryDB, row.OwnerDB} {
			if db != "" {
				dbs[db] = true
			}
		}
	}
	d.Devices = len(devices)
	shares := func(m map[string]*acc) []DestShare {
		out := make([]DestShare, 0, len(m))
		for k, a := range m {
			sh := 0.0
			if d.Bytes > 0 {
				sh = float64(a.bytes) / float64(d.Bytes)
			}
			out = append(out, DestShare{Key: k, Devices: len(a.devices), Bytes: a.bytes, Share: sh})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Bytes != out[j].Bytes {
				return out[i].Bytes > out[j].Bytes
			}
			return out[i].Key < out[j].Key
		})
		return out
	}
	d.ByCountry = shares(byCountry)
	if len(byOwner) > 0 {
		d.ByOwner = shares(byOwner)
	}
	for db := range dbs {
		d.Databases = append(d.Databases, db)
	}
	sort.Strings(d.Databases)
	return d
}
