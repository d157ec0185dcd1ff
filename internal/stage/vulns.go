package stage

import (
	"context"
	"fmt"
	"net/netip"

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
