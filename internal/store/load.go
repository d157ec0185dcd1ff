package store

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"iotwatch/internal/model"
)

// Evidence is what a set of runs measured, each item once: the one
// evidence loader that the assessment, the report, the dashboard and
// `audit --summary` read. When runs measured the same item (a re-run, a
// resumed scan), the newest run's record is kept.
type Evidence struct {
	// Runs are the covered runs, oldest first: the runs asked for and every
	// run joined to them by resumption (LogicalRuns).
	Runs []model.Run
	// Services are every stored service, one per device, port and transport.
	Services []model.Service
	// Credentials are the credential results, one per device, port,
	// protocol, username and password, lockout records included
	// (model.CredentialResult.Weak tells them apart).
	Credentials []model.CredentialResult
	// Vulns are the vulnerability matches, one per subject, port, CVE and CPE.
	Vulns []model.VulnMatch
	// Findings are one per kind, subject and title. A finding stored
	// without a source gets the kind and id of its run as evidence.
	Findings []model.Finding
	// Assets is the inventory.
	Assets []model.Asset
	// Covered records what was looked for on which device: for the stages
	// scan, audit and vulns, the devices with a service or credential result
	// stored by a run that ran the stage. A check that did not run on a
	// device leaves its outcome unknown, never a pass.
	Covered map[string]map[netip.Addr]bool
}

// coveredStages are the stages Covered records.
var coveredStages = []string{StageScan, StageAudit, StageVulns}

// Checked reports whether the stage ran on the device (see Covered).
func (e *Evidence) Checked(stage string, a netip.Addr) bool {
	return e.Covered[normStage(stage)][deviceAddr(a)]
}

// cover records that run r looked at device a.
func (e *Evidence) cover(r model.Run, a netip.Addr) {
	for _, stage := range coveredStages {
		if !RunRan(r, stage) {
			continue
		}
		if e.Covered[stage] == nil {
			e.Covered[stage] = map[netip.Addr]bool{}
		}
		e.Covered[stage][a] = true
	}
}

// Stage names as runs record them. A "demo" run includes scan, audit and
// vulns. StageVulns is vulnerability matching of the devices' services; a
// firmware run's own "vulnerabilities" stage matches components of an image
// and says nothing about devices.
const (
	StageScan  = "scan"
	StageAudit = "audit"
	StageVulns = "vulns"
	StageFlows = "flows"
)

// stageAliases maps other spellings of a stage or run kind to one name.
var stageAliases = map[string]string{"flow": StageFlows, "vuln": StageVulns, "discovery": StageScan}

func normStage(s string) string {
	s = strings.ToLower(s)
	return cmp.Or(stageAliases[s], s)
}

// RunRan reports whether run r ran the named stage (by its kind or stages).
func RunRan(r model.Run, stage string) bool {
	stage = normStage(stage)
	if normStage(r.Kind) == stage || (r.Kind == "demo" && (stage == StageScan || stage == StageAudit || stage == StageVulns)) {
		return true
	}
	return slices.ContainsFunc(r.Stages, func(s string) bool { return normStage(s) == stage })
}

// Ran reports whether any covered run ran the named stage.
func (e *Evidence) Ran(stage string) bool {
	return slices.ContainsFunc(e.Runs, func(r model.Run) bool { return RunRan(r, stage) })
}

// deviceAddr is the address that identifies a device (IPv4-mapped IPv6
// is the IPv4 device); see stats.DeviceKey, which agrees.
func deviceAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// LoadEvidence reads the evidence of the given runs and of every run joined
// to them by resumption.
func (s *Store) LoadEvidence(ctx context.Context, runIDs []int64) (*Evidence, error) {
	ids, err := s.LogicalRuns(ctx, runIDs)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{Covered: map[string]map[netip.Addr]bool{}}
	for _, id := range ids {
		r, err := s.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load evidence: %w", err)
		}
		ev.Runs = append(ev.Runs, r)
	}
	svcs := keyed[model.Service]{}
	creds := keyed[model.CredentialResult]{}
	vulns := keyed[model.VulnMatch]{}
	finds := keyed[model.Finding]{}
	var looked rematched
	for _, r := range ev.Runs { // oldest first: newer records replace older ones
		ss, err := s.Services(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("load evidence of run %d: %w", r.ID, err)
		}
		for _, x := range ss {
			x.IP = deviceAddr(x.IP)
			ev.cover(r, x.IP)
			svcs.put(fmt.Sprintf("%s|%d|%s", x.IP, x.Port, x.Transport), x)
			looked.observe(r, x)
		}
		cs, err := s.Credentials(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("load evidence of run %d: %w", r.ID, err)
		}
		for _, c := range cs {
			c.IP = deviceAddr(c.IP)
			ev.cover(r, c.IP)
			if c.Kind == model.KindLockoutSuspected {
				c.LockoutSuspected = true
			}
			creds.put(fmt.Sprintf("%s|%d|%s|%s|%s", c.IP, c.Port, c.Protocol, c.Username, c.Password), c)
		}
		vs, err := s.VulnMatches(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("load evidence of run %d: %w", r.ID, err)
		}
		for _, v := range vs {
			subj := v.Subject
			if v.IP.IsValid() {
				v.IP = deviceAddr(v.IP)
				subj = cmp.Or(subj, v.IP.String())
				ev.cover(r, v.IP)
			}
			key := fmt.Sprintf("%s|%d|%s|%s", subj, v.Port, v.CVE, v.CPE)
			vulns.put(key, v)
			looked.matched(r.ID, key)
		}
		fs, err := s.Findings(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("load evidence of run %d: %w", r.ID, err)
		}
		for _, f := range fs {
			if len(f.Evidence) == 0 || f.Evidence[0].Source == "" {
				f.Evidence = append([]model.Evidence{{Source: r.Kind, Detail: fmt.Sprintf("run %d", r.ID)}}, f.Evidence...)
			}
			finds.put(f.Kind+"|"+f.Subject+"|"+f.Title, f)
		}
	}
	ev.Services, ev.Credentials, ev.Vulns, ev.Findings = svcs.items, creds.items, looked.current(vulns), finds.items
	if ev.Assets, err = s.Assets(ctx); err != nil {
		return nil, fmt.Errorf("load evidence: %w", err)
	}
	return ev, nil
}

// rematched drops the vulnerability matches a newer run superseded: a
// match an older run made on a device's port no longer counts once a newer
// run that matches vulnerabilities (a scan, an audit, the demo) observed
// that port again and did not make it (the unit installed the fixing
// firmware, the service changed or closed). A re-match without a rescan
// (`vulndb rematch`) stores no service, so its matches count until the next
// scan. Without this the inventory kept, for every unit that updated, the
// vulnerability its old firmware had.
type rematched struct {
	observed map[string]int64 // device|port → newest matching run that saw it
	match    map[string]int64 // match key → run that stored it
}

func portKey(a netip.Addr, port uint16) string { return fmt.Sprintf("%s|%d", deviceAddr(a), port) }

// observe records that run r stored service x (a timeout says nothing).
func (m *rematched) observe(r model.Run, x model.Service) {
	if x.Status == model.StatusTimeout || !RunRan(r, StageVulns) {
		return
	}
	if m.observed == nil {
		m.observed = map[string]int64{}
	}
	k := portKey(x.IP, x.Port)
	m.observed[k] = max(m.observed[k], r.ID)
}

// matched records that run stored the match with this key.
func (m *rematched) matched(run int64, key string) {
	if m.match == nil {
		m.match = map[string]int64{}
	}
	m.match[key] = run
}

// current returns the matches of vs that no newer run superseded, in
// their order.
func (m *rematched) current(vs keyed[model.VulnMatch]) []model.VulnMatch {
	drop := map[int]bool{}
	for key, i := range vs.at {
		if v := vs.items[i]; v.IP.IsValid() && m.observed[portKey(v.IP, v.Port)] > m.match[key] {
			drop[i] = true
		}
	}
	if len(drop) == 0 {
		return vs.items
	}
	out := make([]model.VulnMatch, 0, len(vs.items)-len(drop))
	for i, v := range vs.items {
		if !drop[i] {
			out = append(out, v)
		}
	}
	return out
}

// keyed keeps items in first-seen order, a later item replacing an earlier
// one with the same key.
type keyed[T any] struct {
	at    map[string]int
	items []T
}

func (k *keyed[T]) put(key string, v T) {
	if k.at == nil {
		k.at = map[string]int{}
	}
	if i, ok := k.at[key]; ok {
		k.items[i] = v
		return
	}
	k.at[key] = len(k.items)
	k.items = append(k.items, v)
}

// NewestScannedRun returns the id of the newest run that stored an open
// service (a status other than refused or timeout), or ErrNotFound.
func (s *Store) NewestScannedRun(ctx context.Context) (int64, error) {
	var id *int64
	err := s.db.QueryRowContext(ctx, s.Rebind(`SELECT MAX(run_id) FROM services WHERE status NOT IN (?, ?)`),
		string(model.StatusRefused), string(model.StatusTimeout)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("newest scanned run: %w", err)
	}
	if id == nil {
		return 0, fmt.Errorf("newest scanned run: %w", ErrNotFound)
	}
	return *id, nil
}
