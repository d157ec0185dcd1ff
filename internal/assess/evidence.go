package assess

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"iotwatch/internal/affiliation"
	"iotwatch/internal/declare"
	"iotwatch/internal/hostkey"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Evidence is what an assessment reads: the stored measurements of one or
// more runs, plus maker declarations (which live in files, not the store).
type Evidence struct {
	Runs         []model.Run              `json:"runs,omitempty"`
	Assets       []model.Asset            `json:"assets,omitempty"`
	Services     []model.Service          `json:"services,omitempty"`
	Credentials  []model.CredentialResult `json:"credentials,omitempty"`
	Vulns        []model.VulnMatch        `json:"vulns,omitempty"`
	Findings     []model.Finding          `json:"findings,omitempty"`
	Declarations []*declare.Declaration   `json:"declarations,omitempty"`
	// SBOMs are component suppliers read from SBOM files, screened against
	// entity lists.
	SBOMs []SBOMSuppliers `json:"sboms,omitempty"`
	// Stages lists pipeline stages known to have run (scan, audit, vulns,
	// firmware, flows) beyond what Runs record; a pipeline that assesses
	// before finishing its run sets it. A stage that ran and found nothing
	// lets a provision pass instead of staying unknown.
	Stages []string `json:"stages,omitempty"`
	// Coverage lists, per stage (scan, audit, vulns), the devices it looked
	// at (store.Evidence.Covered). With Coverage set, a stage counts for a
	// device only if it looked at that device; without it (evidence built by
	// hand, or a pipeline setting Stages), a stage that ran counts for all.
	Coverage map[string][]netip.Addr `json:"coverage,omitempty"`
	// Versions are the product versions scans saw on each device over time
	// (the newest scans up to the evidence's newest run, oldest first):
	// declared update behaviour is checked against them.
	Versions []UnitVersion `json:"versions,omitempty"`
}

// SBOMSuppliers are the companies one SBOM names (see affiliation.SBOMSuppliers).
type SBOMSuppliers struct {
	// Subject is the model, image name or address the SBOM describes;
	// empty: it applies to every assessed subject.
	Subject   string                `json:"subject,omitempty"`
	Suppliers []affiliation.Subject `json:"suppliers"`
}

// ran reports whether a stage ran, by Evidence.Stages and by the runs'
// kinds and stages (store.RunRan: a "demo" run includes scan, audit and
// vulns). A firmware run's "vulnerabilities" stage matched an image's
// components, not the devices: it is not the vulns stage.
func (ev *Evidence) ran(stage string) bool {
	for _, s := range ev.Stages {
		if store.RunRan(model.Run{Kind: s}, stage) {
			return true
		}
	}
	for _, r := range ev.Runs {
		if store.RunRan(r, stage) {
			return true
		}
	}
	return false
}

// RunKindAssess is the kind of the runs Save records.
const RunKindAssess = "assess"

// LoadEvidence reads the evidence of the given runs, or, with no run ids,
// of every stored run except earlier assessments, through the store's one
// evidence loader (store.LoadEvidence: runs joined by resumption are
// included, each item is kept once, from the newest run).
func LoadEvidence(ctx context.Context, st *store.Store, runIDs ...int64) (Evidence, error) {
	var ev Evidence
	if len(runIDs) == 0 {
		runs, err := st.Runs(ctx, 100000)
		if err != nil {
			return ev, err
		}
		for _, r := range runs {
			if r.Kind != RunKindAssess {
				runIDs = append(runIDs, r.ID)
			}
		}
	}
	se, err := st.LoadEvidence(ctx, runIDs)
	if err != nil {
		return ev, fmt.Errorf("load evidence: %w", err)
	}
	ev.Runs, ev.Assets, ev.Services, ev.Credentials, ev.Vulns, ev.Findings =
		se.Runs, se.Assets, se.Services, se.Credentials, se.Vulns, se.Findings
	ev.Coverage = map[string][]netip.Addr{}
	for stage, devs := range se.Covered {
		for a := range devs {
			ev.Coverage[stage] = append(ev.Coverage[stage], a)
		}
		slices.SortFunc(ev.Coverage[stage], netip.Addr.Compare)
	}
	slices.SortFunc(ev.Runs, func(a, b model.Run) int { return int(b.ID - a.ID) }) // newest first
	if len(ev.Runs) > 0 {
		all, err := st.Runs(ctx, 100000)
		if err != nil {
			return ev, fmt.Errorf("load evidence: %w", err)
		}
		upTo := slices.DeleteFunc(all, func(r model.Run) bool { return r.ID > ev.Runs[0].ID })
		if ev.Versions, err = loadVersions(ctx, st, upTo); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// Subject kinds.
const (
	SubjectDevice  = "device"
	SubjectProduct = "product"
)

// Subject is what one assessment result is about: one device (address) or
// one product model (all its units plus its declaration).
type Subject struct {
	Kind   string       `json:"kind"`
	ID     string       `json:"id"` // address or model
	Vendor string       `json:"vendor,omitempty"`
	Model  string       `json:"model,omitempty"`
	IPs    []netip.Addr `json:"ips,omitempty"`
}

// view is the evidence that concerns one subject.
type view struct {
	subj     Subject
	all      *Evidence
	ix       *index
	memo     map[string]verdict // rule results that do not depend on the provision
	assets   []model.Asset
	services []model.Service
	creds    []model.CredentialResult
	vulns    []model.VulnMatch
	findings []model.Finding
	decl     *declare.Declaration
	hits     []hitRef
	screened []string // names of the entity lists used, empty if none
	opts     *Options
}

func (v *view) has(ip netip.Addr) bool { return slices.Contains(v.subj.IPs, ip) }

// checked reports whether a stage looked at this subject: at one of its
// devices when the evidence says which devices each stage covered, else
// whenever the stage ran. A product subject without units counts any run.
func (v *view) checked(stage string) bool {
	if !v.all.ran(stage) {
		return false
	}
	if v.all.Coverage == nil || len(v.subj.IPs) == 0 {
		return true
	}
	for _, a := range v.subj.IPs {
		if _, ok := slices.BinarySearchFunc(v.all.Coverage[stage], a.Unmap(), netip.Addr.Compare); ok {
			return true
		}
	}
	return false
}

// auditRan reports whether a credential audit (or a pipeline that includes
// one) looked at the subject.
func (v *view) auditRan() bool {
	return len(v.creds) > 0 || v.checked("audit")
}

// source returns the evidence kind a finding came from.
func findingSource(f model.Finding) string {
	for _, e := range f.Evidence {
		if e.Source != "" {
			return e.Source
		}
	}
	return ""
}

// findingsFrom returns the subject's findings whose source is src.
func (v *view) findingsFrom(src string) []model.Finding {
	var out []model.Finding
	for _, f := range v.findings {
		if findingSource(f) == src {
			out = append(out, f)
		}
	}
	return out
}

// index groups the evidence by address once per assessment, so that
// building each subject's view is linear in its own evidence.
type index struct {
	assets   map[netip.Addr][]model.Asset
	services map[netip.Addr][]model.Service
	creds    map[netip.Addr][]model.CredentialResult
	vulns    map[netip.Addr][]model.VulnMatch
	findings map[netip.Addr][]model.Finding
	// evidence whose subject is not an address (firmware images, products)
	otherVulns    []model.VulnMatch
	otherFindings []model.Finding
	// units maps an accepted credential on an identified model to the
	// addresses that accept it (universal default detection).
	units   map[unitKey]map[netip.Addr]bool
	modelOf map[netip.Addr]unitModel
	// keyHolders maps a host key's fingerprint to the addresses serving it.
	keyHolders map[string]map[netip.Addr]bool
	screener   *affiliation.Screener // nil without entity lists
}

type unitModel struct{ key, name string }

type unitKey struct{ model, proto, user, pass string }

func newIndex(ev *Evidence) *index {
	ix := &index{assets: map[netip.Addr][]model.Asset{}, services: map[netip.Addr][]model.Service{},
		creds: map[netip.Addr][]model.CredentialResult{}, vulns: map[netip.Addr][]model.VulnMatch{},
		findings: map[netip.Addr][]model.Finding{}, units: map[unitKey]map[netip.Addr]bool{}, modelOf: map[netip.Addr]unitModel{}}
	for _, a := range ev.Assets {
		ix.assets[a.IP] = append(ix.assets[a.IP], a)
		if a.Product != "" {
			ix.modelOf[a.IP] = unitModel{strings.ToLower(a.Vendor + "|" + a.Product), strings.TrimSpace(a.Vendor + " " + a.Product)}
		}
	}
	ix.keyHolders = map[string]map[netip.Addr]bool{}
	for _, s := range ev.Services {
		ix.services[s.IP] = append(ix.services[s.IP], s)
		if k, ok := hostkey.Of(s); ok {
			if ix.keyHolders[k.Fingerprint] == nil {
				ix.keyHolders[k.Fingerprint] = map[netip.Addr]bool{}
			}
			ix.keyHolders[k.Fingerprint][s.IP] = true
		}
	}
	for _, c := range ev.Credentials {
		ix.creds[c.IP] = append(ix.creds[c.IP], c)
		m := ix.modelOf[c.IP].key
		if m == "" || c.Kind == model.KindAnonymousAccess || !c.Weak() {
			continue
		}
		k := unitKey{m, c.Protocol, c.Username, c.Password}
		if ix.units[k] == nil {
			ix.units[k] = map[netip.Addr]bool{}
		}
		ix.units[k][c.IP] = true
	}
	for _, m := range ev.Vulns {
		if ip, err := netip.ParseAddr(m.Subject); m.IP.IsValid() || err == nil {
			if !m.IP.IsValid() {
				m.IP = ip
			}
			ix.vulns[m.IP] = append(ix.vulns[m.IP], m)
		} else {
			ix.otherVulns = append(ix.otherVulns, m)
		}
	}
	for _, f := range ev.Findings {
		if f.Kind == findingNonconformity || f.Kind == findingAssessment {
			continue // our own output from earlier runs
		}
		if ip, err := netip.ParseAddr(f.Subject); err == nil {
			ix.findings[ip] = append(ix.findings[ip], f)
		} else {
			ix.otherFindings = append(ix.otherFindings, f)
		}
	}
	return ix
}

// build collects the evidence of one subject.
func build(ev *Evidence, ix *index, subj Subject, decl *declare.Declaration, opts *Options) *view {
	v := &view{subj: subj, all: ev, ix: ix, decl: decl, opts: opts}
	for _, ip := range subj.IPs {
		v.assets = append(v.assets, ix.assets[ip]...)
		v.services = append(v.services, ix.services[ip]...)
		v.creds = append(v.creds, ix.creds[ip]...)
		v.vulns = append(v.vulns, ix.vulns[ip]...)
		v.findings = append(v.findings, ix.findings[ip]...)
	}
	for _, m := range ix.otherVulns {
		if v.namesSubject(m.Subject) {
			v.vulns = append(v.vulns, m)
		}
	}
	for _, f := range ix.otherFindings {
		if v.namesSubject(f.Subject) {
			v.findings = append(v.findings, f)
		}
	}
	return v
}

// namesSubject reports whether s (a finding or match subject: an address, an
// image path, a product) refers to this subject: its model name appears in it,
// or it is one of the declared firmware images.
func (v *view) namesSubject(s string) bool {
	if s == "" {
		return false
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return v.has(ip)
	}
	ls := strings.ToLower(s)
	if m := strings.ToLower(v.subj.Model); len(m) >= 3 && strings.Contains(ls, m) {
		return true
	}
	if v.decl != nil {
		base := path.Base(strings.ReplaceAll(s, `\`, "/"))
		for _, img := range v.decl.Product.FirmwareImages {
			if strings.EqualFold(path.Base(img), base) {
				return true
			}
		}
	}
	return false
}

// dataMap returns the evidence data of a finding as a map, if it is one.
func dataMap(d any) map[string]any {
	switch x := d.(type) {
	case map[string]any:
		return x
	case json.RawMessage:
		var m map[string]any
		if json.Unmarshal(x, &m) == nil {
			return m
		}
	default:
		if d == nil {
			return nil
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			return m
		}
	}
	return nil
}

// stringField returns the first non-empty string under any of keys.
func stringField(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
