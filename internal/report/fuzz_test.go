package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"iotwatch/internal/stats"
)

// untrustedReport puts s everywhere a report shows text that came from a
// device or a file: vendor, device type, protocol, product, credential,
// CVE summary, firmware subject, finding title.
func untrustedReport(s string) *Report {
	g := []GroupShare{{Key: s, Devices: 2, Weak: 1, Share: 0.5, CI95: stats.Wilson(1, 2)}}
	c := []Count{{Key: s, Devices: 1, Services: 1}}
	return &Report{
		Title:       s,
		GeneratedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Runs:        []RunRef{{ID: 1, Kind: s, Status: s, Targets: []string{s}}},
		Summary:     Summary{Devices: 2, SampledDevices: 2, DevicesWithWeakCredentials: 1, WeakPasswordShare: 0.5},
		Absent:      map[string]string{SecTrends: s},
		VulnArchive: &VulnArchive{Source: s, Years: []YearRow{{YearStats: YearStats{Year: 2025, Total: 1}}}},
		Compromise:  &Compromise{Days: []DayCount{{Day: s, Devices: 1}}, PeakDay: s, Peak: 1, Mean: 1},
		WeakCredentials: WeakCredentials{ByVendor: g, ByDeviceType: g, ByProtocol: g, BySubnet: g, ByRegion: g,
			ByKind: c, TopPairs: []CredPair{{Username: s, Password: s, Devices: 1}}},
		Inventory:       Inventory{ByProtocol: c, ByVendor: c, ByDeviceType: c, ByProduct: c, BySubnet: c},
		Vulnerabilities: []VulnRow{{CVE: s, Severity: s, Devices: 1, Products: []string{s}, Summary: s}},
		Firmware:        &Firmware{Images: 1, ByKind: c, Findings: []FindingRow{{Kind: s, Severity: s, Subject: s, Title: s}}},
		Findings:        FindingsSummary{Total: 1, BySeverity: c, ByKind: c, Top: []FindingGroup{{Title: s, Kind: s, Severity: s, Subjects: 1}}},
		Assessment: &AssessmentSection{Devices: 1, Labels: c, Provisions: []ProvisionRate{{ProvisionOutcomes: ProvisionOutcomes{
			Baseline: s, ID: s, Title: s, Pass: 1}}}},
		Trends: []TrendPoint{{RunID: 1, Kind: s}, {RunID: 2, Kind: s}},
		Method: map[string]string{s: s},
	}
}

// FuzzRender checks that no untrusted string can inject markup into the HTML,
// break a Markdown table or the CSV, or make a renderer fail or panic.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"Hikvision", "<script>alert(1)</script>", "</svg><img src=x onerror=alert(1)>",
		`" onload="alert(1)`, "a|b\nc", "=cmd|' /C calc'!A0", "\x00\xff\xfe", "]]><![CDATA[", "{{.R}}", "&amp;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := untrustedReport(s)
		var h bytes.Buffer
		if err := r.WriteHTML(&h); err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(bytes.NewReader(h.Bytes()))
		if err != nil {
			t.Fatalf("html does not parse: %v", err)
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script", "img", "iframe", "object", "embed", "link", "foreignobject":
					t.Fatalf("input %q injected <%s>", s, n.Data)
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(strings.ToLower(a.Key), "on") {
						t.Fatalf("input %q injected attribute %s", s, a.Key)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)

		var md bytes.Buffer
		if err := r.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(md.String(), "\n") {
			if strings.HasPrefix(line, "| ") {
				cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
				if cells < 3 {
					t.Fatalf("broken table row %q", line)
				}
			}
			if strings.Contains(line, "<") && !strings.HasPrefix(line, "<") {
				t.Fatalf("markdown line carries raw markup: %q", line)
			}
		}

		var c bytes.Buffer
		if err := r.WriteCSV(&c); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&c).ReadAll()
		if err != nil {
			t.Fatalf("csv does not parse: %v", err)
		}
		for _, row := range rows {
			if len(row) != 5 {
				t.Fatalf("csv row has %d cells", len(row))
			}
		}
		var j bytes.Buffer
		if err := r.WriteJSON(&j); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(j.Bytes()) {
			t.Fatalf("json invalid")
		}
	})
}
