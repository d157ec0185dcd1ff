package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
)

// reasonAuditClean says the audit ran and found nothing: a measured zero.
const reasonAuditClean = "the credential audit found no weak credentials"

// ErrNoRuns is returned by Build when the store holds no run to report on.
var ErrNoRuns = errors.New("no runs recorded")

// NoRunsHint says what gives a report its first run; the CLI and the
// dashboard add it to ErrNoRuns.
const NoRunsHint = "run `iotwatch demo` or a scan first"

// Section keys used in Report.Absent.
const (
	SecVulnArchive     = "vulnerability_archive"
	SecCompromise      = "compromise"
	SecDestinations    = "destinations"
	SecWeakCredentials = "weak_credentials"
	SecInventory       = "inventory"
	SecVulnerabilities = "vulnerabilities"
	SecFirmware        = "firmware"
	SecFindings        = "findings"
	SecAssessment      = "assessment"
	SecTrends          = "trends"
)

// evidence is the covered runs' evidence as the report reads it.
type evidence struct {
	*store.Evidence
	open     []model.Service          // open services only
	creds    []model.CredentialResult // weak credentials only (model.CredentialResult.Weak)
	lockouts int                      // services where the audit suspected lockout and backed off
	unknown  int                      // services whose acceptances could not be told from a wrong password's
	devices  []*stats.Device          // the sample (stats.Population)
}

// newEvidence splits the store's evidence the way the report counts it.
func newEvidence(se *store.Evidence) *evidence {
	ev := &evidence{Evidence: se}
	for _, s := range se.Services {
		if s.IP.IsValid() && s.Status != model.StatusRefused && s.Status != model.StatusTimeout {
			ev.open = append(ev.open, s)
		}
	}
	locked, unknown := map[string]bool{}, map[string]bool{}
	for _, c := range se.Credentials {
		switch {
		case !c.IP.IsValid():
		case c.Weak():
			ev.creds = append(ev.creds, c)
		case c.Kind == model.KindUnknownVerdict: // a wrong password was accepted too
			unknown[fmt.Sprintf("%s|%d|%s", c.IP, c.Port, c.Protocol)] = true
		default: // the audit backed off this service: no credential was found
			locked[fmt.Sprintf("%s|%d|%s", c.IP, c.Port, c.Protocol)] = true
		}
	}
	ev.lockouts, ev.unknown = len(locked), len(unknown)
	ev.devices = stats.Population(ev.open, ev.creds)
	return ev
}

// Build reads the evidence of the selected runs from st, asks the optional
// providers for theirs and computes the report. A provider that fails or has
// nothing leaves its section absent with the reason; Build fails only when the
// store cannot be read or holds no run.
func Build(ctx context.Context, st *store.Store, in Inputs) (*Report, error) {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	runs, err := ResolveRuns(ctx, st, in)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(runs))
	for i, run := range runs {
		ids[i] = run.ID
	}
	se, err := st.LoadEvidence(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	runs = se.Runs // with the runs joined by resumption
	ev := newEvidence(se)
	r := &Report{
		Title:       cmp.Or(in.Title, "IoT threat assessment"),
		GeneratedAt: now().UTC(),
		Absent:      map[string]string{},
		Method:      methodNotes(),
		showSecrets: in.ShowSecrets,
	}
	for _, run := range runs {
		r.Runs = append(r.Runs, RunRef{ID: run.ID, Kind: run.Kind, Status: run.Status,
			StartedAt: run.StartedAt.UTC(), EndedAt: run.EndedAt.UTC(), Targets: run.Targets, Parent: run.Parent})
	}
	r.buildDevices(ev, in.Region)
	if _, none := r.Absent[SecWeakCredentials]; none && se.Ran(store.StageAudit) {
		r.Absent[SecWeakCredentials] = reasonAuditClean
	}
	r.buildVulns(ev)
	if _, none := r.Absent[SecVulnerabilities]; none && se.Ran(store.StageVulns) {
		r.Absent[SecVulnerabilities] = "vulnerability matching found no known vulnerabilities on the devices"
	}
	r.buildDeviceRows(ev, in.Region)
	r.buildFindings(ev)
	r.buildSharedKeys(ev)
	if err := r.buildProviders(ctx, in); err != nil {
		return nil, err
	}
	if err := r.buildInsight(ctx, ev, in); err != nil {
		return nil, err
	}
	if err := r.buildTrends(ctx, st, runs, in.TrendRuns); err != nil {
		return nil, err
	}
	if err := r.buildUptake(ctx, st, runs, in.TrendRuns); err != nil {
		return nil, err
	}
	return r, nil
}

// Audited reports whether the covered runs audited credentials: without an
// audit the weak-credential share is not measured (0 of the sample is not a
// finding).
func (r *Report) Audited() bool {
	reason, none := r.Absent[SecWeakCredentials]
	return !none || reason == reasonAuditClean
}

// runKindFirmware is the kind of the runs of `firmware analyze` and of
// firmware jobs.
const runKindFirmware = "firmware"

// ResolveRuns returns the runs a report with these inputs covers, oldest
// first: RunIDs; else the runs started within [From, To]; else the newest run
// that stored an open service together with every run after it (the audit,
// assessment or firmware runs that built on it) and the newest complete
// analysis of each firmware image analysed before it, or the newest run when
// no run stored a service. In every case the runs joined to these by
// resumption (a resumed scan and the scan it continues) are covered too:
// they are one logical run. Callers that wire providers needing run ids (the
// assessment) resolve first and set RunIDs.
func ResolveRuns(ctx context.Context, st *store.Store, in Inputs) ([]model.Run, error) {
	var ids []int64
	switch {
	case len(in.RunIDs) > 0:
		ids = in.RunIDs
	case !in.From.IsZero() || !in.To.IsZero():
		all, err := st.Runs(ctx, 100000)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		for _, run := range all {
			if !in.From.IsZero() && run.StartedAt.Before(in.From) {
				continue
			}
			if !in.To.IsZero() && run.StartedAt.After(in.To) {
				continue
			}
			ids = append(ids, run.ID)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("report: no run started between %s and %s: %w",
				fmtTime(in.From), fmtTime(in.To), ErrNoRuns)
		}
	default:
		first, err := st.NewestScannedRun(ctx)
		if errors.Is(err, store.ErrNotFound) {
			run, err := st.LatestRun(ctx, "", false)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("report: %w", ErrNoRuns)
			}
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			ids = []int64{run.ID}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		all, err := st.Runs(ctx, 100000)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		// Firmware analysed before the scan is evidence about the same
		// devices (an observatory analyses each image once; the demo and
		// the jobs walk-through analyse images first so that the audit
		// can try their accounts): the newest complete analysis of each
		// image is covered too.
		images := map[string]bool{}
		for _, run := range all { // newest first
			if run.ID >= first {
				ids = append(ids, run.ID)
				if run.Kind == runKindFirmware {
					images[strings.Join(run.Targets, "\x00")] = true
				}
				continue
			}
			if key := strings.Join(run.Targets, "\x00"); run.Kind == runKindFirmware && run.Status == model.RunComplete && !images[key] {
				images[key] = true
				ids = append(ids, run.ID)
			}
		}
		slices.Sort(ids)
	}
	ids, err := st.LogicalRuns(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	runs := make([]model.Run, 0, len(ids))
	for _, id := range ids {
		run, err := st.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "any time"
	}
	return t.UTC().Format(time.RFC3339)
}

// buildDevices computes the summary device numbers, the weak-credential
// breakdowns (stats.Summarize) and the inventory.
func (r *Report) buildDevices(ev *evidence, region func(netip.Addr) string) {
	sum := stats.Summarize(ev.devices, region)
	s := &r.Summary
	s.Services = len(ev.open)
	s.SampledDevices = sum.Overall.Devices
	s.DevicesWithWeakCredentials = sum.Overall.Weak
	s.WeakPasswordShare = sum.Overall.Share
	s.WeakPasswordCI95 = sum.Overall.CI95
	s.CredentialResults = len(ev.creds)
	s.LockoutSuspected = ev.lockouts
	s.UnknownVerdicts = ev.unknown

	w := &r.WeakCredentials
	w.ByVendor, w.ByDeviceType, w.ByProtocol, w.BySubnet, w.ByRegion = sum.ByVendor, sum.ByDeviceType, sum.ByProtocol, sum.BySubnet, sum.ByRegion
	kinds := map[string]map[netip.Addr]bool{}
	type pair struct{ user, pass string }
	pairs := map[pair]map[netip.Addr]bool{}
	fwImages := map[string]map[netip.Addr]bool{}
	fwDevices := map[netip.Addr]bool{}
	fwCreds := 0
	for _, c := range ev.creds {
		if img, ok := model.FirmwareImageOf(c.Source); ok {
			fwCreds++
			fwDevices[c.IP] = true
			if fwImages[img] == nil {
				fwImages[img] = map[netip.Addr]bool{}
			}
			fwImages[img][c.IP] = true
		}
		k := orUnknown(c.Kind)
		if kinds[k] == nil {
			kinds[k] = map[netip.Addr]bool{}
		}
		kinds[k][c.IP] = true
		pk := pair{c.Username, c.Password}
		if pairs[pk] == nil {
			pairs[pk] = map[netip.Addr]bool{}
		}
		pairs[pk][c.IP] = true
	}
	if fwCreds > 0 {
		w.Firmware = &FirmwareProven{Credentials: fwCreds, Devices: len(fwDevices), Images: []Count{}}
		for img, set := range fwImages {
			w.Firmware.Images = append(w.Firmware.Images, Count{Key: img, Devices: len(set)})
		}
		sortCounts(w.Firmware.Images)
	}
	w.ByKind = []Count{}
	for k, set := range kinds {
		w.ByKind = append(w.ByKind, Count{Key: k, Devices: len(set)})
	}
	sortCounts(w.ByKind)
	w.TopPairs = []CredPair{}
	for p, set := range pairs {
		w.TopPairs = append(w.TopPairs, CredPair{Username: p.user, Password: r.secret(p.pass), Devices: len(set)})
	}
	slices.SortFunc(w.TopPairs, func(a, b CredPair) int {
		return cmp.Or(cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Username, b.Username), cmp.Compare(a.Password, b.Password))
	})
	if len(ev.creds) == 0 {
		r.Absent[SecWeakCredentials] = "no credential audit results in the covered runs"
	}

	// The inventory counts scanned devices only.
	protoServices := map[string]int{}
	for _, sv := range ev.open {
		protoServices[orUnknown(sv.Protocol)]++
	}
	vendor, dtype, product, subnet, proto := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, d := range ev.devices {
		if !d.Scanned {
			continue
		}
		s.Devices++
		id := d.Identity
		vendor[orUnknown(id.Vendor)]++
		dtype[orUnknown(id.DeviceType)]++
		product[orUnknown(strings.TrimSpace(id.Vendor+" "+id.Product))]++
		subnet[stats.SubnetKey(d.Addr)]++
		for p := range d.Protocols {
			if protoServices[p] > 0 {
				proto[p]++
			}
		}
	}
	inv := &r.Inventory
	inv.ByProtocol = tally(proto)
	for i := range inv.ByProtocol {
		inv.ByProtocol[i].Services = protoServices[inv.ByProtocol[i].Key]
	}
	inv.ByVendor, inv.ByDeviceType, inv.ByProduct, inv.BySubnet = tally(vendor), tally(dtype), tally(product), tally(subnet)
	if s.Devices == 0 {
		r.Absent[SecInventory] = "no open services stored in the covered runs"
	}
}

// buildVulns computes the vulnerabilities found on devices and firmware.
func (r *Report) buildVulns(ev *evidence) {
	type agg struct {
		row      VulnRow
		devices  map[netip.Addr]bool
		products map[string]bool
	}
	byCVE := map[string]*agg{}
	vulnerable, kev := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	cves := map[string]bool{}
	// Firmware images: the image each firmware run analysed, and the image
	// a firmware finding names. A component match's subject is
	// "image:path", one per component, so it does not count images.
	fwSubjects := map[string]bool{}
	for _, run := range ev.Runs {
		if run.Kind == "firmware" && len(run.Targets) > 0 {
			fwSubjects[run.Targets[0]] = true
		}
	}
	fwCVEs := map[string]bool{}
	for _, v := range ev.Vulns {
		cves[v.CVE] = true
		r.Summary.VulnMatches++
		if !v.IP.IsValid() {
			fwCVEs[v.CVE] = true
			continue
		}
		vulnerable[v.IP] = true
		if v.KEV {
			kev[v.IP] = true
		}
		a := byCVE[v.CVE]
		if a == nil {
			a = &agg{row: VulnRow{CVE: v.CVE}, devices: map[netip.Addr]bool{}, products: map[string]bool{}}
			byCVE[v.CVE] = a
		}
		a.devices[v.IP] = true
		if v.CVSS > a.row.CVSS {
			a.row.CVSS = v.CVSS
		}
		a.row.KEV = a.row.KEV || v.KEV
		a.row.EPSS = max(a.row.EPSS, v.EPSS)
		if p := strings.TrimSpace(v.Product + " " + v.Version); p != "" {
			a.products[p] = true
		}
		a.row.Summary = cmp.Or(a.row.Summary, v.Summary)
	}
	r.Vulnerabilities = []VulnRow{}
	for _, a := range byCVE {
		a.row.Devices = len(a.devices)
		a.row.Severity = model.SeverityFromCVSS(a.row.CVSS).String()
		a.row.Products = []string{}
		for p := range a.products {
			a.row.Products = append(a.row.Products, p)
		}
		slices.Sort(a.row.Products)
		r.Vulnerabilities = append(r.Vulnerabilities, a.row)
	}
	slices.SortFunc(r.Vulnerabilities, func(a, b VulnRow) int {
		return cmp.Or(boolDesc(a.KEV, b.KEV), cmp.Compare(b.EPSS, a.EPSS), cmp.Compare(b.Devices, a.Devices), cmp.Compare(b.CVSS, a.CVSS), cmp.Compare(a.CVE, b.CVE))
	})
	s := &r.Summary
	s.VulnerableDevices, s.KEVDevices, s.DistinctCVEs = len(vulnerable), len(kev), len(cves)
	s.VulnerableShare = stats.Ratio(len(vulnerable), s.SampledDevices)
	s.KEVShare = stats.Ratio(len(kev), s.SampledDevices)
	s.VulnerableCI95 = stats.Wilson(len(vulnerable), s.SampledDevices)
	s.KEVCI95 = stats.Wilson(len(kev), s.SampledDevices)
	if len(r.Vulnerabilities) == 0 {
		r.Absent[SecVulnerabilities] = "no vulnerability matches on devices in the covered runs"
	}

	// Firmware: component matches without an address, and findings backed by
	// firmware evidence.
	fw := &Firmware{ComponentCVEs: len(fwCVEs), Findings: []FindingRow{}}
	kinds := map[string]map[string]bool{}
	for _, f := range ev.Findings {
		if !isFirmwareFinding(f) {
			continue
		}
		fwSubjects[f.Subject] = true
		if kinds[f.Kind] == nil {
			kinds[f.Kind] = map[string]bool{}
		}
		kinds[f.Kind][f.Subject] = true
		fw.Findings = append(fw.Findings, FindingRow{Kind: f.Kind, Severity: f.Severity.String(), Subject: f.Subject, Title: f.Title})
	}
	fw.Images = len(fwSubjects)
	fw.ByKind = []Count{}
	for k, subj := range kinds {
		fw.ByKind = append(fw.ByKind, Count{Key: k, Devices: len(subj)})
	}
	sortCounts(fw.ByKind)
	sortFindingRows(fw.Findings)
	s.FirmwareImages = fw.Images
	if fw.Images == 0 && len(fw.Findings) == 0 {
		r.Absent[SecFirmware] = "no firmware analysed in the covered runs"
		return
	}
	r.Firmware = fw
}

func boolDesc(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

// isFirmwareFinding reports whether a finding comes from firmware analysis,
// that is, carries evidence whose source is "firmware".
func isFirmwareFinding(f model.Finding) bool {
	for _, e := range f.Evidence {
		if e.Source == "firmware" {
			return true
		}
	}
	return false
}

func sortFindingRows(rows []FindingRow) {
	slices.SortFunc(rows, func(a, b FindingRow) int {
		sa, _ := model.ParseSeverity(a.Severity)
		sb, _ := model.ParseSeverity(b.Severity)
		return cmp.Or(cmp.Compare(sb, sa), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Title, b.Title))
	})
}

// assessmentKinds are the kinds of finding `assess` stores for its own
// conclusions (one per failed provision, one record per subject and
// baseline): the assessment section counts them; as findings they swamped
// the evidence (8,715 findings after make demo, 23 of them evidence).
var assessmentKinds = map[string]bool{"nonconformity": true, "assessment": true}

// buildFindings counts findings by severity and kind, the assessment's
// own conclusions left to the assessment section.
func (r *Report) buildFindings(ev *evidence) {
	var found []model.Finding
	for _, f := range ev.Findings {
		if !assessmentKinds[f.Kind] {
			found = append(found, f)
		}
	}
	sev := map[string]int{}
	kind := map[string]int{}
	for _, f := range found {
		sev[f.Severity.String()]++
		kind[orUnknown(f.Kind)]++
	}
	r.Findings.Total = len(found)
	r.Findings.BySeverity = []Count{}
	for s := model.SeverityCritical; s >= model.SeverityInfo; s-- {
		if n := sev[s.String()]; n > 0 {
			r.Findings.BySeverity = append(r.Findings.BySeverity, Count{Key: s.String(), Devices: n})
		}
	}
	r.Findings.ByKind = tally(kind)
	type gkey struct {
		title, kind string
		sev         model.Severity
	}
	subjects := map[gkey]map[string]bool{}
	for _, f := range found {
		k := gkey{f.Title, f.Kind, f.Severity}
		if subjects[k] == nil {
			subjects[k] = map[string]bool{}
		}
		subjects[k][f.Subject] = true
	}
	r.Findings.Top = make([]FindingGroup, 0, len(subjects))
	for k, set := range subjects {
		r.Findings.Top = append(r.Findings.Top, FindingGroup{Title: k.title, Kind: k.kind, Severity: k.sev.String(), Subjects: len(set)})
	}
	slices.SortFunc(r.Findings.Top, func(a, b FindingGroup) int {
		sa, _ := model.ParseSeverity(a.Severity)
		sb, _ := model.ParseSeverity(b.Severity)
		return cmp.Or(cmp.Compare(sb, sa), cmp.Compare(b.Subjects, a.Subjects), cmp.Compare(a.Title, b.Title), cmp.Compare(a.Kind, b.Kind))
	})
	r.Summary.Findings = len(found)
	if len(found) == 0 {
		r.Absent[SecFindings] = "no findings stored in the covered runs"
	}
}
