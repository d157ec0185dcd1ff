package assess

import (
	"fmt"
	"slices"
	"strings"

	"iotwatch/internal/model"
)

// Outcomes of a provision.
const (
	Pass          = "pass"
	Fail          = "fail"
	Unknown       = "unknown"
	NotApplicable = "not-applicable"
)

// Bases of an outcome.
const (
	BasisObserved = "observed" // measured by iotwatch (scan, audit, firmware, flows, vulnerability match)
	BasisDeclared = "declared" // stated by the maker in a declaration
	BasisScreened = "screened" // entity-list screening
)

// Ref points at one piece of evidence behind an outcome.
type Ref struct {
	Source string `json:"source"`           // scan, audit, firmware, flows, vulndb, declaration, entity-list
	Kind   string `json:"kind,omitempty"`   // finding kind, credential kind, CVE, field
	ID     string `json:"id,omitempty"`     // address:port/protocol, CVE id, finding subject, file
	Detail string `json:"detail,omitempty"` // observed value
}

// verdict is what a rule decides.
type verdict struct {
	Outcome string
	Reason  string
	Basis   string
	Refs    []Ref
}

func unknown(format string, a ...any) verdict {
	return verdict{Outcome: Unknown, Reason: fmt.Sprintf(format, a...)}
}

// ruleFunc decides one provision from the evidence of one subject.
type ruleFunc func(v *view, p Provision) verdict

// rules is the one registry of evaluation rules, by name. The catalogue
// names them; parseCatalogue rejects unknown names.
var rules = map[string]ruleFunc{
	// observed evidence (rules_observed.go)
	"default-credentials":    defaultCredentials,
	"universal-password":     universalPassword,
	"weak-default-passwords": weakDefaultPasswords,
	"brute-force":            bruteForce,
	"cleartext-auth":         cleartextAuth,
	"cleartext-services":     cleartextServices,
	"secure-communication":   secureCommunication,
	"unauthenticated-access": unauthenticatedAccess,
	"logical-access":         logicalAccess,
	"debug-services":         debugServices,
	"info-disclosure":        infoDisclosure,
	"hardcoded-secrets":      hardcodedSecrets,
	"shared-keys":            sharedKeys,
	"secret-storage":         secretStorage,
	"debug-interface":        debugInterface,
	"exploit-mitigation":     exploitMitigation,
	"known-exploited":        knownExploited,
	"known-vulns":            knownVulns,
	"input-validation":       inputValidation,
	"compromise":             compromise,
	"cleartext-data":         cleartextData,
	// declared evidence, sometimes checked against observations (rules_declared.go)
	"statements-justified":    statementsJustified,
	"password-change":         passwordChange,
	"disclosure-policy":       disclosurePolicy,
	"disclosure-response":     disclosureResponse,
	"updatable":               updateMechanism,
	"update-mechanism":        updateMechanism,
	"update-simple":           updateSimple,
	"update-automatic":        updateAutomatic,
	"update-check":            updateCheck,
	"update-default-on":       updateDefaultOn,
	"update-signed":           updateSigned,
	"update-notify":           updateNotify,
	"updates-free":            updatesFree,
	"support-period":          supportPeriod,
	"constrained-support":     constrainedSupport,
	"model-designation":       modelDesignation,
	"sensing-disclosure":      sensingDisclosure,
	"fail-safe":               failSafe,
	"data-erase-device":       dataEraseDevice,
	"data-erase-services":     dataEraseServices,
	"data-erase-instructions": dataEraseInstructions,
	"data-erase-confirmation": dataEraseConfirmation,
	"data-disclosure":         dataDisclosure,
	"telemetry-disclosure":    telemetryDisclosure,
	"consent":                 consent,
	"consent-withdrawal":      consentWithdrawal,
	"data-retention":          dataRetention,
	"data-expiration":         dataExpiration,
	"deidentification":        deidentification,
	"sbom":                    sbom,
	"affiliation":             affiliationRule,
}

// criticalRules fail a subject outright (tier E): exploitable today at scale.
var criticalRules = []string{"default-credentials", "universal-password", "weak-default-passwords",
	"hardcoded-secrets", "known-exploited", "compromise"}

// combine returns the first fail, else pass if all pass, else the first
// non-pass verdict.
func combine(vs ...verdict) verdict {
	for _, x := range vs {
		if x.Outcome == Fail {
			return x
		}
	}
	out := verdict{Outcome: Pass}
	var reasons []string
	for _, x := range vs {
		if x.Outcome != Pass {
			return x
		}
		reasons = append(reasons, x.Reason)
		out.Refs = append(out.Refs, x.Refs...)
		if out.Basis == "" || x.Basis == BasisDeclared {
			out.Basis = x.Basis
		}
	}
	out.Reason = strings.Join(reasons, "; ")
	return out
}

// kindHas reports whether a finding kind contains any of the words.
func kindHas(kind string, words ...string) bool {
	k := strings.ToLower(kind)
	return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(k, w) })
}

// matching returns the findings of source src whose kind contains one of words.
func (v *view) matching(src string, words ...string) []model.Finding {
	var out []model.Finding
	for _, f := range v.findingsFrom(src) {
		if kindHas(f.Kind, words...) {
			out = append(out, f)
		}
	}
	return out
}

func findingRefs(fs []model.Finding) []Ref {
	var out []Ref
	for _, f := range fs {
		out = append(out, Ref{Source: findingSource(f), Kind: f.Kind, ID: f.Subject, Detail: f.Title})
	}
	return out
}

func titles(fs []model.Finding, n int) string {
	var ts []string
	for i, f := range fs {
		if i == n {
			ts = append(ts, fmt.Sprintf("and %d more", len(fs)-n))
			break
		}
		ts = append(ts, f.Title)
	}
	return strings.Join(ts, "; ")
}
