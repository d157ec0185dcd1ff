package assess

import (
	"net/netip"
	"testing"

	"iotwatch/internal/model"
)

// TestVulnRuleCountsCVEs: a failing vulnerability rule counts distinct CVEs
// (one CVE matched on two ports is one vulnerability) and its noun agrees.
func TestVulnRuleCountsCVEs(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.5")
	m := func(cve string, port uint16, kev bool, cwes ...string) model.VulnMatch {
		return model.VulnMatch{IP: ip, Port: port, CVE: cve, KEV: kev, CVSS: 9.8, CWEs: cwes}
	}
	for _, tc := range []struct {
		name  string
		rule  func(*view, Provision) verdict
		vulns []model.VulnMatch
		want  string
	}{
		{"one KEV CVE on two ports", knownExploited, []model.VulnMatch{m("CVE-2015-2051", 80, true), m("CVE-2015-2051", 8080, true)},
			"1 known exploited vulnerability (CISA KEV): CVE-2015-2051"},
		{"two KEV CVEs", knownExploited, []model.VulnMatch{m("CVE-2015-2051", 80, true), m("CVE-2019-10891", 80, true), m("CVE-2015-2051", 8080, true)},
			"2 known exploited vulnerabilities (CISA KEV): CVE-2015-2051, CVE-2019-10891"},
		{"one high CVE on two ports", knownVulns, []model.VulnMatch{m("CVE-2020-1", 80, false), m("CVE-2020-1", 443, false)},
			"1 high or critical known vulnerability: CVE-2020-1"},
		{"one input CVE on two ports", inputValidation, []model.VulnMatch{m("CVE-2020-2", 80, false, "CWE-78"), m("CVE-2020-2", 443, false, "CWE-78")},
			"1 known vulnerability from unvalidated input (injection, overflow, traversal): CVE-2020-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &view{subj: Subject{IPs: []netip.Addr{ip}}, vulns: tc.vulns}
			got := tc.rule(v, Provision{})
			if got.Outcome != Fail || got.Reason != tc.want {
				t.Errorf("%s %q, want fail %q", got.Outcome, got.Reason, tc.want)
			}
		})
	}
}
