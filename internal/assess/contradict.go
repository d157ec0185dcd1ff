package assess

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/declare"
	"iotwatch/internal/model"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
)

// Contradiction is a maker's declaration that observed evidence shows to be
// false: what was declared (Field, a JSON pointer into the declaration, and
// Declared), what was observed (Observed, from Source: audit, firmware,
// flows or rescans) and the evidence behind it. A declaration found false
// cannot carry the grade it earned: each subject with a contradiction has
// its tier lowered one step (TierRule).
type Contradiction struct {
	Claim    string `json:"claim"`
	Field    string `json:"field"`
	Declared string `json:"declared"`
	Source   string `json:"source"`
	Observed string `json:"observed"`
	Refs     []Ref  `json:"refs,omitempty"`
}

// SourceRescans marks evidence read from the versions scans saw over time.
const SourceRescans = "rescans"

// UnitVersion is the product version a scan saw on a device at a time
// (Evidence.Versions): the series declared update behaviour is checked on.
type UnitVersion struct {
	IP      netip.Addr `json:"ip"`
	Vendor  string     `json:"vendor,omitempty"`
	Product string     `json:"product"`
	Version string     `json:"version"`
	At      time.Time  `json:"at"`
}

// noDefaultSchemes are credential schemes that promise no default password.
var noDefaultSchemes = []string{"unique-per-device", "user-defined", "none"}

// flowContradictions are the flow findings of a declaration check
// (internal/flow/mud) and the declaration field each contradicts.
var flowContradictions = map[string]string{
	"mud-undeclared-flow":  "/mud_url",
	"undeclared-recipient": "/data/recipients",
	"undeclared-country":   "/data/recipients",
}

// defaultUpdateDays is the update delay checked when a maker declares
// automatic updates without an interval.
const defaultUpdateDays = 30

// contradictions checks the subject's declaration against the evidence.
func contradictions(v *view) []Contradiction {
	d := v.decl
	if d == nil {
		return nil
	}
	var out []Contradiction
	if c := d.Credentials; c != nil && slices.Contains(noDefaultSchemes, c.Scheme) {
		var refs []Ref
		for _, cr := range v.creds {
			if cr.Weak() && cr.Kind != model.KindSNMPCommunity {
				refs = append(refs, Ref{Source: SourceAudit, Kind: cr.Kind, ID: fmt.Sprintf("%s:%d/%s", cr.IP, cr.Port, cr.Protocol),
					Detail: fmt.Sprintf("user %q password %s", cr.Username, model.Redact(cr.Password))})
			}
		}
		if len(refs) > 0 {
			out = append(out, Contradiction{Claim: "no default passwords", Field: "/credentials/scheme", Declared: c.Scheme, Source: SourceAudit,
				Observed: fmt.Sprintf("%d weak or default credentials accepted (%s)", len(refs), refs[0].ID), Refs: refs})
		}
		refs = nil
		for _, f := range v.findingsFrom(SourceFirmware) {
			if f.Kind == "firmware-default-password" || f.Kind == "firmware-empty-password" {
				refs = append(refs, Ref{Source: SourceFirmware, Kind: f.Kind, ID: f.Subject, Detail: f.Title})
			}
		}
		if len(refs) > 0 {
			out = append(out, Contradiction{Claim: "no default passwords", Field: "/credentials/scheme", Declared: c.Scheme, Source: SourceFirmware,
				Observed: fmt.Sprintf("the firmware image %s ships an account with a default or no password", refs[0].ID), Refs: refs})
		}
	}
	byField := map[string][]Ref{}
	for _, f := range v.findingsFrom(SourceFlows) {
		if field, ok := flowContradictions[f.Kind]; ok && !declaredFlow(d, f) {
			byField[field] = append(byField[field], Ref{Source: SourceFlows, Kind: f.Kind, ID: f.Subject, Detail: f.Title})
		}
	}
	for _, field := range slices.Sorted(func(yield func(string) bool) {
		for k := range byField {
			if !yield(k) {
				return
			}
		}
	}) {
		refs := byField[field]
		declared, claim := d.MUDURL, "traffic only as the MUD file allows"
		if field == "/data/recipients" {
			claim = "data goes only to the declared recipients"
			var names []string
			if d.Data != nil {
				for _, r := range d.Data.Recipients {
					names = append(names, r.Name)
				}
			}
			declared = strings.Join(names, ", ")
		}
		out = append(out, Contradiction{Claim: claim, Field: field, Declared: cmp.Or(declared, "(none)"), Source: SourceFlows,
			Observed: fmt.Sprintf("%d flows findings: %s", len(refs), refs[0].Detail), Refs: refs})
	}
	if c, ok := updateContradiction(v, d); ok {
		out = append(out, c)
	}
	return out
}

// declaredFlow reports whether the declaration being assessed allows what a
// flows finding of a declaration check saw (the check may have used another
// declaration, or none): a recipient host naming the peer, a recipient in
// the peer's country, or no MUD file to break.
func declaredFlow(d *declare.Declaration, f model.Finding) bool {
	var m map[string]any
	for _, e := range f.Evidence {
		if m = dataMap(e.Data); m != nil {
			break
		}
	}
	if m == nil {
		return false
	}
	var recips []declare.Recipient
	if d.Data != nil {
		recips = d.Data.Recipients
	}
	switch f.Kind {
	case "mud-undeclared-flow":
		return d.MUDURL == "" && d.MUDFile == ""
	case "undeclared-country":
		c := stringField(m, "country")
		return slices.ContainsFunc(recips, func(r declare.Recipient) bool { return c != "" && strings.EqualFold(r.Country, c) })
	}
	names := []string{stringField(m, "peer")}
	if ns, ok := m["names"].([]any); ok {
		for _, n := range ns {
			if s, ok := n.(string); ok {
				names = append(names, strings.TrimSuffix(strings.ToLower(s), "."))
			}
		}
	}
	for _, r := range recips {
		for _, h := range r.Hosts {
			h = strings.TrimSuffix(strings.ToLower(h), ".")
			for _, n := range names {
				if n != "" && (n == h || strings.HasSuffix(n, "."+h)) {
					return true
				}
			}
		}
	}
	return false
}

// updateContradiction checks a declared update interval (or automatic
// updates) within the support period against the versions scans saw: a
// unit still running an older version more than the declared days after a
// newer version of its product was first seen in the fleet.
func updateContradiction(v *view, d *declare.Declaration) (Contradiction, bool) {
	u := d.Updates
	if u == nil || len(v.all.Versions) == 0 {
		return Contradiction{}, false
	}
	days, field, declared := 0, "", ""
	switch {
	case u.CheckIntervalDays != nil:
		days, field, declared = *u.CheckIntervalDays, "/updates/check_interval_days", fmt.Sprintf("updates checked every %d days", *u.CheckIntervalDays)
	case u.Automatic != nil && *u.Automatic:
		days, field, declared = defaultUpdateDays, "/updates/automatic", fmt.Sprintf("automatic updates (checked against %d days)", defaultUpdateDays)
	default:
		return Contradiction{}, false
	}
	var series []UnitVersion
	for _, uv := range v.all.Versions {
		if sameModel(uv.Product, v.subj.Model) || (v.subj.Model == "" && v.has(uv.IP)) {
			series = append(series, uv)
		}
	}
	if len(series) == 0 {
		return Contradiction{}, false
	}
	if s := d.Support; s != nil {
		if end, err := s.End(); err == nil && series[len(series)-1].At.After(end) {
			return Contradiction{}, false // past the support period: nothing promised
		}
	}
	// The newest version: the one first seen last.
	first := map[string]time.Time{}
	for _, uv := range series {
		if t, ok := first[uv.Version]; !ok || uv.At.Before(t) {
			first[uv.Version] = uv.At
		}
	}
	newest, since := "", time.Time{}
	for ver, t := range first {
		if t.After(since) || (t.Equal(since) && ver > newest) {
			newest, since = ver, t
		}
	}
	if len(first) < 2 {
		return Contradiction{}, false
	}
	last := map[netip.Addr]UnitVersion{} // each unit's latest observation
	for _, uv := range series {
		if p, ok := last[uv.IP]; !ok || uv.At.After(p.At) {
			last[uv.IP] = uv
		}
	}
	limit := time.Duration(days) * 24 * time.Hour
	var refs []Ref
	for _, ip := range slices.SortedFunc(func(yield func(netip.Addr) bool) {
		for a := range last {
			if !yield(a) {
				return
			}
		}
	}, netip.Addr.Compare) {
		uv := last[ip]
		if len(v.subj.IPs) > 0 && !v.has(ip) {
			continue
		}
		if lag := uv.At.Sub(since); uv.Version != newest && lag > limit {
			refs = append(refs, Ref{Source: SourceRescans, Kind: "version", ID: ip.String(),
				Detail: fmt.Sprintf("%s on %s, %.0f days after %s was first seen (%s)", uv.Version, uv.At.UTC().Format(time.DateOnly),
					lag.Hours()/24, newest, since.UTC().Format(time.DateOnly))})
		}
	}
	if len(refs) == 0 {
		return Contradiction{}, false
	}
	return Contradiction{Claim: "updates reach the devices within the declared time", Field: field, Declared: declared, Source: SourceRescans,
		Observed: fmt.Sprintf("%d units still ran an older version more than %d days after %s appeared", len(refs), days, newest), Refs: refs}, true
}

// lowerTier lowers a tier one step (E stays E).
func lowerTier(t string) string {
	const order = "ABCDE"
	if i := strings.Index(order, t); i >= 0 && i < len(order)-1 {
		return order[i+1 : i+2]
	}
	return t
}

// maxVersionScans bounds the scans whose versions are read.
const maxVersionScans = 20

// loadVersions reads the product version of every identified device in
// each of the newest scans among runs (at most maxVersionScans), oldest
// first.
func loadVersions(ctx context.Context, st *store.Store, runs []model.Run) ([]UnitVersion, error) {
	var scans []model.Run
	for _, r := range runs {
		if store.RunRan(r, "scan") {
			scans = append(scans, r)
		}
	}
	slices.SortFunc(scans, func(a, b model.Run) int { return cmp.Compare(b.ID, a.ID) })
	scans = scans[:min(len(scans), maxVersionScans)]
	var out []UnitVersion
	for i := len(scans) - 1; i >= 0; i-- {
		ss, err := st.Services(ctx, scans[i].ID)
		if err != nil {
			return nil, fmt.Errorf("load versions: %w", err)
		}
		out = append(out, unitVersions(ss, scans[i].StartedAt)...)
	}
	return out, nil
}

// unitVersions identifies each device of one scan and the version its
// identifying fingerprint names.
func unitVersions(services []model.Service, at time.Time) []UnitVersion {
	by := map[netip.Addr][]model.Service{}
	for _, s := range services {
		if s.IP.IsValid() && s.Status == model.StatusSuccess {
			by[s.IP] = append(by[s.IP], s)
		}
	}
	var out []UnitVersion
	for ip, ss := range by {
		id := stats.Identify(ss)
		if id.Product == "" {
			continue
		}
		for _, s := range ss {
			fp := s.Fingerprint
			if fp != nil && fp.SoftwareOnly() {
				fp = fp.Device
			}
			if fp != nil && fp.Vendor == id.Vendor && fp.Product == id.Product && fp.Version != "" {
				out = append(out, UnitVersion{IP: ip, Vendor: id.Vendor, Product: id.Product, Version: fp.Version, At: at})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b UnitVersion) int { return a.IP.Compare(b.IP) })
	return out
}
