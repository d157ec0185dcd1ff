package stage

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

// VulnResult is what the vulnerability stage found.
type VulnResult struct {
	Matches []model.VulnMatch
	Devices int // addresses with at least one match
	KEV     int // matches in CISA's Known Exploited Vulnerabilities
	// KEVDevices are the addresses with at least one KEV match (the
	// report's kev_devices; a device's KEV CVE may match on several ports).
	KEVDevices int
}

// Vulns matches the fingerprinted services against the offline
// vulnerability database (the embedded seed when the database holds none)
// and stores the matches as run's. Scan, audit and the demo all run it.
func Vulns(ctx context.Context, st *store.Store, run *Run, services []model.Service) (VulnResult, error) {
	var res VulnResult
	if st == nil { // nothing recorded, no database to match against
		return res, nil
	}
	vdb, err := vuln.Open(ctx, st)
	if err == nil {
		err = vdb.EnsureSeed(ctx)
	}
	if err != nil {
		return res, fmt.Errorf("vulnerability database: %w", err)
	}
	res.Matches, err = vdb.MatchServices(ctx, services)
	if err != nil {
		return res, fmt.Errorf("vulnerability match: %w", err)
	}
	devs, kev := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, m := range res.Matches {
		devs[m.IP] = true
		if m.KEV {
			res.KEV++
			kev[m.IP] = true
		}
	}
	res.Devices, res.KEVDevices = len(devs), len(kev)
	if run.Recorded() {
		if err := st.SaveVulnMatches(context.WithoutCancel(ctx), run.ID, res.Matches); err != nil {
			return res, err
		}
	}
	run.Count("vuln_matches", int64(len(res.Matches)))
	return res, nil
}

// VulnsOfRun runs the vulnerability stage on the services of run's logical
// run: a resumed scan also matches what the scans it continues found before
// they were interrupted or killed (the newest record of each endpoint).
func VulnsOfRun(ctx context.Context, st *store.Store, run *Run) (VulnResult, error) {
	if !run.Recorded() {
		return VulnResult{}, nil
	}
	ids, err := st.LogicalRuns(ctx, []int64{run.ID})
	if err != nil {
		return VulnResult{}, err
	}
	type endpoint struct {
		ip        netip.Addr
		port      uint16
		transport string
	}
	seen := map[endpoint]bool{}
	var svcs []model.Service
	for _, id := range slices.Backward(ids) { // newest first
		ss, err := st.Services(ctx, id)
		if err != nil {
			return VulnResult{}, err
		}
		for _, s := range ss {
			if k := (endpoint{s.IP, s.Port, s.Transport}); !seen[k] {
				seen[k] = true
				svcs = append(svcs, s)
			}
		}
	}
	return Vulns(ctx, st, run, svcs)
}

// RematchOptions describe a re-match.
type RematchOptions struct {
	// DB is the vulnerability database to match with; nil opens the
	// store's (with the embedded seed when it holds none).
	DB *vuln.DB
}

// Rematch matches the stored inventory again (every identified service as
// its newest run saw it, and the newest firmware run's components) against
// the vulnerability database as it is now, without a rescan, and records a
// run of kind "rematch" with the current matches and what changed against
// the previous ones: new, withdrawn, fixed (see vuln.DB.Rematch). `vulndb
// rematch`, `vulndb match --stored` and the re-match after `vulndb update`
// or `import` all run it. With nothing stored it returns store.ErrNotFound.
func Rematch(ctx context.Context, st *store.Store, opts RematchOptions) (*vuln.RematchResult, error) {
	d := opts.DB
	if d == nil {
		var err error
		if d, err = vuln.Open(ctx, st); err == nil {
			err = d.EnsureSeed(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("vulnerability database: %w", err)
		}
	}
	return d.Rematch(ctx)
}
