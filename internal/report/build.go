package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/audit"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/store"
)

// reasonAuditClean says the audit ran and found nothing: a measured zero.
const reasonAuditClean = "the credential audit found no weak credentials"

// ErrNoRuns is returned by Build when the store holds no run to report on.
var ErrNoRuns = errors.New("no runs recorded")

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

// closedStatus reports whether a stored service status means nothing listened.
func closedStatus(s model.Status) bool {
	return s == model.StatusRefused || s == model.StatusTimeout
}

// evidence is the deduplicated evidence of the covered runs.
type evidence struct {
	services []model.Service
	creds    []model.CredentialResult // weak credentials only (audit.IsWeak)
	lockouts map[string]bool          // services where the audit suspected lockout and backed off
	vulns    []model.VulnMatch
	findings []model.Finding
	assets   map[netip.Addr]model.Asset
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
	ev, err := loadEvidence(ctx, st, runs)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Title:       cmp.Or(in.Title, "IoT threat assessment"),
		GeneratedAt: now().UTC(),
		Absent:      map[string]string{},
		Method:      methodNotes(),
		showSecrets: in.ShowSecrets,
	}
	for _, run := range runs {
		r.Runs = append(r.Runs, RunRef{ID: run.ID, Kind: run.Kind, Status: run.Status,
			StartedAt: run.StartedAt.UTC(), EndedAt: run.EndedAt.UTC(), Targets: run.Targets})
	}
	r.buildDevices(ev, in.Region)
	audited := stageRan(runs, "audit")
	if _, none := r.Absent[SecWeakCredentials]; none && audited {
		r.Absent[SecWeakCredentials] = reasonAuditClean
	}
	r.buildVulns(ev)
	if _, none := r.Absent[SecVulnerabilities]; none && (stageRan(runs, "vuln") || stageRan(runs, "vulns")) {
		r.Absent[SecVulnerabilities] = "vulnerability matching found no known vulnerabilities on the devices"
	}
	r.buildDeviceRows(ev, in.Region)
	r.buildFindings(ev)
	if err := r.buildProviders(ctx, in); err != nil {
		return nil, err
	}
	if err := r.buildTrends(ctx, st, runs, in.TrendRuns); err != nil {
		return nil, err
	}
	return r, nil
}

// ResolveRuns returns the runs a report with these inputs covers, oldest
// first: RunIDs; else the runs started within [From, To]; else the newest run
// that stored an open service together with every run after it (the audit,
// assessment or firmware runs that built on it), or the newest run when no
// run stored a service. Callers that wire providers needing run ids (the
// assessment) resolve first and set RunIDs.
func ResolveRuns(ctx context.Context, st *store.Store, in Inputs) ([]model.Run, error) {
	var runs []model.Run
	switch {
	case len(in.RunIDs) > 0:
		for _, id := range in.RunIDs {
			run, err := st.Run(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			runs = append(runs, run)
		}
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
			runs = append(runs, run)
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("report: no run started between %s and %s: %w",
				fmtTime(in.From), fmtTime(in.To), ErrNoRuns)
		}
	default:
		var first sql.NullInt64
		err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT MAX(run_id) FROM services WHERE status NOT IN (?, ?)`),
			string(model.StatusRefused), string(model.StatusTimeout)).Scan(&first)
		if err != nil {
			return nil, fmt.Errorf("report: newest scanned run: %w", err)
		}
		if !first.Valid {
			run, err := st.LatestRun(ctx, "", false)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("report: %w", ErrNoRuns)
			}
			if err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			return []model.Run{run}, nil
		}
		all, err := st.Runs(ctx, 100000)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		for _, run := range all {
			if run.ID >= first.Int64 {
				runs = append(runs, run)
			}
		}
	}
	slices.SortFunc(runs, func(a, b model.Run) int { return cmp.Compare(a.ID, b.ID) })
	runs = slices.CompactFunc(runs, func(a, b model.Run) bool { return a.ID == b.ID })
	return runs, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "any time"
	}
	return t.UTC().Format(time.RFC3339)
}

// loadEvidence reads the runs' evidence, later runs overriding earlier ones
// for the same service, credential, match or finding.
func loadEvidence(ctx context.Context, st *store.Store, runs []model.Run) (*evidence, error) {
	ev := &evidence{assets: map[netip.Addr]model.Asset{}, lockouts: map[string]bool{}}
	type svcKey struct {
		ip        netip.Addr
		port      uint16
		transport string
	}
	svcs := map[svcKey]int{}
	type credKey struct {
		ip                        netip.Addr
		port                      uint16
		proto, username, password string
	}
	creds := map[credKey]int{}
	vulns := map[string]int{}
	finds := map[string]int{}
	for _, run := range runs {
		ss, err := st.Services(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("report run %d: %w", run.ID, err)
		}
		for _, s := range ss {
			if !s.IP.IsValid() || closedStatus(s.Status) {
				continue
			}
			k := svcKey{s.IP, s.Port, s.Transport}
			if i, ok := svcs[k]; ok {
				ev.services[i] = s
				continue
			}
			svcs[k] = len(ev.services)
			ev.services = append(ev.services, s)
		}
		cs, err := st.Credentials(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("report run %d: %w", run.ID, err)
		}
		for _, c := range cs {
			if !c.IP.IsValid() {
				continue
			}
			if !audit.IsWeak(c) {
				// The audit backed off this service: no credential was found.
				ev.lockouts[fmt.Sprintf("%s|%d|%s", c.IP, c.Port, c.Protocol)] = true
				continue
			}
			k := credKey{c.IP, c.Port, c.Protocol, c.Username, c.Password}
			if i, ok := creds[k]; ok {
				ev.creds[i] = c
				continue
			}
			creds[k] = len(ev.creds)
			ev.creds = append(ev.creds, c)
		}
		vs, err := st.VulnMatches(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("report run %d: %w", run.ID, err)
		}
		for _, v := range vs {
			k := fmt.Sprintf("%s|%s|%d|%s|%s", v.IP, v.Subject, v.Port, v.CVE, v.CPE)
			if i, ok := vulns[k]; ok {
				ev.vulns[i] = v
				continue
			}
			vulns[k] = len(ev.vulns)
			ev.vulns = append(ev.vulns, v)
		}
		fs, err := st.Findings(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("report run %d: %w", run.ID, err)
		}
		for _, f := range fs {
			k := f.Kind + "|" + f.Subject + "|" + f.Title
			if i, ok := finds[k]; ok {
				ev.findings[i] = f
				continue
			}
			finds[k] = len(ev.findings)
			ev.findings = append(ev.findings, f)
		}
	}
	assets, err := st.Assets(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, a := range assets {
		ev.assets[a.IP] = a
	}
	return ev, nil
}

// identity is what the report knows of one device.
type identity struct{ vendor, product, deviceType string }

// genericTypes are device types that do not say what the device is.
var genericTypes = map[string]bool{"": true, "embedded": true, "general-purpose": true, "server": true, "unknown": true}

// softwareOnly: see model.Fingerprint.SoftwareOnly.
func softwareOnly(f *model.Fingerprint) bool { return f.SoftwareOnly() }

// fpScore ranks how well a fingerprint identifies the device rather than a
// piece of software on it: a specific device type first, then a protocol
// that describes the device, then the fingerprint's own confidence.
func fpScore(proto string, f *model.Fingerprint) float64 {
	score := f.Confidence
	if !genericTypes[f.DeviceType] {
		score += 2
	}
	if protocol.Lookup(proto).Identifies { // the answer names the device, not server software
		score += 1
	}
	return score
}

// serviceFP is a fingerprint with the protocol it came from.
type serviceFP struct {
	proto string
	fp    *model.Fingerprint
}

// identify takes a device's identity from the fingerprint of its services
// that best identifies the device (see fpScore), filling gaps from the other
// fingerprints and then from the asset inventory. Fingerprints of server
// software alone (softwareOnly) do not identify a device: a device known only
// by its OpenSSH or vsftpd banner has an unknown vendor.
func identify(ip netip.Addr, fps []serviceFP, assets map[netip.Addr]model.Asset) identity {
	var id identity
	best := -1.0
	device := make([]serviceFP, 0, len(fps))
	for _, sf := range fps {
		if sf.fp != nil && !softwareOnly(sf.fp) {
			device = append(device, sf)
		}
	}
	fps = device
	for _, sf := range fps {
		f := sf.fp
		if f.Empty() {
			continue // names no vendor or product: only fills gaps below
		}
		if c := fpScore(sf.proto, f); c > best {
			best = c
			id = identity{f.Vendor, f.Product, f.DeviceType}
		}
	}
	for _, sf := range fps {
		if f := sf.fp; f != nil && genericTypes[id.deviceType] && !genericTypes[f.DeviceType] {
			id.deviceType = f.DeviceType
		}
	}
	for _, sf := range fps {
		if f := sf.fp; f != nil {
			if id.vendor == "" && id.product == "" {
				id.vendor, id.product = f.Vendor, f.Product
			}
			id.deviceType = cmp.Or(id.deviceType, f.DeviceType)
		}
	}
	// The inventory's entry may itself come from a scan's server-software
	// fingerprint; the same rule applies to it.
	if a, ok := assets[ip]; ok && !softwareOnly(&model.Fingerprint{Vendor: a.Vendor, Product: a.Product, DeviceType: a.DeviceType, CPE: a.CPE}) {
		id.vendor = cmp.Or(id.vendor, a.Vendor)
		id.product = cmp.Or(id.product, a.Product)
		id.deviceType = cmp.Or(id.deviceType, a.DeviceType)
	}
	return id
}

// buildDevices computes the summary device numbers, the weak-credential
// breakdowns and the inventory.
func (r *Report) buildDevices(ev *evidence, region func(netip.Addr) string) {
	devices := addrSet{}
	fps := map[netip.Addr][]serviceFP{}
	protoDevices := groups{}
	protoServices := map[string]int{}
	for _, s := range ev.services {
		devices.add(s.IP)
		fps[s.IP] = append(fps[s.IP], serviceFP{s.Protocol, s.Fingerprint})
		p := orUnknown(s.Protocol)
		protoDevices.add(p, s.IP)
		protoServices[p]++
	}
	weak := addrSet{}
	weakProto := map[string]addrSet{}
	kinds := map[string]addrSet{}
	type pair struct{ user, pass string }
	pairs := map[pair]addrSet{}
	for _, c := range ev.creds {
		weak.add(c.IP)
		p := orUnknown(c.Protocol)
		if weakProto[p] == nil {
			weakProto[p] = addrSet{}
		}
		weakProto[p].add(c.IP)
		protoDevices.add(p, c.IP) // a login proves the surface even if the scan missed it
		k := orUnknown(c.Kind)
		if kinds[k] == nil {
			kinds[k] = addrSet{}
		}
		kinds[k].add(c.IP)
		pk := pair{c.Username, c.Password}
		if pairs[pk] == nil {
			pairs[pk] = addrSet{}
		}
		pairs[pk].add(c.IP)
	}
	sampled := addrSet{}
	for a := range devices {
		sampled.add(a)
	}
	for a := range weak {
		sampled.add(a)
	}

	s := &r.Summary
	s.Devices = len(devices)
	s.Services = len(ev.services)
	s.DevicesWithWeakCredentials = len(weak)
	s.SampledDevices = len(sampled)
	s.WeakPasswordShare = share(len(weak), len(sampled))
	s.WeakPasswordCI95 = Wilson(len(weak), len(sampled))
	s.CredentialResults = len(ev.creds)
	s.LockoutSuspected = len(ev.lockouts)

	byVendor, byType, bySubnet, byRegion, byProduct := groups{}, groups{}, groups{}, groups{}, groups{}
	for a := range sampled {
		id := identify(a, fps[a], ev.assets)
		byVendor.add(orUnknown(id.vendor), a)
		byType.add(orUnknown(id.deviceType), a)
		bySubnet.add(subnetOf(a), a)
		if id.vendor != "" || id.product != "" {
			byProduct.add(strings.TrimSpace(id.vendor+" "+id.product), a)
		} else {
			byProduct.add("unknown", a)
		}
		if region != nil {
			byRegion.add(orUnknown(region(a)), a)
		}
	}
	isWeak := func(_ string, a netip.Addr) bool { return weak.has(a) }
	w := &r.WeakCredentials
	w.ByVendor = byVendor.shares(isWeak)
	w.ByDeviceType = byType.shares(isWeak)
	w.BySubnet = bySubnet.shares(isWeak)
	w.ByProtocol = protoDevices.shares(func(p string, a netip.Addr) bool { return weakProto[p].has(a) })
	if _, onlyUnknown := byRegion["unknown"]; region != nil && !(onlyUnknown && len(byRegion) == 1) {
		w.ByRegion = byRegion.shares(isWeak)
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

	inv := &r.Inventory
	onlyDevices := func(g groups) groups {
		out := groups{}
		for k, set := range g {
			for a := range set {
				if devices.has(a) {
					out.add(k, a)
				}
			}
		}
		return out
	}
	inv.ByProtocol = []Count{}
	for p, set := range protoDevices {
		n := 0
		for a := range set {
			if devices.has(a) {
				n++
			}
		}
		if protoServices[p] > 0 {
			inv.ByProtocol = append(inv.ByProtocol, Count{Key: p, Devices: n, Services: protoServices[p]})
		}
	}
	sortCounts(inv.ByProtocol)
	inv.ByVendor = onlyDevices(byVendor).counts(nil)
	inv.ByDeviceType = onlyDevices(byType).counts(nil)
	inv.ByProduct = onlyDevices(byProduct).counts(nil)
	inv.BySubnet = onlyDevices(bySubnet).counts(nil)
	if len(devices) == 0 {
		r.Absent[SecInventory] = "no open services stored in the covered runs"
	}
}

// buildVulns computes the vulnerabilities found on devices and firmware.
func (r *Report) buildVulns(ev *evidence) {
	type agg struct {
		row      VulnRow
		devices  addrSet
		products map[string]bool
	}
	byCVE := map[string]*agg{}
	vulnerable, kev := addrSet{}, addrSet{}
	cves := map[string]bool{}
	fwSubjects := map[string]bool{}
	fwCVEs := map[string]bool{}
	for _, v := range ev.vulns {
		cves[v.CVE] = true
		r.Summary.VulnMatches++
		if !v.IP.IsValid() {
			if v.Subject != "" {
				fwSubjects[v.Subject] = true
			}
			fwCVEs[v.CVE] = true
			continue
		}
		vulnerable.add(v.IP)
		if v.KEV {
			kev.add(v.IP)
		}
		a := byCVE[v.CVE]
		if a == nil {
			a = &agg{row: VulnRow{CVE: v.CVE}, devices: addrSet{}, products: map[string]bool{}}
			byCVE[v.CVE] = a
		}
		a.devices.add(v.IP)
		if v.CVSS > a.row.CVSS {
			a.row.CVSS = v.CVSS
		}
		a.row.KEV = a.row.KEV || v.KEV
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
		return cmp.Or(boolDesc(a.KEV, b.KEV), cmp.Compare(b.Devices, a.Devices), cmp.Compare(b.CVSS, a.CVSS), cmp.Compare(a.CVE, b.CVE))
	})
	s := &r.Summary
	s.VulnerableDevices, s.KEVDevices, s.DistinctCVEs = len(vulnerable), len(kev), len(cves)
	s.VulnerableShare = share(len(vulnerable), s.SampledDevices)
	s.KEVShare = share(len(kev), s.SampledDevices)
	s.VulnerableCI95 = Wilson(len(vulnerable), s.SampledDevices)
	s.KEVCI95 = Wilson(len(kev), s.SampledDevices)
	if len(r.Vulnerabilities) == 0 {
		r.Absent[SecVulnerabilities] = "no vulnerability matches on devices in the covered runs"
	}

	// Firmware: component matches without an address, and findings backed by
	// firmware evidence.
	fw := &Firmware{ComponentCVEs: len(fwCVEs), Findings: []FindingRow{}}
	kinds := map[string]map[string]bool{}
	for _, f := range ev.findings {
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

// buildFindings counts findings by severity and kind.
func (r *Report) buildFindings(ev *evidence) {
	sev := map[string]int{}
	kind := map[string]int{}
	for _, f := range ev.findings {
		sev[f.Severity.String()]++
		kind[orUnknown(f.Kind)]++
	}
	r.Findings.Total = len(ev.findings)
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
	for _, f := range ev.findings {
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
	r.Summary.Findings = len(ev.findings)
	if len(ev.findings) == 0 {
		r.Absent[SecFindings] = "no findings stored in the covered runs"
	}
}

// stageRan reports whether any run recorded the named stage.
func stageRan(runs []model.Run, stage string) bool {
	for _, r := range runs {
		for _, s := range r.Stages {
			if strings.EqualFold(s, stage) {
				return true
			}
		}
	}
	return false
}
