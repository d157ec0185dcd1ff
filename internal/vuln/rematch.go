package vuln

// Re-matching: when a source was updated (NVD, OSV, distribution
// advisories, VEX), the stored inventory of identified services and the
// components of the newest firmware analysis (stored with its run, see
// store.SaveComponents) are matched again without a rescan. The result is
// a run of kind "rematch" with the current matches and, in
// vuln_rematch_changes, what changed against the matches it compared
// with: new, withdrawn (the record was withdrawn or no longer matches) or
// fixed (a backport or VEX statement now covers it).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Change kinds of a re-match.
const (
	ChangeNew       = "new"
	ChangeWithdrawn = "withdrawn"
	ChangeFixed     = "fixed"
)

// RunKindRematch is the kind of the runs Rematch records.
const RunKindRematch = "rematch"

// Change is one difference a re-match found.
type Change struct {
	Subject string `json:"subject"` // IP address, or firmware image:path
	Port    uint16 `json:"port,omitempty"`
	CVE     string `json:"cve"`
	Change  string `json:"change"`
	Detail  string `json:"detail,omitempty"` // advisory or VEX document of a fix
}

// RematchResult says what a re-match did.
type RematchResult struct {
	Run       int64    `json:"run"`
	Compared  []int64  `json:"compared"` // runs whose matches were the baseline
	Services  int      `json:"services"`
	Subjects  int      `json:"components"`
	Matches   int      `json:"matches"`
	New       int      `json:"new"`
	Withdrawn int      `json:"withdrawn"`
	Fixed     int      `json:"fixed"`
	Changes   []Change `json:"changes"`
}

type matchKey struct {
	subject string
	port    uint16
	cve     string
}

func keyOf(m *model.VulnMatch) matchKey {
	s := m.Subject
	if m.IP.IsValid() {
		s = m.IP.String()
	}
	return matchKey{s, m.Port, m.CVE}
}

// Rematch matches the stored inventory again — every identified service
// as the newest run that identified it saw it, and the components of the
// newest firmware run — and records the result as a run. The baseline of
// each run the inventory draws from is the newest earlier re-match of that
// run, else the run's own matches. With nothing stored to re-match it
// returns store.ErrNotFound. `vulndb rematch`, `vulndb match --stored` and
// the re-match after an update or import all run it (stage.Rematch).
func (d *DB) Rematch(ctx context.Context) (*RematchResult, error) {
	st := d.st
	res := &RematchResult{Changes: []Change{}}
	var current, all, baseline []model.VulnMatch
	var targets []string

	svcs, err := st.IdentifiedServices(ctx)
	if err != nil {
		return nil, err
	}
	owner, err := d.inventoryRuns(ctx)
	if err != nil {
		return nil, err
	}
	var runs []int64
	for _, r := range owner {
		if !slices.Contains(runs, r) {
			runs = append(runs, r)
		}
	}
	slices.Sort(runs)
	for _, r := range runs {
		base, err := d.baseline(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, m := range base {
			// What the run (or its re-match) said of the endpoints whose
			// newest record is the run's.
			if m.IP.IsValid() && owner[endpointKey{m.IP.String(), m.Port}] == r {
				baseline = append(baseline, m)
			}
		}
		targets = append(targets, strconv.FormatInt(r, 10))
	}
	for _, s := range svcs {
		if s.Fingerprint.Empty() {
			continue
		}
		res.Services++
		ms, err := d.MatchFingerprintAll(ctx, *s.Fingerprint)
		if err != nil {
			return nil, err
		}
		for i := range ms {
			ms[i].IP, ms[i].Port = s.IP, s.Port
		}
		all = append(all, ms...)
	}
	if fw, err := st.LatestRun(ctx, "firmware", true); err == nil {
		prev, err := d.baseline(ctx, fw.ID)
		if err != nil {
			return nil, err
		}
		var base []model.VulnMatch
		for _, m := range prev {
			if !m.IP.IsValid() {
				base = append(base, m)
			}
		}
		baseline = append(baseline, base...)
		targets = append(targets, strconv.FormatInt(fw.ID, 10))
		comps, err := st.Components(ctx, fw.ID)
		if err != nil {
			return nil, err
		}
		if len(comps) == 0 {
			// A run from before components were stored: its components are
			// known by the names their earlier matches carry.
			seen := map[model.Component]bool{}
			for _, m := range base {
				c := model.Component{Subject: m.Subject, CPE: m.CPE, Name: m.Product, Version: m.Version, Distro: m.Distro}
				if m.IP.IsValid() || m.CPE == "" || seen[c] {
					continue
				}
				seen[c] = true
				comps = append(comps, c)
			}
		}
		for _, c := range comps {
			res.Subjects++
			ms, err := d.MatchPackage(ctx, c.CPE, c.Distro)
			if err != nil {
				continue // a stored name that no longer parses matches nothing
			}
			for i := range ms {
				ms[i].Subject, ms[i].Product, ms[i].Version = c.Subject, c.Name, c.Version
			}
			all = append(all, ms...)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("rematch: no identified service or firmware run stored: %w", store.ErrNotFound)
	}
	if err := d.applyVEX(ctx, all); err != nil {
		return nil, err
	}
	byKey := map[matchKey]*model.VulnMatch{}
	for i := range all {
		byKey[keyOf(&all[i])] = &all[i]
		if all[i].Affects() {
			current = append(current, all[i])
		}
	}
	old := map[matchKey]bool{}
	for i := range baseline {
		old[keyOf(&baseline[i])] = true
	}
	for i := range current {
		if k := keyOf(&current[i]); !old[k] {
			res.Changes = append(res.Changes, Change{Subject: k.subject, Port: k.port, CVE: k.cve, Change: ChangeNew})
		}
	}
	for k := range old {
		m := byKey[k]
		switch {
		case m == nil:
			res.Changes = append(res.Changes, Change{Subject: k.subject, Port: k.port, CVE: k.cve, Change: ChangeWithdrawn})
		case !m.Affects():
			res.Changes = append(res.Changes, Change{Subject: k.subject, Port: k.port, CVE: k.cve, Change: ChangeFixed,
				Detail: fmt.Sprintf("%s %s %s", m.Advisory, m.FixedIn, m.Justification)})
		}
	}
	sort.Slice(res.Changes, func(i, j int) bool {
		a, b := res.Changes[i], res.Changes[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.CVE < b.CVE
	})
	for i := range res.Changes {
		res.Changes[i].Detail = strings.Join(strings.Fields(res.Changes[i].Detail), " ")
		switch res.Changes[i].Change {
		case ChangeNew:
			res.New++
		case ChangeWithdrawn:
			res.Withdrawn++
		case ChangeFixed:
			res.Fixed++
		}
	}
	res.Matches = len(current)
	for _, t := range targets {
		id, _ := strconv.ParseInt(t, 10, 64)
		res.Compared = append(res.Compared, id)
	}

	run := &model.Run{Kind: RunKindRematch, Targets: targets, Stages: []string{"vulndb"}}
	if err := st.StartRun(ctx, run); err != nil {
		return nil, err
	}
	res.Run = run.ID
	err = st.SaveVulnMatches(ctx, run.ID, current)
	if err == nil {
		err = d.saveChanges(ctx, run.ID, res.Changes)
	}
	run.Counts = map[string]int64{"matches": int64(res.Matches), "new": int64(res.New), "withdrawn": int64(res.Withdrawn), "fixed": int64(res.Fixed)}
	return res, st.EndRun(ctx, run, err)
}

type endpointKey struct {
	ip   string
	port uint16
}

// inventoryRuns returns, for every identified endpoint, the newest run
// that identified it (the run whose record store.IdentifiedServices
// returns).
func (d *DB) inventoryRuns(ctx context.Context) (map[endpointKey]int64, error) {
	rows, err := d.st.DB().QueryContext(ctx, `SELECT ip, port, MAX(run_id) FROM services WHERE fingerprint <> '' GROUP BY ip, port, transport`)
	if err != nil {
		return nil, fmt.Errorf("rematch inventory: %w", err)
	}
	defer rows.Close()
	out := map[endpointKey]int64{}
	for rows.Next() {
		var k endpointKey
		var port int
		var run int64
		if err := rows.Scan(&k.ip, &port, &run); err != nil {
			return nil, fmt.Errorf("rematch inventory: %w", err)
		}
		k.port = uint16(port)
		out[k] = max(out[k], run) // TCP and UDP of one port: the newer
	}
	return out, rows.Err()
}

// baseline returns the matches to compare run's re-match with: those of
// the newest complete re-match of run, else run's own.
func (d *DB) baseline(ctx context.Context, run int64) ([]model.VulnMatch, error) {
	var id int64
	err := d.st.DB().QueryRowContext(ctx, d.q(`SELECT COALESCE(MAX(id), 0) FROM runs WHERE kind = ? AND status = ? AND targets LIKE ?`),
		RunKindRematch, model.RunComplete, "%\""+strconv.FormatInt(run, 10)+"\"%").Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("rematch baseline: %w", err)
	}
	if id == 0 {
		id = run
	}
	return d.st.VulnMatches(ctx, id)
}

func (d *DB) saveChanges(ctx context.Context, run int64, cs []Change) error {
	if len(cs) == 0 {
		return nil
	}
	rows := make([][]any, len(cs))
	for i, c := range cs {
		rows[i] = []any{run, c.Subject, int(c.Port), c.CVE, c.Change, c.Detail}
	}
	return d.st.Tx(ctx, func(tx *sql.Tx) error {
		return d.insertRows(ctx, tx, "vuln_rematch_changes", "run_id, subject, port, cve, change, detail", rows)
	})
}

// RematchChanges returns the differences a re-match run recorded.
func (d *DB) RematchChanges(ctx context.Context, run int64) ([]Change, error) {
	rows, err := d.st.DB().QueryContext(ctx, d.q(`SELECT subject, port, cve, change, detail FROM vuln_rematch_changes
		WHERE run_id = ? ORDER BY subject, port, cve`), run)
	if err != nil {
		return nil, fmt.Errorf("rematch changes: %w", err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		var port int
		if err := rows.Scan(&c.Subject, &port, &c.CVE, &c.Change, &c.Detail); err != nil {
			return nil, err
		}
		c.Port = uint16(port)
		out = append(out, c)
	}
	return out, rows.Err()
}
