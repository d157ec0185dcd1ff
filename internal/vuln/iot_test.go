package vuln

import (
	"testing"

	"iotwatch/internal/vuln/feed"
)

func rec(desc string, criteria ...string) *feed.Record {
	r := &feed.Record{ID: "CVE-2000-0001", Description: desc}
	if len(criteria) > 0 {
		var n feed.Node
		for i, c := range criteria {
			n.Matches = append(n.Matches, feed.Match{Vulnerable: i == 0, Criteria: c})
		}
		r.Configs = []feed.Config{{Nodes: []feed.Node{n}}}
	}
	return r
}

func TestClassifyIoT(t *testing.T) {
	tests := []struct {
		name   string
		r      *feed.Record
		want   bool
		reason string
	}{
		{"device vendor hardware platform", rec("", "cpe:2.3:a:realtek:sdk:*", "cpe:2.3:h:dlink:dir-645:-"), true, "device CPE dlink:dir-645"},
		{"device vendor firmware", rec("", "cpe:2.3:o:hikvision:ds-2cd_firmware:-"), true, "device CPE hikvision:ds-2cd_firmware"},
		{"unknown vendor firmware", rec("", "cpe:2.3:o:acme:widget_firmware:1.0"), true, "firmware CPE acme:widget_firmware"},
		{"infrastructure vendor firmware", rec("", "cpe:2.3:o:netapp:a250_firmware:-"), false, ""},
		{"embedded stack", rec("", "cpe:2.3:a:busybox:busybox:*"), true, "embedded stack busybox"},
		{"embedded stack only as platform", rec("", "cpe:2.3:a:openbsd:openssh:*", "cpe:2.3:a:thekelleys:dnsmasq:*"), false, ""},
		{"general software", rec("router firmware mentioned", "cpe:2.3:a:haxx:curl:*"), false, ""},
		{"operating system", rec("", "cpe:2.3:o:debian:debian_linux:12.0"), false, ""},
		{"keyword without CPEs", rec("A command injection in the web interface of the XYZ router."), true, "keyword router"},
		{"stack keyword without CPEs", rec("In Mosquitto before 2.0.16, excessive memory is allocated."), true, "keyword mosquitto"},
		{"no keyword without CPEs", rec("The SSH transport protocol with certain OpenSSH extensions."), false, ""},
		{"unparsable criteria only", rec("router", "garbage"), true, "keyword router"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := ClassifyIoT(tt.r)
			if got != tt.want || reason != tt.reason {
				t.Errorf("ClassifyIoT = %v %q, want %v %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}
