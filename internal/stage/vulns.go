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
	devs := map[netip.Addr]bool{}
	for _, m := range res.Matches {
		devs[m.IP] = true
		if m.KEV {
			res.KEV++
		}
	}
	res.Devices = len(devs)
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

// VulnsOfInventory re-matches the stored inventory (every identified
// service, as its newest run saw it) against the vulnerability database as
// it is now, recorded as a run of kind "vulns": after `vulndb update`, the
// devices already scanned get the new matches.
func VulnsOfInventory(ctx context.Context, st *store.Store) (*Run, VulnResult, error) {
	run, err := Start(ctx, st, "vulns", []string{"stored inventory"}, []string{"vulns"})
	if err != nil {
		return nil, VulnResult{}, err
	}
	svcs, err := st.IdentifiedServices(ctx)
	var res VulnResult
	if err == nil {
		run.Count("services", int64(len(svcs)))
		res, err = Vulns(ctx, st, run, svcs)
	}
	return run, res, run.Finish(ctx, err)
}
