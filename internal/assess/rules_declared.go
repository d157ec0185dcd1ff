package assess

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"iotwatch/internal/affiliation"
	"iotwatch/internal/declare"
	"iotwatch/internal/model"
)

const noDecl = "no maker declaration for this subject"

func declRef(d *declare.Declaration, field, value string) []Ref {
	return []Ref{{Source: SourceDeclaration, Kind: field, ID: d.Source, Detail: value}}
}

func declaredBool(b bool, src, field, passReason, failReason string) verdict {
	ref := []Ref{{Source: SourceDeclaration, Kind: field, ID: src, Detail: fmt.Sprint(b)}}
	if b {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: passReason}
	}
	return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: failReason}
}

// boolField decides from one optional boolean of the declaration.
func boolField(v *view, get func(*declare.Declaration) *bool, field, yes, no string) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	b := get(d)
	if b == nil {
		return unknown("declaration does not state %s", field)
	}
	return declaredBool(*b, d.Source, field, yes, no)
}

func statementsJustified(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if len(d.Statements) == 0 {
		return unknown("declaration makes no per-provision statements")
	}
	var missing []string
	for id, s := range d.Statements {
		if s.Status != declare.Met && strings.TrimSpace(s.Justification) == "" {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/statements", strings.Join(missing, ", ")),
			Reason: "provisions declared not met or not applicable without a justification: " + strings.Join(missing, ", ")}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/statements", fmt.Sprint(len(d.Statements), " statements")),
		Reason: "every provision declared not met or not applicable carries a justification"}
}

func passwordChange(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	c := d.Credentials
	switch {
	case c == nil:
		return unknown("declaration does not describe the credentials")
	case c.Scheme == "none":
		return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Refs: declRef(d, "/credentials/scheme", c.Scheme), Reason: "maker declares the device uses no passwords"}
	case c.ChangeInstructionsURL != "":
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/credentials/change_instructions_url", c.ChangeInstructionsURL), Reason: "maker documents how to change the password"}
	case c.Scheme == "user-defined":
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/credentials/scheme", c.Scheme), Reason: "the user sets the password"}
	}
	return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/credentials", ""), Reason: "declaration gives no way to change the password"}
}

func disclosurePolicy(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if x := d.Disclosure; x != nil && (x.Contact != "" || x.SecurityTxtURL != "" || x.PolicyURL != "") {
		what := firstOf(x.PolicyURL, x.SecurityTxtURL, x.Contact)
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/vulnerability_disclosure", what), Reason: "vulnerability disclosure published at " + what}
	}
	return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/vulnerability_disclosure", ""), Reason: "declaration gives no vulnerability-disclosure contact or policy"}
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func disclosureResponse(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if d.Disclosure == nil || d.Disclosure.ResponseDays == nil {
		return unknown("declaration states no response time for vulnerability reports")
	}
	n := *d.Disclosure.ResponseDays
	return declaredBool(n <= 90, d.Source, "/vulnerability_disclosure/response_days",
		fmt.Sprintf("reports answered within %d days", n), fmt.Sprintf("reports answered only within %d days (more than 90)", n))
}

// firmwareUpdateFlaws are firmware finding kinds showing an insecure update path.
var firmwareUpdateFlaws = []string{"firmware-update-weakness", "update-weakness", "unsigned-update", "insecure-update", "update-over-http", "update-unsigned", "no-update-verification"}

func updateMechanism(v *view, p Provision) verdict {
	if fs := v.matching(SourceFirmware, firmwareUpdateFlaws...); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs), Reason: "firmware analysis shows an insecure update path: " + titles(fs, 3)}
	}
	d := v.decl
	if d == nil || d.Updates == nil || d.Updates.Mechanism == "" {
		if d == nil {
			return unknown(noDecl)
		}
		return unknown("declaration does not state the update mechanism")
	}
	ref := declRef(d, "/updates/mechanism", d.Updates.Mechanism)
	if d.Updates.Mechanism == "none" {
		if d.Product.Constrained && p.ID == "5.3-2" {
			return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Refs: ref, Reason: "constrained device declared not updatable"}
		}
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "maker declares the device cannot be updated"}
	}
	if d.Updates.Signed != nil && !*d.Updates.Signed {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "updates are delivered (" + d.Updates.Mechanism + ") but declared unsigned"}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: "maker declares " + d.Updates.Mechanism + " updates"}
}

func updateSimple(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil || d.Updates == nil {
		return unknown("declaration does not describe updates")
	}
	u := d.Updates
	switch {
	case u.Automatic != nil && *u.Automatic, u.Mechanism == "app", u.Mechanism == "ota":
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/updates/mechanism", u.Mechanism), Reason: "updates are applied over the air, by app or automatically"}
	case u.Mechanism == "none" && d.Product.Constrained:
		return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Reason: "constrained device declared not updatable"}
	case u.Mechanism == "none":
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/updates/mechanism", u.Mechanism), Reason: "maker declares the device cannot be updated"}
	}
	return unknown("manual updates; whether they are simple needs review")
}

func updateAutomatic(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if d.Updates == nil {
			return nil
		}
		return d.Updates.Automatic
	}, "/updates/automatic", "updates install automatically", "updates do not install automatically")
}

func updateDefaultOn(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if d.Updates == nil {
			return nil
		}
		return d.Updates.AutomaticDefaultOn
	}, "/updates/automatic_default_on", "automatic updates are on by default", "automatic updates are off by default")
}

func updateCheck(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil || d.Updates == nil || d.Updates.CheckIntervalDays == nil {
		return unknown("declaration does not state how often the device checks for updates")
	}
	n := *d.Updates.CheckIntervalDays
	return declaredBool(n >= 1 && n <= 31, d.Source, "/updates/check_interval_days",
		fmt.Sprintf("device checks for updates every %d day(s)", n), fmt.Sprintf("device checks for updates every %d day(s), not at least monthly", n))
}

func updateSigned(v *view, _ Provision) verdict {
	if fs := v.matching(SourceFirmware, firmwareUpdateFlaws...); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs), Reason: "firmware analysis shows updates are not verified: " + titles(fs, 3)}
	}
	if fs := v.matching(SourceFirmware, "signed-update", "update-signature-verified"); len(fs) > 0 {
		return verdict{Outcome: Pass, Basis: BasisObserved, Refs: findingRefs(fs), Reason: "firmware analysis shows signed updates: " + titles(fs, 3)}
	}
	d := v.decl
	if d == nil || d.Updates == nil {
		return unknown("no firmware evidence about update verification and no declared update policy")
	}
	u := d.Updates
	if u.Signed == nil && u.VerifiedOnDevice == nil {
		return unknown("declaration does not state whether updates are signed and verified")
	}
	ok := (u.Signed == nil || *u.Signed) && (u.VerifiedOnDevice == nil || *u.VerifiedOnDevice)
	return declaredBool(ok, d.Source, "/updates/signed", "maker declares updates are signed and verified on the device", "maker declares updates are not signed or not verified")
}

func updateNotify(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if d.Updates == nil {
			return nil
		}
		return d.Updates.NotifyUser
	}, "/updates/notify_user", "the user is notified about updates", "the user is not notified about updates")
}

func updatesFree(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if d.Updates == nil {
			return nil
		}
		return d.Updates.SecurityUpdatesFree
	}, "/updates/security_updates_free", "security updates are free of charge", "security updates are not free of charge")
}

func supportPeriod(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if d.Support == nil {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/support", ""), Reason: "declaration publishes no support period"}
	}
	end, err := d.Support.End()
	ref := declRef(d, "/support/end_date", d.Support.EndDate)
	if err != nil {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "support end date is not a date"}
	}
	if end.Before(v.opts.Now.Truncate(24 * 60 * 60 * 1e9)) {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "security support ended on " + d.Support.EndDate}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: "security updates until " + d.Support.EndDate}
}

func constrainedSupport(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if !d.Product.Constrained || (d.Updates != nil && d.Updates.Mechanism != "" && d.Updates.Mechanism != "none") {
		return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Reason: "the device is declared updatable or not constrained"}
	}
	if d.Support != nil {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/support/end_date", d.Support.EndDate), Reason: "constrained device with a published support period"}
	}
	return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "constrained, non-updatable device without a published support and replacement period"}
}

func modelDesignation(v *view, _ Provision) verdict {
	if d := v.decl; d != nil && d.Product.ModelLabelLocation != "" {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/product/model_label_location", d.Product.ModelLabelLocation),
			Reason: fmt.Sprintf("model %s shown on %s", d.Product.Model, d.Product.ModelLabelLocation)}
	}
	for _, s := range v.services {
		if f := s.Fingerprint; f != nil && f.Product != "" {
			return verdict{Outcome: Pass, Basis: BasisObserved, Refs: []Ref{svcRef(s)},
				Reason: fmt.Sprintf("the device names its model over %s: %s %s", s.Protocol, f.Vendor, f.Product)}
		}
	}
	return unknown("the device did not name its model over the network and no declaration says where the model is shown")
}

func sensingDisclosure(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if d.Sensors == nil {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "declaration does not document sensing capabilities"}
	}
	if len(*d.Sensors) == 0 {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/sensors", "none"), Reason: "maker declares no external sensors"}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/sensors", strings.Join(*d.Sensors, ", ")), Reason: "sensors documented: " + strings.Join(*d.Sensors, ", ")}
}

func failSafe(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	r := d.Resilience
	if r == nil || r.WorksOffline == nil {
		return unknown("declaration does not state behaviour without network")
	}
	if !*r.WorksOffline || (r.RecoversAfterPowerLoss != nil && !*r.RecoversAfterPowerLoss) {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: declRef(d, "/resilience", r.FailSafe), Reason: "device declared not to work offline or not to recover after power loss"}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/resilience", r.FailSafe), Reason: "device declared to keep working locally without network" + suffix(r.FailSafe)}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func deletion(d *declare.Declaration) *declare.Deletion {
	if d.Data == nil {
		return nil
	}
	return d.Data.Deletion
}

func dataEraseDevice(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if x := deletion(d); x != nil {
			return x.OnDeviceReset
		}
		return nil
	}, "/data/deletion/on_device_reset", "a reset erases user data from the device", "user data survives a reset")
}

func dataEraseServices(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if x := deletion(d); x != nil {
			return x.FromServices
		}
		return nil
	}, "/data/deletion/from_services", "users can delete their data from services", "users cannot delete their data from services")
}

func dataEraseInstructions(v *view, _ Provision) verdict {
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if x := deletion(d); x != nil && x.InstructionsURL != "" {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/data/deletion/instructions_url", x.InstructionsURL), Reason: "deletion instructions at " + x.InstructionsURL}
	}
	return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "declaration gives no deletion instructions"}
}

func dataEraseConfirmation(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if x := deletion(d); x != nil {
			return x.Confirmation
		}
		return nil
	}, "/data/deletion/confirmation", "users are told when deletion is done", "users get no deletion confirmation")
}

// undeclaredWords mark flow findings of traffic to destinations the maker did not declare.
var undeclaredWords = []string{"undeclared", "unexpected-destination", "mud-violation", "unknown-destination"}

func dataDisclosure(v *view, _ Provision) verdict {
	if fs := v.matching(SourceFlows, undeclaredWords...); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs),
			Reason: fmt.Sprintf("device sends to %d destination(s) not declared: %s", len(fs), titles(fs, 3))}
	}
	d := v.decl
	if d == nil {
		return unknown(noDecl)
	}
	if d.Data == nil {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "declaration does not disclose data collection"}
	}
	if fs, cs := v.undeclaredCountries(); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs),
			Reason: "flows show data going to " + strings.Join(cs, ", ") + ", not among the declared recipients' countries"}
	}
	var missing []string
	for _, r := range d.Data.Recipients {
		if r.Country == "" {
			missing = append(missing, r.Name)
		}
	}
	if len(missing) > 0 {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "recipients without country: " + strings.Join(missing, ", ")}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/data", fmt.Sprintf("%d data types, %d recipients", len(d.Data.Collected), len(d.Data.Recipients))),
		Reason: fmt.Sprintf("maker discloses %d data type(s) with purposes and %d recipient(s) with countries", len(d.Data.Collected), len(d.Data.Recipients))}
}

// undeclaredCountries returns the flow findings that show traffic to a
// country no declared recipient is in, and those countries.
func (v *view) undeclaredCountries() ([]model.Finding, []string) {
	if v.decl == nil || v.decl.Data == nil {
		return nil, nil
	}
	declared := map[string]bool{}
	for _, r := range v.decl.Data.Recipients {
		declared[strings.ToUpper(r.Country)] = true
	}
	var fs []model.Finding
	var cs []string
	for _, f := range v.findingsFrom(SourceFlows) {
		if kindHas(f.Kind, compromiseWords...) {
			continue
		}
		for _, e := range f.Evidence {
			c := strings.ToUpper(stringField(dataMap(e.Data), "country", "dst_country"))
			if c != "" && !declared[c] {
				fs = append(fs, f)
				if !slices.Contains(cs, c) {
					cs = append(cs, c)
				}
				break
			}
		}
	}
	sort.Strings(cs)
	return fs, cs
}

func telemetryDisclosure(v *view, p Provision) verdict {
	out := dataDisclosure(v, p)
	if out.Outcome != Pass {
		return out
	}
	var tele []string
	for _, c := range v.decl.Data.Collected {
		if c.Telemetry {
			tele = append(tele, c.Type+" ("+strings.Join(c.Purposes, ", ")+")")
		}
	}
	if len(tele) == 0 {
		out.Reason = "maker declares no telemetry, and no undeclared destination was observed"
		return out
	}
	out.Reason = "telemetry disclosed: " + strings.Join(tele, "; ")
	return out
}

// items returns the declared data items matching keep, or a verdict if none can be judged.
func (v *view) items(keep func(declare.DataItem) bool, what string) ([]declare.DataItem, *verdict) {
	d := v.decl
	if d == nil {
		x := unknown(noDecl)
		return nil, &x
	}
	if d.Data == nil {
		x := unknown("declaration does not describe data collection")
		return nil, &x
	}
	var out []declare.DataItem
	for _, c := range d.Data.Collected {
		if keep(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		x := verdict{Outcome: NotApplicable, Basis: BasisDeclared, Reason: "maker declares no " + what}
		return nil, &x
	}
	return out, nil
}

func consent(v *view, _ Provision) verdict {
	items, x := v.items(func(c declare.DataItem) bool { return c.Personal }, "personal data")
	if x != nil {
		return *x
	}
	var no, unstated []string
	for _, c := range items {
		switch {
		case c.Consent == nil:
			unstated = append(unstated, c.Type)
		case !*c.Consent:
			no = append(no, c.Type)
		}
	}
	switch {
	case len(no) > 0:
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "personal data processed without consent: " + strings.Join(no, ", ")}
	case len(unstated) > 0:
		return unknown("declaration does not say whether consent is obtained for: %s", strings.Join(unstated, ", "))
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Reason: fmt.Sprintf("consent obtained for all %d personal data type(s)", len(items))}
}

func consentWithdrawal(v *view, _ Provision) verdict {
	return boolField(v, func(d *declare.Declaration) *bool {
		if d.Data == nil {
			return nil
		}
		return d.Data.ConsentWithdrawal
	}, "/data/consent_withdrawal", "consent can be withdrawn at any time", "consent cannot be withdrawn")
}

func dataRetention(v *view, _ Provision) verdict {
	items, x := v.items(func(declare.DataItem) bool { return true }, "data collection")
	if x != nil {
		return *x
	}
	var missing, stated []string
	for _, c := range items {
		if c.RetentionDays == nil {
			missing = append(missing, c.Type)
		} else {
			stated = append(stated, fmt.Sprintf("%s %d days", c.Type, *c.RetentionDays))
		}
	}
	if len(missing) > 0 {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "no retention period for: " + strings.Join(missing, ", ")}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(v.decl, "/data/collected/*/retention_days", strings.Join(stated, "; ")), Reason: "retention stated: " + strings.Join(stated, "; ")}
}

func dataExpiration(v *view, p Provision) verdict {
	out := dataRetention(v, p)
	if out.Outcome == Pass {
		out.Reason = "every data type expires after its stated retention period (" + strings.TrimPrefix(out.Reason, "retention stated: ") + ")"
	}
	return out
}

func deidentification(v *view, _ Provision) verdict {
	items, x := v.items(func(c declare.DataItem) bool { return c.Personal || c.Telemetry }, "personal data or telemetry")
	if x != nil {
		return *x
	}
	var bad []string
	for _, c := range items {
		if c.Deidentification == "" || (c.Telemetry && c.Deidentification == "none") {
			bad = append(bad, c.Type)
		}
	}
	if len(bad) > 0 {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "not de-identified or not stated: " + strings.Join(bad, ", ")}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Reason: "telemetry is de-identified and the treatment of each personal data type is stated"}
}

func sbom(v *view, _ Provision) verdict {
	d := v.decl
	if d != nil && d.SBOM != nil {
		return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: declRef(d, "/sbom/url", d.SBOM.URL), Reason: "maker publishes an SBOM at " + d.SBOM.URL}
	}
	derived := v.matching(SourceFirmware, "sbom")
	if d != nil {
		r := "maker publishes no SBOM"
		if len(derived) > 0 {
			r += fmt.Sprintf(" (iotwatch derived %d SBOM record(s) from firmware)", len(derived))
		}
		return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: findingRefs(derived), Reason: r}
	}
	return unknown(noDecl)
}

func affiliationRule(v *view, _ Provision) verdict {
	if len(v.hits) > 0 {
		out := verdict{Outcome: Fail, Basis: BasisScreened}
		var what []string
		for _, h := range v.hits {
			out.Refs = append(out.Refs, h.ref())
			what = append(what, fmt.Sprintf("%s %q on %s (%s)", h.Hit.Subject.Role, h.Hit.Subject.Name, h.Hit.Entry.Source, orDash(h.Hit.Entry.Date)))
		}
		out.Reason = "entity-list match: " + strings.Join(what, "; ")
		return out
	}
	d := v.decl
	if d == nil {
		if len(v.screened) > 0 {
			return unknown("scan-identified vendor screened against %s without a hit, but no declaration discloses ownership", strings.Join(v.screened, ", "))
		}
		return unknown(noDecl)
	}
	var gaps []string
	if d.Data != nil {
		for _, r := range d.Data.Recipients {
			if r.Country == "" {
				gaps = append(gaps, "recipient "+r.Name)
			}
		}
	}
	if len(gaps) > 0 {
		return verdict{Outcome: Fail, Basis: BasisDeclared, Reason: "not disclosed: " + strings.Join(gaps, ", ")}
	}
	r := fmt.Sprintf("maker, parent and recipients disclosed with countries (%s)", strings.Join(declCountries(d), ", "))
	if len(v.screened) > 0 {
		return verdict{Outcome: Pass, Basis: BasisScreened, Reason: r + "; no match on " + strings.Join(v.screened, ", ")}
	}
	return verdict{Outcome: Pass, Basis: BasisDeclared, Reason: r + "; not screened (no entity list given)"}
}

func orDash(s string) string {
	if s == "" {
		return "undated"
	}
	return s
}

func declCountries(d *declare.Declaration) []string {
	var cs []string
	add := func(c string) {
		if c != "" && !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	add(d.Manufacturer.Country)
	if d.ParentCompany != nil {
		add(d.ParentCompany.Country)
	}
	if d.Data != nil {
		for _, r := range d.Data.Recipients {
			add(r.Country)
		}
	}
	return cs
}

// hitRef is an entity-list hit found for a subject.
type hitRef struct {
	Hit affiliation.Hit
}

func (h hitRef) ref() Ref {
	return Ref{Source: "entity-list", Kind: h.Hit.Kind, ID: h.Hit.Entry.Source,
		Detail: fmt.Sprintf("%s %q ~ %q (score %.2f, listed %s)", h.Hit.Subject.Role, h.Hit.Via, h.Hit.Matched, h.Hit.Score, orDash(h.Hit.Entry.Date))}
}
