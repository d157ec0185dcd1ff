// Package assess decides, for each device or product model, every provision
// of the security baselines iotwatch knows — ETSI EN 303 645 (all 68
// provisions of V2.1.1 plus V3 additions), UK PSTI, EU CRA Annex I, NISTIR
// 8259A and the policy norms of the brief — from the evidence the other
// stages stored (scan, audit, firmware, flows, vulnerability matches) and the
// maker's declaration. Each provision gets pass, fail, not-applicable or
// unknown, with the rule that applied, the reason and references to the
// evidence. The catalogue is data (catalogue.yaml); the rules are Go (rules*.go).
package assess

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"iotwatch/internal/affiliation"
	"iotwatch/internal/declare"
	"iotwatch/internal/model"
	"iotwatch/internal/stats"
)

// Options select what to assess and how.
type Options struct {
	Device      netip.Addr          // assess only this device
	Product     string              // assess only this product model (all its units)
	Baselines   []string            // baseline ids; empty or "all": every baseline
	EntityLists []*affiliation.List // lists to screen companies against
	Screen      affiliation.Options // screening thresholds
	ShowSecrets bool                // show passwords in evidence references unredacted
	Now         time.Time           // clock; zero means time.Now()
}

// Counts are headline numbers.
type Counts struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Unknown       int `json:"unknown"`
	NotApplicable int `json:"not_applicable"`
	MandatoryFail int `json:"mandatory_fail"`
	MandatoryPass int `json:"mandatory_pass"`
	MandatoryAll  int `json:"mandatory_applicable"` // mandatory provisions not "not-applicable"
	Observed      int `json:"decided_by_observation"`
	Declared      int `json:"decided_by_declaration"`
}

func (c *Counts) add(p ProvisionResult) {
	switch p.Outcome {
	case Pass:
		c.Pass++
	case Fail:
		c.Fail++
	case Unknown:
		c.Unknown++
	case NotApplicable:
		c.NotApplicable++
	}
	if p.Status == Mandatory && p.Outcome != NotApplicable {
		c.MandatoryAll++
		switch p.Outcome {
		case Fail:
			c.MandatoryFail++
		case Pass:
			c.MandatoryPass++
		}
	}
	if p.Outcome == Pass || p.Outcome == Fail {
		switch p.Basis {
		case BasisDeclared:
			c.Declared++
		default:
			c.Observed++
		}
	}
}

// ProvisionResult is the outcome of one provision for one subject.
type ProvisionResult struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Summary  string   `json:"summary"`
	Status   string   `json:"status"` // mandatory, recommended
	Edition  string   `json:"edition,omitempty"`
	Evidence []string `json:"evidence_kinds"`
	Rule     string   `json:"rule"` // rule name, "statement" or "none"
	Outcome  string   `json:"outcome"`
	Basis    string   `json:"basis,omitempty"`
	Reason   string   `json:"reason"`
	Refs     []Ref    `json:"refs,omitempty"`
}

// BaselineResult is one baseline's outcomes for one subject.
type BaselineResult struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	Provisions []ProvisionResult `json:"provisions"`
	Counts     Counts            `json:"counts"`
}

// SubjectResult is the assessment of one device or product.
type SubjectResult struct {
	Subject     Subject                  `json:"subject"`
	Declaration string                   `json:"declaration,omitempty"` // file the declaration came from
	Baselines   []BaselineResult         `json:"baselines"`
	Counts      Counts                   `json:"counts"`
	Tier        string                   `json:"tier"`
	TierReason  string                   `json:"tier_reason"`
	Facts       Facts                    `json:"facts"`
	EntityHits  []affiliation.Hit        `json:"entity_hits,omitempty"`
	TrustMark   *declare.TrustMarkRecord `json:"trust_mark,omitempty"`
	// Contradictions are the declared claims observation shows false; with
	// any, Tier is one step lower than the provisions alone give.
	Contradictions []Contradiction `json:"contradictions,omitempty"`
}

// Result is a whole assessment.
type Result struct {
	Generated   time.Time       `json:"generated"`
	Baselines   []string        `json:"baselines"`
	EntityLists []string        `json:"entity_lists,omitempty"`
	TierRule    string          `json:"tier_rule"`
	Subjects    []SubjectResult `json:"subjects"`
}

// TierRule documents how a tier is chosen. Coverage is the share of
// applicable mandatory provisions decided (pass or fail, by observation or
// declaration) rather than unknown.
const TierRule = "E: a critical provision fails (default, weak or universal password accepted; hard-coded secret; " +
	"known exploited vulnerability; device observed under someone else's control). " +
	"D: any other mandatory provision fails. " +
	"A: nothing fails and mandatory coverage >= 90%. " +
	"B: no mandatory provision fails and mandatory coverage >= 60%. " +
	"C: no mandatory provision fails, coverage below 60%. " +
	"A maker's declaration contradicted by observation (weak credentials or firmware default accounts against declared " +
	"unique passwords, flows outside the declared recipients or MUD file, units not updated within the declared time " +
	"during the support period) lowers the tier one step."

// ErrNoSubject is returned when the requested device or product has no evidence.
var ErrNoSubject = errors.New("no evidence for the requested subject")

// Assess decides every provision of the selected baselines for each subject.
func Assess(ctx context.Context, ev Evidence, opts Options) (*Result, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	bls, err := selectBaselines(opts.Baselines)
	if err != nil {
		return nil, err
	}
	res := &Result{Generated: opts.Now.UTC(), TierRule: TierRule}
	for _, b := range bls {
		res.Baselines = append(res.Baselines, b.ID)
	}
	for _, l := range opts.EntityLists {
		res.EntityLists = append(res.EntityLists, l.Name)
	}
	subjects, err := subjectsOf(&ev, &opts)
	if err != nil {
		return nil, err
	}
	res.Subjects = make([]SubjectResult, 0, len(subjects))
	ix := newIndex(&ev)
	if len(opts.EntityLists) > 0 {
		ix.screener = affiliation.NewScreener(opts.EntityLists, opts.Screen)
	}
	for _, s := range subjects {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.Subjects = append(res.Subjects, assessOne(&ev, ix, s.subj, s.decl, bls, &opts))
	}
	return res, nil
}

type subjectDecl struct {
	subj Subject
	decl *declare.Declaration
}

// softwareAsset reports whether an inventory entry names only server
// software found by a scan (see model.Fingerprint.SoftwareOnly), not the
// device's maker.
func softwareAsset(a model.Asset) bool {
	return (&model.Fingerprint{Vendor: a.Vendor, Product: a.Product, DeviceType: a.DeviceType, CPE: a.CPE}).SoftwareOnly()
}

// subjectsOf picks the subjects: the requested device or product, or every
// known device plus every declared model seen on no device.
func subjectsOf(ev *Evidence, opts *Options) ([]subjectDecl, error) {
	assetOf := map[netip.Addr]model.Asset{}
	var ips []netip.Addr
	seenIP := map[netip.Addr]bool{}
	addIP := func(ip netip.Addr) {
		if ip.IsValid() && !seenIP[ip] {
			seenIP[ip] = true
			ips = append(ips, ip)
		}
	}
	for _, a := range ev.Assets {
		assetOf[a.IP] = a
		addIP(a.IP)
	}
	svcsOf := map[netip.Addr][]model.Service{}
	for _, s := range ev.Services {
		addIP(s.IP)
		svcsOf[s.IP] = append(svcsOf[s.IP], s)
	}
	for _, c := range ev.Credentials {
		addIP(c.IP)
	}
	slices.SortFunc(ips, func(a, b netip.Addr) int { return a.Compare(b) })
	declFor := func(vendor, product string) *declare.Declaration {
		for _, d := range ev.Declarations {
			if product != "" && sameModel(d.Product.Model, product) {
				return d
			}
		}
		return nil
	}
	device := func(ip netip.Addr) Subject {
		a := assetOf[ip]
		if softwareAsset(a) { // OpenSSH's vendor is not the device's maker
			a.Vendor, a.Product = "", ""
		}
		// The device's identity as the report and the inventory give it:
		// the best-ranked fingerprint of its services, reading the device a
		// server's fingerprint names (the assets row keeps the last
		// fingerprint stored: "Hikvision SDK service", or nothing for a
		// TP-Link router whose web server is RomPager).
		if id := stats.Identify(svcsOf[ip]); id.Vendor != "" || id.Product != "" {
			a.Vendor, a.Product = id.Vendor, id.Product
		}
		return Subject{Kind: SubjectDevice, ID: ip.String(), Vendor: a.Vendor, Model: a.Product, IPs: []netip.Addr{ip}}
	}
	switch {
	case opts.Device.IsValid():
		if !seenIP[opts.Device] && !slices.ContainsFunc(ev.Findings, func(f model.Finding) bool { return f.Subject == opts.Device.String() }) &&
			!slices.ContainsFunc(ev.Vulns, func(m model.VulnMatch) bool { return m.IP == opts.Device }) {
			return nil, fmt.Errorf("device %s: %w", opts.Device, ErrNoSubject)
		}
		s := device(opts.Device)
		d := declFor(s.Vendor, s.Model)
		if d == nil && len(ev.Declarations) == 1 {
			d = ev.Declarations[0] // the user paired one device with one declaration
		}
		if d != nil && s.Model == "" {
			s.Model = d.Product.Model
		}
		return []subjectDecl{{s, d}}, nil
	case opts.Product != "":
		s := Subject{Kind: SubjectProduct, ID: opts.Product, Model: opts.Product}
		for _, ip := range ips {
			if a := assetOf[ip]; sameModel(a.Product, opts.Product) {
				s.IPs = append(s.IPs, ip)
				s.Vendor = a.Vendor
			}
		}
		d := declFor("", opts.Product)
		if d == nil && len(s.IPs) == 0 {
			return nil, fmt.Errorf("product %q: %w", opts.Product, ErrNoSubject)
		}
		if d != nil && s.Vendor == "" {
			s.Vendor = d.Manufacturer.Name
		}
		return []subjectDecl{{s, d}}, nil
	}
	var out []subjectDecl
	used := map[*declare.Declaration]bool{}
	for _, ip := range ips {
		s := device(ip)
		d := declFor(s.Vendor, s.Model)
		if d != nil {
			used[d] = true
		}
		out = append(out, subjectDecl{s, d})
	}
	for _, d := range ev.Declarations {
		if !used[d] {
			out = append(out, subjectDecl{Subject{Kind: SubjectProduct, ID: d.Product.Model, Vendor: d.Manufacturer.Name, Model: d.Product.Model}, d})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("assess: %w (the store holds no devices and no declaration was given)", ErrNoSubject)
	}
	return out, nil
}

// Name returns "vendor model", without repeating a vendor the model
// name already starts with; the id if neither is known.
func (s Subject) Name() string {
	return joinName(s.Vendor, s.Model, s.ID)
}

func joinName(vendor, model, fallback string) string {
	switch {
	case model == "" && vendor == "":
		return fallback
	case model == "":
		return vendor
	case vendor == "" || strings.HasPrefix(strings.ToLower(model), strings.ToLower(vendor)):
		return model
	}
	return vendor + " " + model
}

// sameModel compares model names ignoring case, spaces and dashes.
func sameModel(a, b string) bool {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '_' {
				return -1
			}
			return r
		}, strings.ToLower(s))
	}
	return a != "" && b != "" && norm(a) == norm(b)
}

func assessOne(ev *Evidence, ix *index, s Subject, d *declare.Declaration, bls []Baseline, opts *Options) SubjectResult {
	v := build(ev, ix, s, d, opts)
	sr := SubjectResult{Subject: s}
	if d != nil {
		sr.Declaration = d.Source
		tm := d.TrustMark()
		sr.TrustMark = &tm
	}
	if len(opts.EntityLists) > 0 {
		for _, l := range opts.EntityLists {
			v.screened = append(v.screened, l.Name)
		}
		sr.EntityHits = dedupeHits(ix.screener.Screen(screenSubjects(v)))
		for _, h := range sr.EntityHits {
			v.hits = append(v.hits, hitRef{h})
		}
	}
	critical := []string{}
	sr.Baselines = make([]BaselineResult, 0, len(bls))
	for _, b := range bls {
		br := BaselineResult{ID: b.ID, Title: b.Title, Provisions: make([]ProvisionResult, 0, len(b.Provisions))}
		for _, p := range b.Provisions {
			pr := decide(v, p)
			br.Provisions = append(br.Provisions, pr)
			br.Counts.add(pr)
			sr.Counts.add(pr)
			if pr.Outcome == Fail && slices.Contains(criticalRules, p.Rule) {
				critical = append(critical, p.ID)
			}
		}
		sr.Baselines = append(sr.Baselines, br)
	}
	sr.Tier, sr.TierReason = tier(sr.Counts, critical)
	if cs := contradictions(v); len(cs) > 0 {
		sr.Contradictions = cs
		claims := make([]string, len(cs))
		for i, c := range cs {
			claims[i] = c.Claim + " (" + c.Source + ")"
		}
		was := sr.Tier
		sr.Tier = lowerTier(was)
		how := "lowered from " + was
		if sr.Tier == was {
			how = "the lowest already"
		}
		sr.TierReason += fmt.Sprintf("; %s: the declaration is contradicted by observation: %s", how, strings.Join(claims, "; "))
	}
	sr.Facts = facts(v, &sr)
	return sr
}

// decide applies a provision's rule, then the maker's statement where the
// rule could not decide.
func decide(v *view, p Provision) ProvisionResult {
	pr := ProvisionResult{ID: p.ID, Title: p.Title, Summary: p.Summary, Status: p.Status, Edition: p.Edition,
		Evidence: p.Evidence, Rule: p.Rule}
	var vd verdict
	if p.Rule != "" {
		vd = rules[p.Rule](v, p)
	} else {
		pr.Rule = "none"
		vd = unknown("no automated check: needs review of %s evidence", strings.Join(p.Evidence, ", "))
	}
	if vd.Outcome == Unknown && v.decl != nil {
		if st, ok := v.decl.Statements[p.ID]; ok {
			ref := declRef(v.decl, "/statements/"+p.ID, st.Status)
			why := suffix(st.Justification)
			switch st.Status {
			case declare.Met:
				vd = verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: "maker states the provision is met" + why + " (not verified: " + vd.Reason + ")"}
			case declare.NotMet:
				vd = verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "maker states the provision is not met" + why}
			case declare.NotApplicable:
				vd = verdict{Outcome: NotApplicable, Basis: BasisDeclared, Refs: ref, Reason: "maker states the provision does not apply" + why}
			}
			pr.Rule = strings.TrimPrefix(pr.Rule+"+statement", "none+")
		}
	}
	pr.Outcome, pr.Basis, pr.Reason, pr.Refs = vd.Outcome, vd.Basis, vd.Reason, vd.Refs
	return pr
}

// tier applies TierRule.
func tier(c Counts, critical []string) (string, string) {
	coverage := 1.0
	if c.MandatoryAll > 0 {
		coverage = float64(c.MandatoryPass+c.MandatoryFail) / float64(c.MandatoryAll)
	}
	cov := fmt.Sprintf("mandatory coverage %.0f%% (%d of %d decided)", coverage*100, c.MandatoryPass+c.MandatoryFail, c.MandatoryAll)
	switch {
	case len(critical) > 0:
		return "E", "critical provision(s) fail: " + strings.Join(critical, ", ")
	case c.MandatoryFail > 0:
		return "D", fmt.Sprintf("%d mandatory provision(s) fail; %s", c.MandatoryFail, cov)
	case c.Fail == 0 && coverage >= 0.9:
		return "A", "no provision fails; " + cov
	case coverage >= 0.6:
		return "B", fmt.Sprintf("no mandatory provision fails (%d recommended fail); %s", c.Fail, cov)
	default:
		return "C", "no mandatory provision fails; " + cov
	}
}

// screenSubjects lists the companies behind a subject.
func screenSubjects(v *view) []affiliation.Subject {
	var out []affiliation.Subject
	add := func(s affiliation.Subject) {
		if strings.TrimSpace(s.Name) != "" {
			out = append(out, s)
		}
	}
	if d := v.decl; d != nil {
		m := d.Manufacturer
		add(affiliation.Subject{Role: affiliation.RoleManufacturer, Name: m.Name, Aliases: m.Aliases, Country: m.Country, Source: SourceDeclaration})
		for _, a := range m.Affiliations {
			add(affiliation.Subject{Role: affiliation.RoleAffiliation, Name: a, Source: SourceDeclaration})
		}
		if p := d.ParentCompany; p != nil {
			add(affiliation.Subject{Role: affiliation.RoleParent, Name: p.Name, Aliases: p.Aliases, Country: p.Country, Source: SourceDeclaration})
			for _, a := range p.Affiliations {
				add(affiliation.Subject{Role: affiliation.RoleAffiliation, Name: a, Source: SourceDeclaration})
			}
		}
		if d.SBOM != nil {
			for _, s := range d.SBOM.Suppliers {
				add(affiliation.Subject{Role: affiliation.RoleSupplier, Name: s.Name, Aliases: s.Aliases, Country: s.Country, Source: SourceDeclaration})
			}
		}
		if d.Data != nil {
			for _, r := range d.Data.Recipients {
				add(affiliation.Subject{Role: affiliation.RoleRecipient, Name: r.Name, Country: r.Country, Source: SourceDeclaration})
				for _, a := range r.Affiliations {
					add(affiliation.Subject{Role: affiliation.RoleAffiliation, Name: a, Source: SourceDeclaration})
				}
			}
		}
	}
	for _, sb := range v.all.SBOMs {
		if sb.Subject == "" || v.namesSubject(sb.Subject) || sameModel(sb.Subject, v.subj.Model) {
			for _, s := range sb.Suppliers {
				add(s)
			}
		}
	}
	seen := map[string]bool{}
	for _, a := range v.assets {
		if a.Vendor != "" && !seen[a.Vendor] && !softwareAsset(a) {
			seen[a.Vendor] = true
			add(affiliation.Subject{Role: affiliation.RoleManufacturer, Name: a.Vendor, Source: SourceScan})
		}
	}
	for _, f := range v.findings {
		src := findingSource(f)
		for _, e := range f.Evidence {
			m := dataMap(e.Data)
			if m == nil {
				continue
			}
			if src == SourceFirmware {
				if n := stringField(m, "supplier", "component_supplier"); n != "" && !seen[n] {
					seen[n] = true
					add(affiliation.Subject{Role: affiliation.RoleSupplier, Name: n, Source: SourceFirmware})
				}
			}
			if src == SourceFlows {
				if n := stringField(m, "owner", "as_org", "asn_org", "org", "organization"); n != "" && !seen[n] {
					seen[n] = true
					add(affiliation.Subject{Role: affiliation.RoleRecipient, Name: n, Country: stringField(m, "country", "dst_country"), Source: SourceFlows})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

// dedupeHits keeps the best hit per role and listed entity (a vendor seen by
// the scan and the declared manufacturer often name the same company).
// Hits arrive best first.
func dedupeHits(hs []affiliation.Hit) []affiliation.Hit {
	type key struct{ role, source, name string }
	seen := map[key]bool{}
	var out []affiliation.Hit
	for _, h := range hs {
		k := key{h.Subject.Role, h.Entry.Source, h.Entry.Name}
		if !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	return out
}
