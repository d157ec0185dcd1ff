package report

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln/version"
)

// SecUptake is the patch-uptake section's key in Report.Absent.
const SecUptake = "uptake"

// Uptake is patch uptake measured across repeated scans: for each product,
// the versions its units ran at each scan, how long a fix took to reach
// half of the units that needed it, and the units that never updated.
// Evidence for the "updatable devices" norm, measured rather than declared.
type Uptake struct {
	Scans    []UptakeScan    `json:"scans"`
	Products []ProductUptake `json:"products"`
}

// UptakeScan is one scan in the series.
type UptakeScan struct {
	RunID int64     `json:"run_id"`
	At    time.Time `json:"at"`
}

// ProductUptake is one product's versions over the scans.
type ProductUptake struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	// Newest is the highest version any unit ran.
	Newest string `json:"newest"`
	// Series has one point per scan in which the product was seen.
	Series []VersionPoint `json:"series"`
	// NeverUpdated counts units seen in two scans or more, always on the
	// same version, older than Newest.
	NeverUpdated int `json:"never_updated"`
	// Tracked counts the units seen in two scans or more.
	Tracked int         `json:"tracked"`
	CVEs    []CVEUptake `json:"cves,omitempty"`
}

// VersionPoint is a product's units at one scan, by version.
type VersionPoint struct {
	RunID    int64     `json:"run_id"`
	At       time.Time `json:"at"`
	Units    int       `json:"units"`
	Versions []Count   `json:"versions"` // Devices counts units
	// OnNewest is the share of units on the product's newest version.
	OnNewest float64 `json:"on_newest"`
}

// CVEUptake is how a fix for one CVE spread over a product's units: from
// the first scan that saw units affected, the time until at most half of
// them still ran an affected version.
type CVEUptake struct {
	CVE string `json:"cve"`
	KEV bool   `json:"kev,omitempty"`
	// Affected are the versions the CVE was matched on.
	Affected  []string  `json:"affected_versions"`
	FirstSeen time.Time `json:"first_seen"`
	// AffectedFirst is the number of units affected at FirstSeen;
	// AffectedLast at the last scan.
	AffectedFirst int `json:"affected_first"`
	AffectedLast  int `json:"affected_last"`
	// HalfFixedAt is the first scan at which at most half of AffectedFirst
	// units still ran an affected version; HalfFixedDays the days from
	// FirstSeen. Both absent while the fix has not reached half.
	HalfFixedAt   *time.Time `json:"half_fixed_at,omitempty"`
	HalfFixedDays *float64   `json:"half_fixed_days,omitempty"`
}

// snapshot is what one scan saw of each device: its product and version.
type snapshot struct {
	run   model.Run
	units map[netip.Addr]unitVersion
}

type unitVersion struct {
	product string // vendor + "\x00" + product
	version string
}

// deviceVersions identifies each device of one scan (stats.Identify) and
// reads its version from the fingerprint that named that identity.
func deviceVersions(services []model.Service) map[netip.Addr]unitVersion {
	by := map[netip.Addr][]model.Service{}
	for _, s := range services {
		if s.IP.IsValid() && s.Status != model.StatusRefused && s.Status != model.StatusTimeout {
			k := stats.DeviceKey(s.IP)
			by[k] = append(by[k], s)
		}
	}
	out := map[netip.Addr]unitVersion{}
	for a, ss := range by {
		id := stats.Identify(ss)
		if id.Vendor == "" && id.Product == "" {
			continue
		}
		u := unitVersion{product: id.Vendor + "\x00" + id.Product}
		for _, s := range ss {
			fp := s.Fingerprint
			if fp != nil && fp.SoftwareOnly() {
				fp = fp.Device
			}
			if fp != nil && fp.Vendor == id.Vendor && fp.Product == id.Product && fp.Version != "" {
				u.version = fp.Version
				break
			}
		}
		if u.version != "" {
			out[a] = u
		}
	}
	return out
}

// buildUptake reads the scans up to the covered runs (at most limit of
// them) and measures patch uptake per product.
func (r *Report) buildUptake(ctx context.Context, st *store.Store, covered []model.Run, limit int) error {
	if limit <= 0 {
		limit = 20
	}
	counts, err := st.RunCountsUpTo(ctx, covered[len(covered)-1].ID)
	if err != nil {
		return fmt.Errorf("report uptake: %w", err)
	}
	ids := slices.Sorted(maps.Keys(counts))
	var snaps []snapshot
	for _, id := range ids {
		if counts[id].Services == 0 {
			continue
		}
		run, err := st.Run(ctx, id)
		if err != nil {
			return fmt.Errorf("report uptake: %w", err)
		}
		ss, err := st.Services(ctx, id)
		if err != nil {
			return fmt.Errorf("report uptake: %w", err)
		}
		snaps = append(snaps, snapshot{run: run, units: deviceVersions(ss)})
	}
	// In the order the scans were made, not the order they were stored:
	// a simulated or imported earlier day is stored after later ones (a
	// second `make demo` into the same database), and a scan made after
	// the covered runs is not part of their history.
	slices.SortStableFunc(snaps, func(a, b snapshot) int { return a.run.StartedAt.Compare(b.run.StartedAt) })
	until := covered[len(covered)-1].StartedAt
	for _, c := range covered {
		if c.StartedAt.After(until) {
			until = c.StartedAt
		}
	}
	snaps = slices.DeleteFunc(snaps, func(s snapshot) bool { return s.run.StartedAt.After(until) })
	if len(snaps) > limit {
		snaps = snaps[len(snaps)-limit:]
	}
	if len(snaps) < 2 {
		r.Absent[SecUptake] = "fewer than two scans with identified product versions: no uptake yet"
		return nil
	}
	// Vulnerability matches of every run in the window, each attached to
	// the scan it followed (or was part of): the versions a CVE affects.
	affected := map[string]map[string]bool{} // product \x00 CVE → versions
	kev := map[string]bool{}
	for _, id := range ids {
		ms, err := st.VulnMatches(ctx, id)
		if err != nil {
			return fmt.Errorf("report uptake: %w", err)
		}
		if len(ms) == 0 {
			continue
		}
		// The scan the matches belong to: their own run's, else the last
		// scan made before their run started.
		run, err := st.Run(ctx, id)
		if err != nil {
			return fmt.Errorf("report uptake: %w", err)
		}
		var snap *snapshot
		for i := range snaps {
			if snaps[i].run.ID == id {
				snap = &snaps[i]
				break
			}
			if !snaps[i].run.StartedAt.After(run.StartedAt) {
				snap = &snaps[i]
			}
		}
		if snap == nil {
			continue
		}
		for _, m := range ms {
			if !m.IP.IsValid() || !m.Affects() {
				continue
			}
			u, ok := snap.units[stats.DeviceKey(m.IP)]
			if !ok {
				continue
			}
			k := u.product + "\x00" + m.CVE
			if affected[k] == nil {
				affected[k] = map[string]bool{}
			}
			affected[k][u.version] = true
			kev[m.CVE] = kev[m.CVE] || m.KEV
		}
	}
	r.Uptake = uptake(snaps, affected, kev)
	if len(r.Uptake.Products) == 0 {
		r.Uptake = nil
		r.Absent[SecUptake] = "no product was identified with a version in two scans"
	}
	return nil
}

// uptake computes the section from the scans and the affected versions.
func uptake(snaps []snapshot, affected map[string]map[string]bool, kev map[string]bool) *Uptake {
	u := &Uptake{Scans: []UptakeScan{}, Products: []ProductUptake{}}
	for _, s := range snaps {
		u.Scans = append(u.Scans, UptakeScan{RunID: s.run.ID, At: s.run.StartedAt.UTC()})
	}
	products := map[string]bool{}
	for _, s := range snaps {
		for _, uv := range s.units {
			products[uv.product] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(products)) {
		vendor, product, _ := strings.Cut(p, "\x00")
		pu := ProductUptake{Vendor: vendor, Product: product, Series: []VersionPoint{}}
		history := map[netip.Addr][]string{} // unit → versions, one per scan seen
		for _, s := range snaps {
			for a, uv := range s.units {
				if uv.product != p {
					continue
				}
				history[a] = append(history[a], uv.version)
				if pu.Newest == "" || version.Compare(uv.version, pu.Newest) > 0 {
					pu.Newest = uv.version
				}
			}
		}
		seen := 0
		for _, s := range snaps {
			vs := map[string]int{}
			n, newest := 0, 0
			for _, uv := range s.units {
				if uv.product == p {
					vs[uv.version]++
					n++
				}
			}
			if n == 0 {
				continue
			}
			seen++
			newest = vs[pu.Newest]
			pt := VersionPoint{RunID: s.run.ID, At: s.run.StartedAt.UTC(), Units: n, OnNewest: stats.Ratio(newest, n)}
			for _, v := range slices.SortedFunc(maps.Keys(vs), func(a, b string) int { return version.Compare(b, a) }) {
				pt.Versions = append(pt.Versions, Count{Key: v, Devices: vs[v]})
			}
			pu.Series = append(pu.Series, pt)
		}
		if seen < 2 {
			continue // one scan says nothing of uptake
		}
		for _, vs := range history {
			if len(vs) < 2 {
				continue
			}
			pu.Tracked++
			if slices.Min(vs) == slices.Max(vs) && version.Compare(vs[0], pu.Newest) < 0 {
				pu.NeverUpdated++
			}
		}
		pu.CVEs = cveUptake(p, snaps, affected, kev)
		u.Products = append(u.Products, pu)
	}
	slices.SortFunc(u.Products, func(a, b ProductUptake) int {
		return cmp.Or(cmp.Compare(b.Series[len(b.Series)-1].Units, a.Series[len(a.Series)-1].Units),
			cmp.Compare(a.Vendor, b.Vendor), cmp.Compare(a.Product, b.Product))
	})
	return u
}

// cveUptake follows each CVE matched on product p through the scans.
func cveUptake(p string, snaps []snapshot, affected map[string]map[string]bool, kev map[string]bool) []CVEUptake {
	var out []CVEUptake
	for k, versions := range affected {
		prod, cve, ok := cutLast(k)
		if !ok || prod != p {
			continue
		}
		cu := CVEUptake{CVE: cve, KEV: kev[cve], Affected: slices.SortedFunc(maps.Keys(versions), version.Compare)}
		started := false
		var t0 time.Time
		for _, s := range snaps {
			n := 0
			for _, uv := range s.units {
				if uv.product == p && versions[uv.version] {
					n++
				}
			}
			if !started {
				if n == 0 {
					continue
				}
				started, t0, cu.FirstSeen, cu.AffectedFirst = true, s.run.StartedAt.UTC(), s.run.StartedAt.UTC(), n
			} else if cu.HalfFixedAt == nil && 2*n <= cu.AffectedFirst {
				at := s.run.StartedAt.UTC()
				days := at.Sub(t0).Hours() / 24
				cu.HalfFixedAt, cu.HalfFixedDays = &at, &days
			}
			cu.AffectedLast = n
		}
		if started {
			out = append(out, cu)
		}
	}
	slices.SortFunc(out, func(a, b CVEUptake) int { return cmp.Compare(a.CVE, b.CVE) })
	return out
}

// cutLast splits "vendor\x00product\x00CVE" at its last NUL.
func cutLast(k string) (string, string, bool) {
	i := strings.LastIndexByte(k, 0)
	if i < 0 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}
