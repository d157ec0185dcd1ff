package assess

import (
	"fmt"
	"slices"
	"strings"

	"iotwatch/internal/hostkey"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/store"
)

// Credential kinds that mean a default, empty or guessable password was accepted.
var weakKinds = []string{model.KindDefaultCredential, model.KindEmptyPassword, model.KindWeakPassword, model.KindSNMPCommunity}

// Credential kinds that mean access without a real credential.
var openKinds = []string{model.KindAnonymousAccess, model.KindEmptyPassword, model.KindSNMPCommunity}

func (v *view) secret(s string) string {
	if v.opts.ShowSecrets {
		return s
	}
	return model.Redact(s)
}

func (v *view) credRef(c model.CredentialResult) Ref {
	return Ref{Source: SourceAudit, Kind: c.Kind, ID: fmt.Sprintf("%s:%d/%s", c.IP, c.Port, c.Protocol),
		Detail: fmt.Sprintf("user %q password %q accepted", c.Username, v.secret(c.Password))}
}

func (v *view) credsOf(kinds []string) []model.CredentialResult {
	var out []model.CredentialResult
	for _, c := range v.creds {
		if slices.Contains(kinds, c.Kind) {
			out = append(out, c)
		}
	}
	return out
}

// loginServices returns the subject's answering services an audit would try.
func (v *view) loginServices() []model.Service {
	var out []model.Service
	for _, s := range v.services {
		if s.Status == model.StatusSuccess && protocol.Lookup(s.Protocol).Login { // a credential audit tries it
			out = append(out, s)
		}
	}
	return out
}

func defaultCredentials(v *view, p Provision) verdict {
	return v.memoize("default-credentials", func() verdict { return defaultCredentials1(v, p) })
}

func defaultCredentials1(v *view, _ Provision) verdict {
	if weak := v.credsOf(weakKinds); len(weak) > 0 {
		out := verdict{Outcome: Fail, Basis: BasisObserved}
		for _, c := range weak {
			out.Refs = append(out.Refs, v.credRef(c))
		}
		c := weak[0]
		out.Reason = fmt.Sprintf("%d default, empty or weak credential(s) accepted, e.g. %s user %q on %s:%d",
			len(weak), c.Kind, c.Username, c.IP, c.Port)
		return out
	}
	if v.auditRan() {
		if ls := v.loginServices(); len(ls) > 0 {
			return verdict{Outcome: Pass, Basis: BasisObserved,
				Reason: fmt.Sprintf("credential audit accepted no default, empty or weak password on %d login service(s)", len(ls))}
		}
	}
	if d := v.decl; d != nil && d.Credentials != nil {
		ref := []Ref{{Source: SourceDeclaration, Kind: "/credentials/scheme", ID: d.Source, Detail: d.Credentials.Scheme}}
		switch d.Credentials.Scheme {
		case "unique-per-device", "user-defined":
			return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: "maker declares passwords are " + d.Credentials.Scheme + "; not tested"}
		case "universal":
			return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "maker declares a universal default password"}
		case "none":
			return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Refs: ref, Reason: "maker declares the device uses no passwords"}
		}
	}
	if v.auditRan() {
		return unknown("credential audit ran but no login service of this subject was found by the scan")
	}
	return unknown("no credential audit in the evidence and no declared password scheme")
}

// universalPassword looks for the same accepted credential on several units
// of the same model: a universal default (EN 303 645 5.1-1, 5.1-2).
func universalPassword(v *view, p Provision) verdict {
	return v.memoize("universal-password", func() verdict { return universalPassword1(v, p) })
}

// memoize caches a rule result that does not depend on the provision.
func (v *view) memoize(name string, f func() verdict) verdict {
	if r, ok := v.memo[name]; ok {
		return r
	}
	r := f()
	if v.memo == nil {
		v.memo = map[string]verdict{}
	}
	v.memo[name] = r
	return r
}

func universalPassword1(v *view, p Provision) verdict {
	// A default or empty password built into the firmware image is shared
	// by every unit that runs it.
	if fs := v.matching(SourceFirmware, "firmware-default-password", "firmware-empty-password"); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs),
			Reason: fmt.Sprintf("the firmware image ships %d account(s) with a default or empty password, shared by every unit: %s", len(fs), titles(fs, 3))}
	}
	for _, c := range v.creds {
		if c.Kind == model.KindAnonymousAccess || !c.Weak() {
			continue
		}
		um := v.ix.modelOf[c.IP]
		k := unitKey{um.key, c.Protocol, c.Username, c.Password}
		units := v.ix.units[k]
		if n := len(units); k.model != "" && n >= 2 {
			var refs []Ref
			for ip := range units {
				refs = append(refs, Ref{Source: SourceAudit, Kind: c.Kind, ID: fmt.Sprintf("%s:%d/%s", ip, c.Port, c.Protocol),
					Detail: fmt.Sprintf("user %q password %q accepted", c.Username, v.secret(c.Password))})
			}
			slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.ID, b.ID) })
			if len(refs) > 20 {
				refs = refs[:20]
			}
			return verdict{Outcome: Fail, Basis: BasisObserved, Refs: refs,
				Reason: fmt.Sprintf("the same %s credential (user %q) is accepted on %d units of model %s: a universal default",
					c.Protocol, c.Username, n, um.name)}
		}
	}
	dc := defaultCredentials(v, p)
	if dc.Outcome == Pass && dc.Basis == BasisObserved {
		return verdict{Outcome: Pass, Basis: BasisObserved, Reason: "no default credential was accepted, so none is shared between units"}
	}
	if d := v.decl; d != nil && d.Credentials != nil {
		ref := []Ref{{Source: SourceDeclaration, Kind: "/credentials/generation", ID: d.Source, Detail: d.Credentials.Generation}}
		switch {
		case d.Credentials.Scheme == "universal":
			return verdict{Outcome: Fail, Basis: BasisDeclared, Refs: ref, Reason: "maker declares a universal default password"}
		case d.Credentials.Scheme == "none":
			return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Refs: ref, Reason: "maker declares the device uses no passwords"}
		case d.Credentials.Scheme == "user-defined" || d.Credentials.Generation != "":
			if len(v.credsOf(weakKinds)) == 0 {
				return verdict{Outcome: Pass, Basis: BasisDeclared, Refs: ref, Reason: "maker declares how per-device passwords are generated: " + d.Credentials.Generation}
			}
		}
	}
	if len(v.credsOf(weakKinds)) > 0 {
		return unknown("a default credential was accepted, but no second unit of the same identified model was audited to show whether it is shared")
	}
	return unknown("no audit of two or more units of one model and no declared password generation")
}

func weakDefaultPasswords(v *view, p Provision) verdict {
	if u := universalPassword(v, p); u.Outcome == Fail {
		return u
	}
	return defaultCredentials(v, p)
}

func bruteForce(v *view, _ Provision) verdict {
	for _, c := range v.creds {
		if c.LockoutSuspected || c.Kind == model.KindLockoutSuspected {
			return verdict{Outcome: Pass, Basis: BasisObserved, Refs: []Ref{v.credRef(c)},
				Reason: fmt.Sprintf("login attempts on %s:%d/%s met a lockout or rate limit", c.IP, c.Port, c.Protocol)}
		}
	}
	for _, c := range v.creds {
		if c.Attempts >= 10 && c.Weak() {
			return verdict{Outcome: Fail, Basis: BasisObserved, Refs: []Ref{v.credRef(c)},
				Reason: fmt.Sprintf("%s:%d/%s accepted a login after %d attempts without lockout", c.IP, c.Port, c.Protocol, c.Attempts)}
		}
	}
	if d := v.decl; d != nil {
		if d.Product.Constrained {
			return verdict{Outcome: NotApplicable, Basis: BasisDeclared, Reason: "maker declares a constrained device"}
		}
		if d.Credentials != nil && d.Credentials.BruteForceProtection != nil {
			return declaredBool(*d.Credentials.BruteForceProtection, d.Source, "/credentials/brute_force_protection",
				"maker declares brute-force protection", "maker declares no brute-force protection")
		}
	}
	return unknown("the audit did not make enough attempts to observe rate limiting, and no declaration states it")
}

// plain reports whether a login on the service would cross the network in
// cleartext (the protocol table's Cleartext).
func plain(s model.Service) bool { return protocol.Lookup(s.Protocol).Cleartext }

func svcRef(s model.Service) Ref {
	return Ref{Source: SourceScan, Kind: s.Protocol, ID: fmt.Sprintf("%s:%d/%s", s.IP, s.Port, s.Transport), Detail: firstLine(s.Banner)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

func (v *view) answering() []model.Service {
	var out []model.Service
	for _, s := range v.services {
		if s.Status == model.StatusSuccess {
			out = append(out, s)
		}
	}
	return out
}

func cleartextAuth(v *view, _ Provision) verdict {
	out := verdict{Outcome: Fail, Basis: BasisObserved}
	var what []string
	for _, s := range v.answering() {
		if spec := protocol.Lookup(s.Protocol); spec.Cleartext && spec.Prompt { // answering means a cleartext login
			out.Refs = append(out.Refs, svcRef(s))
			what = append(what, fmt.Sprintf("%s on %s:%d", s.Protocol, s.IP, s.Port))
		}
	}
	for _, c := range v.creds {
		if spec := protocol.Lookup(c.Protocol); spec.Cleartext && !spec.Prompt && c.Weak() && c.Kind != model.KindAnonymousAccess {
			out.Refs = append(out.Refs, v.credRef(c))
			what = append(what, fmt.Sprintf("%s login on %s:%d", c.Protocol, c.IP, c.Port))
		}
	}
	if len(what) > 0 {
		out.Reason = "credentials cross the network in cleartext: " + strings.Join(what, ", ")
		return out
	}
	svcs := v.answering()
	if len(svcs) == 0 {
		return unknown("no answering service of this subject in the scan evidence")
	}
	var plainOnes []string
	for _, s := range svcs {
		if plain(s) {
			plainOnes = append(plainOnes, fmt.Sprintf("%s/%d", s.Protocol, s.Port))
		}
	}
	if len(plainOnes) > 0 {
		return unknown("unencrypted %s answer; whether credentials cross them is not known", strings.Join(plainOnes, ", "))
	}
	return verdict{Outcome: Pass, Basis: BasisObserved, Reason: fmt.Sprintf("all %d answering service(s) use encrypted protocols or carry no login", len(svcs))}
}

func cleartextServices(v *view, _ Provision) verdict {
	svcs := v.answering()
	if len(svcs) == 0 {
		return unknown("no answering service of this subject in the scan evidence")
	}
	out := verdict{Outcome: Fail, Basis: BasisObserved}
	var what []string
	for _, s := range svcs {
		if plain(s) {
			out.Refs = append(out.Refs, svcRef(s))
			what = append(what, fmt.Sprintf("%s/%d on %s", s.Protocol, s.Port, s.IP))
		}
	}
	for _, c := range v.credsOf([]string{model.KindSNMPCommunity}) {
		out.Refs = append(out.Refs, v.credRef(c))
		what = append(what, fmt.Sprintf("snmp v1/v2c community on %d", c.Port))
	}
	if len(what) > 0 {
		out.Reason = "unencrypted protocols answer: " + strings.Join(what, ", ")
		return out
	}
	return verdict{Outcome: Pass, Basis: BasisObserved, Reason: fmt.Sprintf("none of %d answering service(s) uses a cleartext protocol", len(svcs))}
}

func unauthenticatedAccess(v *view, _ Provision) verdict {
	if open := v.credsOf(openKinds); len(open) > 0 {
		out := verdict{Outcome: Fail, Basis: BasisObserved}
		var what []string
		for _, c := range open {
			out.Refs = append(out.Refs, v.credRef(c))
			what = append(what, fmt.Sprintf("%s on %s/%d", c.Kind, c.Protocol, c.Port))
		}
		out.Reason = "access without a real credential: " + strings.Join(what, ", ")
		return out
	}
	if v.auditRan() && len(v.loginServices()) > 0 {
		return verdict{Outcome: Pass, Basis: BasisObserved, Reason: fmt.Sprintf("audit found no anonymous, empty-password or community access on %d service(s)", len(v.loginServices()))}
	}
	return unknown("no credential audit of this subject's services in the evidence")
}

func logicalAccess(v *view, p Provision) verdict {
	return combine(unauthenticatedAccess(v, p), defaultCredentials(v, p))
}

func debugServices(v *view, _ Provision) verdict {
	svcs := v.answering()
	if len(svcs) == 0 {
		return unknown("no answering service of this subject in the scan evidence")
	}
	for _, s := range svcs {
		if s.Protocol == model.ProtoTelnet || s.Port == 23 || s.Port == 2323 || s.Port == 5555 {
			return verdict{Outcome: Fail, Basis: BasisObserved, Refs: []Ref{svcRef(s)},
				Reason: fmt.Sprintf("maintenance interface open: %s on port %d", cmpOr(s.Protocol, "unknown"), s.Port)}
		}
	}
	var list []string
	for _, s := range svcs {
		list = append(list, fmt.Sprintf("%s/%d", cmpOr(s.Protocol, s.Transport), s.Port))
	}
	return unknown("%d service(s) answer (%s); no debug service seen, but whether each is needed is not observable", len(svcs), strings.Join(list, ", "))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func infoDisclosure(v *view, _ Provision) verdict {
	var leaks []model.CredentialResult
	for _, c := range v.creds {
		if c.Kind == model.KindSNMPCommunity || (c.Kind == model.KindAnonymousAccess && c.Protocol != model.ProtoHTTP) {
			leaks = append(leaks, c)
		}
	}
	if len(leaks) > 0 {
		out := verdict{Outcome: Fail, Basis: BasisObserved, Reason: fmt.Sprintf("%d unauthenticated read interface(s), e.g. %s on %s/%d", len(leaks), leaks[0].Kind, leaks[0].Protocol, leaks[0].Port)}
		for _, c := range leaks {
			out.Refs = append(out.Refs, v.credRef(c))
		}
		return out
	}
	if v.auditRan() && len(v.loginServices()) > 0 {
		return verdict{Outcome: Pass, Basis: BasisObserved, Reason: "no anonymous SNMP, FTP or MQTT read access accepted"}
	}
	return unknown("no credential audit of this subject's services in the evidence")
}

// firmwareAnalysed reports whether any firmware finding concerns the subject.
func (v *view) firmwareAnalysed() bool { return len(v.findingsFrom(SourceFirmware)) > 0 }

func firmwareRule(v *view, words []string, failFmt, passReason, unknownReason string) verdict {
	fs := v.matching(SourceFirmware, words...)
	if len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs), Reason: fmt.Sprintf(failFmt, len(fs), titles(fs, 3))}
	}
	if !v.firmwareAnalysed() {
		return unknown("no firmware analysis of this subject in the evidence")
	}
	if passReason == "" {
		return unknown("%s", unknownReason)
	}
	return verdict{Outcome: Pass, Basis: BasisObserved, Reason: passReason}
}

func hardcodedSecrets(v *view, _ Provision) verdict {
	if hc := v.credsOf([]string{model.KindHardcoded}); len(hc) > 0 {
		out := verdict{Outcome: Fail, Basis: BasisObserved, Reason: fmt.Sprintf("%d hard-coded credential(s) accepted on the device", len(hc))}
		for _, c := range hc {
			out.Refs = append(out.Refs, v.credRef(c))
		}
		return out
	}
	return firmwareRule(v, []string{"firmware-empty-password", "firmware-default-password", "firmware-secret", "firmware-private-key",
		"hard-coded", "hardcoded", "embedded-credential", "backdoor"},
		"firmware contains %d hard-coded secret(s): %s", "firmware analysis found no hard-coded credentials or keys", "")
}

func sharedKeys(v *view, _ Provision) verdict {
	// Observed: the device serves a host key other devices serve too.
	for _, s := range v.services {
		k, ok := hostkey.Of(s)
		if !ok {
			continue
		}
		if n := len(v.ix.keyHolders[k.Fingerprint]); n > 1 {
			what := "host key"
			if k.Kind == hostkey.KindTLS {
				what = "TLS public key"
			}
			return verdict{Outcome: Fail, Basis: BasisObserved, Refs: []Ref{svcRef(s)},
				Reason: fmt.Sprintf("%s:%d serves %s %s %s, which %d other device(s) serve too", s.IP, s.Port, s.Protocol, what, k.Fingerprint, n-1)}
		}
	}
	return firmwareRule(v, []string{"firmware-private-key", "private-key", "hard-coded-key", "hardcoded-key", "shared-key", "embedded-key"},
		"firmware embeds %d key(s) every unit shares: %s", "firmware analysis found no embedded private keys", "")
}

func secretStorage(v *view, _ Provision) verdict {
	return firmwareRule(v, []string{"firmware-secret", "firmware-empty-password", "plaintext-password", "cleartext-password", "weak-hash", "plaintext-secret"},
		"firmware stores %d secret(s) in plaintext or with a weak hash: %s", "",
		"no plaintext or weakly hashed secrets found in the image; protection of runtime storage is not observable from the image")
}

func debugInterface(v *view, _ Provision) verdict {
	return firmwareRule(v, []string{"debug", "uart", "serial-console", "jtag"},
		"firmware enables %d debug interface(s): %s", "",
		"no enabled debug console found in the image; physical interfaces need a hardware inspection")
}

func exploitMitigation(v *view, _ Provision) verdict {
	return firmwareRule(v, []string{"hardening", "no-nx", "no-pie", "no-relro", "no-canary", "exec-stack"},
		"%d binary hardening gap(s): %s", "",
		"no missing binary hardening reported by the firmware analysis")
}

// identified reports whether the subject was identified well enough to be
// matched against vulnerability data, and by what.
func (v *view) identified() (string, bool) {
	for _, a := range v.assets {
		if a.CPE != "" {
			return a.CPE, true
		}
	}
	for _, s := range v.services {
		if s.Fingerprint != nil && s.Fingerprint.CPE != "" {
			return s.Fingerprint.CPE, true
		}
	}
	if len(v.vulns) > 0 {
		return v.vulns[0].CPE, true
	}
	return "", false
}

func vulnRefs(ms []model.VulnMatch) []Ref {
	var out []Ref
	for _, m := range ms {
		id := m.Subject
		if m.IP.IsValid() {
			id = fmt.Sprintf("%s:%d", m.IP, m.Port)
		}
		d := fmt.Sprintf("%s %s, CVSS %.1f", m.Product, m.Version, m.CVSS)
		if m.KEV {
			d += ", in CISA KEV"
		}
		out = append(out, Ref{Source: SourceVulnDB, Kind: m.CVE, ID: id, Detail: d})
	}
	return out
}

// distinctCVEs counts the vulnerabilities among matches (one CVE matched on
// several ports or components counts once).
func distinctCVEs(ms []model.VulnMatch) int {
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.CVE] = true
	}
	return len(seen)
}

// counted is n with the singular or plural form of its noun.
func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func cves(ms []model.VulnMatch, n int) string {
	var ids []string
	for _, m := range ms {
		if !slices.Contains(ids, m.CVE) {
			ids = append(ids, m.CVE)
		}
	}
	if len(ids) > n {
		return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
	}
	return strings.Join(ids, ", ")
}

// vulnRule fails a subject with a match bad holds for, counting distinct
// CVEs; what and whats are the singular and plural of what they are.
func vulnRule(v *view, bad func(model.VulnMatch) bool, what, whats string) verdict {
	var hit []model.VulnMatch
	for _, m := range v.vulns {
		if bad(m) {
			hit = append(hit, m)
		}
	}
	if len(hit) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: vulnRefs(hit), Reason: counted(distinctCVEs(hit), what, whats) + ": " + cves(hit, 5)}
	}
	cpe, ok := v.identified()
	if !ok {
		return unknown("the subject is not identified to a CPE, so vulnerabilities cannot be matched")
	}
	if len(v.vulns) == 0 && !v.checked(store.StageVulns) {
		// Matches elsewhere in the store (other devices, firmware
		// components) say nothing about this subject: not checked.
		return unknown("vulnerabilities were not matched for %s (no vulnerability matching of this subject in the evidence)", cpe)
	}
	return verdict{Outcome: Pass, Basis: BasisObserved, Reason: fmt.Sprintf("no %s matched %s (%s)", what, cpe, counted(distinctCVEs(v.vulns), "other vulnerability", "other vulnerabilities"))}
}

func knownExploited(v *view, _ Provision) verdict {
	return vulnRule(v, func(m model.VulnMatch) bool { return m.KEV }, "known exploited vulnerability (CISA KEV)", "known exploited vulnerabilities (CISA KEV)")
}

func knownVulns(v *view, _ Provision) verdict {
	return vulnRule(v, func(m model.VulnMatch) bool {
		return m.KEV || m.CVSS >= 7 || m.Severity >= model.SeverityHigh
	}, "high or critical known vulnerability", "high or critical known vulnerabilities")
}

// inputCWEs are weakness classes that mean input was not validated.
var inputCWEs = []string{"CWE-20", "CWE-22", "CWE-77", "CWE-78", "CWE-79", "CWE-89", "CWE-94", "CWE-119", "CWE-120",
	"CWE-121", "CWE-122", "CWE-125", "CWE-134", "CWE-190", "CWE-502", "CWE-787", "CWE-918"}

func inputValidation(v *view, _ Provision) verdict {
	var hit []model.VulnMatch
	for _, m := range v.vulns {
		if slices.ContainsFunc(m.CWEs, func(c string) bool { return slices.Contains(inputCWEs, c) }) {
			hit = append(hit, m)
		}
	}
	if len(hit) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: vulnRefs(hit),
			Reason: counted(distinctCVEs(hit), "known vulnerability", "known vulnerabilities") + " from unvalidated input (injection, overflow, traversal): " + cves(hit, 5)}
	}
	return unknown("no known input-validation flaw matched; absence of known flaws does not show input is validated")
}

// compromiseWords mark flow findings of a device under someone else's control.
// The flow stage's detectors are scanning, brute-force, c2-beaconing,
// ddos-participation and known-bad-peer; inbound alerts (an outside actor
// acting on the device) are not compromise and are skipped.
var compromiseWords = []string{"c2", "beacon", "compromise", "botnet", "malware", "scanning", "brute-force",
	"known-bad-peer", "unauthorized-control", "ddos"}

func (v *view) flowsRan() bool {
	return len(v.findingsFrom(SourceFlows)) > 0 || v.all.ran("flows")
}

// inbound reports whether a flow finding is about an outside actor.
func inbound(f model.Finding) bool {
	for _, e := range f.Evidence {
		if m := dataMap(e.Data); m != nil {
			if b, ok := m["inbound"].(bool); ok && b {
				return true
			}
		}
	}
	return strings.HasPrefix(f.Title, "inbound ")
}

func compromise(v *view, _ Provision) verdict {
	var fs []model.Finding
	for _, f := range v.matching(SourceFlows, compromiseWords...) {
		if !inbound(f) {
			fs = append(fs, f)
		}
	}
	if len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs),
			Reason: fmt.Sprintf("%d flow alert(s) show the device attacking or beaconing: %s", len(fs), titles(fs, 3))}
	}
	if v.flowsRan() {
		return verdict{Outcome: Pass, Basis: BasisObserved, Reason: "flow telemetry shows no outbound attack or command-and-control traffic"}
	}
	return unknown("no flow telemetry in the evidence")
}

func cleartextData(v *view, _ Provision) verdict {
	if fs := v.matching(SourceFlows, "cleartext", "plaintext", "unencrypted"); len(fs) > 0 {
		return verdict{Outcome: Fail, Basis: BasisObserved, Refs: findingRefs(fs),
			Reason: fmt.Sprintf("%d unencrypted flow(s) to services: %s", len(fs), titles(fs, 3))}
	}
	return unknown("flow telemetry does not show whether personal data is encrypted in transit")
}
