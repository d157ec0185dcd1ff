package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"iotwatch/internal/stats"
)

// WriteMarkdown writes the report as GitHub-flavoured Markdown with tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := &mdWriter{w: bw}
	r.markdown(m)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

type mdWriter struct{ w *bufio.Writer }

func (m *mdWriter) p(format string, args ...any) { fmt.Fprintf(m.w, format+"\n", args...) }

// table writes a Markdown table; cells are escaped.
func (m *mdWriter) table(head []string, rows [][]string) {
	m.p("")
	m.p("| %s |", strings.Join(mdEscapeAll(head), " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	m.p("| %s |", strings.Join(seps, " | "))
	for _, r := range rows {
		m.p("| %s |", strings.Join(mdEscapeAll(r), " | "))
	}
	m.p("")
}

func mdEscapeAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = mdEscape(c)
	}
	return out
}

// mdEscape keeps untrusted text from breaking tables or injecting markup.
var mdEscaper = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;",
	"*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`)

func mdEscape(s string) string { return mdEscaper.Replace(s) }

func (m *mdWriter) absent(reason string) { m.p("_%s_\n", mdEscape(reason)) }

func (m *mdWriter) shares(title string, gs []GroupShare) {
	if len(gs) == 0 {
		return
	}
	m.p("### %s", title)
	rows := make([][]string, 0, len(gs))
	for _, g := range gs {
		rows = append(rows, []string{g.Key, fmt.Sprint(g.Devices), fmt.Sprint(g.Weak), fmtPct(g.Share), fmtCI(g.CI95)})
	}
	m.table([]string{"group", "devices", "weak", "share", "95% CI"}, rows)
}

func (m *mdWriter) counts(title, key string, cs []Count) {
	if len(cs) == 0 {
		return
	}
	m.p("### %s", title)
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{c.Key, fmt.Sprint(c.Devices)})
	}
	m.table([]string{key, "count"}, rows)
}

func (r *Report) markdown(m *mdWriter) {
	s := r.Summary
	m.p("# %s\n", mdEscape(r.Title))
	runs := make([]string, 0, len(r.Runs))
	for _, run := range r.Runs {
		runs = append(runs, fmt.Sprintf("#%d %s (%s, %s)", run.ID, run.Kind, run.Status, run.StartedAt.Format("2006-01-02 15:04")))
	}
	m.p("Generated %s from %d run(s): %s.\n", r.GeneratedAt.Format("2006-01-02 15:04 UTC"), len(r.Runs), mdEscape(strings.Join(runs, ", ")))

	m.p("## Headline numbers\n")
	m.p("- **%d** devices with open services (%d services)", s.Devices, s.Services)
	if r.audited() {
		m.p("- **%s** of %d sampled devices accept weak credentials (%d devices; 95%% CI %s)",
			fmtPct(s.WeakPasswordShare), s.SampledDevices, s.DevicesWithWeakCredentials, fmtCI(s.WeakPasswordCI95))
	} else {
		m.p("- weak credentials: %s", mdEscape(r.Absent[SecWeakCredentials]))
	}
	m.p("- **%d** devices with known vulnerabilities (%s, 95%% CI %s); **%d** with known exploited ones (KEV; %s, 95%% CI %s)",
		s.VulnerableDevices, fmtPct(s.VulnerableShare), fmtCI(s.VulnerableCI95), s.KEVDevices, fmtPct(s.KEVShare), fmtCI(s.KEVCI95))
	if r.Compromise != nil {
		m.p("- **%s** devices under unauthorized remote control per day (peak %d on %s)", fmtNum(s.CompromisedPerDay), s.CompromisedPeak, mdEscape(r.Compromise.PeakDay))
	} else {
		m.p("- devices under unauthorized control: %s", mdEscape(r.Absent[SecCompromise]))
	}
	if r.VulnArchive != nil {
		m.p("- **%d** vulnerabilities archived in %d (%s on the year before); IoT share %s", s.ArchivedLatest, s.ArchivedLatestYear, fmtGrowth(s.ArchivedGrowth), fmtPct(s.IoTShareLatest))
	} else {
		m.p("- vulnerability archive: %s", mdEscape(r.Absent[SecVulnArchive]))
	}
	m.p("- **%d** findings; %d firmware image(s) analysed\n", s.Findings, s.FirmwareImages)

	m.p("## Vulnerabilities archived\n")
	if a := r.VulnArchive; a != nil {
		m.p("%d vulnerabilities, %d (%s) affecting IoT products, %d known exploited.", a.Total, a.IoT, fmtPct(stats.Ratio(a.IoT, a.Total)), a.KEV)
		rows := [][]string{}
		for _, y := range a.Years {
			yr := fmt.Sprint(y.Year)
			if y.Partial {
				yr += " (to date)"
			}
			rows = append(rows, []string{yr, fmt.Sprint(y.Total), fmtGrowth(y.Growth), fmt.Sprint(y.IoT), fmtPct(y.IoTShare), fmtGrowth(y.IoTGrowth), fmt.Sprint(y.KEV)})
		}
		m.table([]string{"year", "archived", "growth", "IoT", "IoT share", "IoT growth", "KEV"}, rows)
	} else {
		m.absent(r.Absent[SecVulnArchive])
	}

	m.p("## Devices under unauthorized remote control\n")
	if c := r.Compromise; c != nil {
		m.p("Mean %s devices per day over %d day(s); peak %d on %s.", fmtNum(c.Mean), len(c.Days), c.Peak, mdEscape(c.PeakDay))
		rows := [][]string{}
		for _, d := range c.Days {
			rows = append(rows, []string{d.Day, fmt.Sprint(d.Devices)})
		}
		m.table([]string{"day", "devices"}, rows)
	} else {
		m.absent(r.Absent[SecCompromise])
	}

	m.p("## Why devices fall\n")
	if f := r.Fall; f != nil {
		m.p("%d device(s) were under unauthorized remote control; %d of them are in the sample, whose evidence says how they could be reached. Beside each share, the same share among the %d other sampled devices.", f.Compromised, f.InSample, f.Others)
		rows := [][]string{}
		for _, x := range f.Reasons {
			rows = append(rows, []string{mdEscape(x.Key), fmt.Sprint(x.Devices), fmtPct(x.Share), fmtCI(x.CI95), fmt.Sprint(x.Others), fmtPct(x.OthersShare), fmtCI(x.OthersCI95)})
		}
		m.table([]string{"weakness", "compromised", "share", "95% CI", "others", "share", "95% CI"}, rows)
		m.shares("Compromised devices with a weak credential, by vendor", f.ByVendor)
		m.shares("Compromised devices with a weak credential, by device type", f.ByDeviceType)
	} else {
		m.absent(r.Absent[SecFall])
	}

	m.p("## Devices at risk today\n")
	if len(r.Risk) > 0 {
		m.p("Vulnerabilities present on the devices, ranked by the exploitation evidence seen in this fleet: units under unauthorized control, units attacked on the vulnerable port, then KEV, EPSS and units exposed.")
		rows := [][]string{}
		for _, x := range r.Risk[:min(len(r.Risk), 25)] {
			rows = append(rows, []string{mdEscape(x.CVE), fmt.Sprint(x.Units), fmt.Sprint(x.Compromised), fmt.Sprint(x.Attacked), mdEscape(x.Evidence)})
		}
		m.table([]string{"CVE", "units", "under control", "attacked", "evidence"}, rows)
	} else {
		m.absent(r.Absent[SecRisk])
	}

	m.p("## Shared keys\n")
	if k := r.SharedKeys; k != nil {
		m.p("%d of %d devices presenting an SSH host key or a TLS certificate (%s, 95%% CI %s) serve a key another device serves too; %d serve a key whose private half is in an analysed firmware image. Of %d devices presenting a TLS certificate, %d share its public key and %d the certificate itself with another device.",
			k.Sharing, k.KeyedDevices, fmtPct(k.SharingShare), fmtCI(k.SharingCI95), k.FromFirmware, k.TLSKeyed, k.TLSSharing, k.TLSCertSharing)
		rows := [][]string{}
		for _, x := range k.Keys[:min(len(k.Keys), 20)] {
			rows = append(rows, []string{mdEscape(x.Fingerprint), x.Kind, mdEscape(x.Type), fmt.Sprint(len(x.Devices)), mdEscape(strings.Join(x.Products, ", ")), mdEscape(strings.Join(x.Images, ", "))})
		}
		m.table([]string{"key", "kind", "type", "devices", "products", "firmware images"}, rows)
	} else {
		m.absent(r.Absent[SecSharedKeys])
	}

	m.p("## Patch uptake\n")
	if u := r.Uptake; u != nil {
		m.p("Versions of each product across %d scans; units tracked are those seen in two scans or more.", len(u.Scans))
		rows := [][]string{}
		for _, p := range u.Products[:min(len(u.Products), 20)] {
			last := p.Series[len(p.Series)-1]
			rows = append(rows, []string{mdEscape(strings.TrimSpace(p.Vendor + " " + p.Product)), mdEscape(p.Newest), fmt.Sprint(last.Units), fmtPct(last.OnNewest), fmt.Sprint(p.Tracked), fmt.Sprint(p.NeverUpdated)})
		}
		m.table([]string{"product", "newest version", "units (last scan)", "on newest", "tracked", "never updated"}, rows)
		rows = rows[:0]
		for _, p := range u.Products {
			for _, c := range p.CVEs {
				half := "not yet"
				if c.HalfFixedDays != nil {
					half = fmt.Sprintf("%.1f days", *c.HalfFixedDays)
				}
				rows = append(rows, []string{mdEscape(c.CVE), mdEscape(strings.TrimSpace(p.Vendor + " " + p.Product)), fmt.Sprint(c.AffectedFirst), fmt.Sprint(c.AffectedLast), half})
			}
		}
		if len(rows) > 0 {
			m.table([]string{"CVE", "product", "affected first", "affected now", "half fixed after"}, rows)
		}
	} else {
		m.absent(r.Absent[SecUptake])
	}

	m.p("## Where device data goes\n")
	if d := r.Destinations; d != nil {
		m.p("%d devices sent %d bytes (databases: %s).", d.Devices, d.Bytes, mdEscape(strings.Join(d.Databases, ", ")))
		rows := [][]string{}
		for _, c := range d.ByCountry[:min(len(d.ByCountry), 20)] {
			rows = append(rows, []string{mdEscape(c.Key), fmt.Sprint(c.Devices), fmt.Sprint(c.Bytes), fmtPct(c.Share)})
		}
		m.table([]string{"country", "devices", "bytes", "share"}, rows)
		if len(d.ByOwner) > 0 {
			rows = rows[:0]
			for _, c := range d.ByOwner[:min(len(d.ByOwner), 20)] {
				rows = append(rows, []string{mdEscape(c.Key), fmt.Sprint(c.Devices), fmt.Sprint(c.Bytes), fmtPct(c.Share)})
			}
			m.table([]string{"network owner", "devices", "bytes", "share"}, rows)
		}
	} else {
		m.absent(r.Absent[SecDestinations])
	}

	m.p("## Weak credentials\n")
	if reason, ok := r.Absent[SecWeakCredentials]; ok {
		m.absent(reason)
	} else {
		w := r.WeakCredentials
		m.shares("By vendor", w.ByVendor)
		m.shares("By device type", w.ByDeviceType)
		m.shares("By protocol", w.ByProtocol)
		m.shares("By subnet", w.BySubnet)
		m.shares("By region", w.ByRegion)
		m.counts("By kind of credential", "kind", w.ByKind)
		if f := w.Firmware; f != nil {
			m.p("### Defaults proven from firmware\n\n%d weak credentials on %d devices were found with an account an analysed firmware image of the device's product holds.\n", f.Credentials, f.Devices)
			rows := [][]string{}
			for _, c := range f.Images {
				rows = append(rows, []string{c.Key, fmt.Sprint(c.Devices)})
			}
			m.table([]string{"firmware image", "devices opened"}, rows)
		}
		rows := [][]string{}
		for _, p := range w.TopPairs[:min(20, len(w.TopPairs))] {
			rows = append(rows, []string{orEmpty(p.Username), orEmpty(p.Password), fmt.Sprint(p.Devices)})
		}
		m.p("### Credentials that opened the most devices")
		m.table([]string{"username", "password", "devices"}, rows)
	}

	m.p("## Inventory\n")
	if reason, ok := r.Absent[SecInventory]; ok {
		m.absent(reason)
	} else {
		inv := r.Inventory
		rows := [][]string{}
		for _, c := range inv.ByProtocol {
			rows = append(rows, []string{c.Key, fmt.Sprint(c.Devices), fmt.Sprint(c.Services)})
		}
		m.p("### Protocols")
		m.table([]string{"protocol", "devices", "services"}, rows)
		m.counts("Vendors", "vendor", inv.ByVendor)
		m.counts("Device types", "device type", inv.ByDeviceType)
		m.counts("Products", "product", inv.ByProduct[:min(25, len(inv.ByProduct))])
		m.counts("Subnets", "subnet", inv.BySubnet[:min(25, len(inv.BySubnet))])
	}

	m.p("## Vulnerabilities found on devices\n")
	if len(r.Vulnerabilities) > 0 {
		rows := [][]string{}
		for _, v := range r.Vulnerabilities[:min(25, len(r.Vulnerabilities))] {
			kev := "no"
			if v.KEV {
				kev = "yes"
			}
			epss := "-"
			if v.EPSS > 0 {
				epss = fmt.Sprintf("%.4f", v.EPSS)
			}
			rows = append(rows, []string{v.CVE, fmtNum(v.CVSS), epss, v.Severity, kev, fmt.Sprint(v.Devices), strings.Join(v.Products, ", ")})
		}
		m.table([]string{"CVE", "CVSS", "EPSS", "severity", "KEV", "devices", "products"}, rows)
	} else {
		m.absent(r.Absent[SecVulnerabilities])
	}

	m.p("## Firmware\n")
	if f := r.Firmware; f != nil {
		m.p("%d firmware image(s) or component subject(s); %d distinct CVEs matched to firmware components.", f.Images, f.ComponentCVEs)
		rows := [][]string{}
		for _, x := range f.Findings {
			rows = append(rows, []string{x.Severity, x.Kind, x.Subject, x.Title})
		}
		m.table([]string{"severity", "kind", "image", "finding"}, rows)
	} else {
		m.absent(r.Absent[SecFirmware])
	}

	m.p("## Findings\n")
	if r.Findings.Total > 0 {
		m.p("%d findings.\n", r.Findings.Total)
		m.counts("By severity", "severity", r.Findings.BySeverity)
		m.counts("By kind", "kind", r.Findings.ByKind)
		rows := [][]string{}
		for _, g := range r.Findings.Top[:min(25, len(r.Findings.Top))] {
			rows = append(rows, []string{g.Severity, g.Kind, g.Title, fmt.Sprint(g.Subjects)})
		}
		m.p("### Most severe and widespread")
		m.table([]string{"severity", "kind", "finding", "subjects"}, rows)
	} else {
		m.absent(r.Absent[SecFindings])
	}

	m.p("## Conformance with baselines\n")
	if a := r.Assessment; a != nil {
		m.p("%d device(s) assessed. Conformance rate = pass / (pass + fail).", a.Devices)
		rows := [][]string{}
		for _, p := range a.Provisions {
			rate, ci := "–", "–"
			if p.Pass+p.Fail > 0 {
				rate, ci = fmtPct(p.Rate), fmtCI(p.CI95)
			}
			rows = append(rows, []string{p.Baseline, p.ID, p.Title, fmt.Sprint(p.Pass), fmt.Sprint(p.Fail), fmt.Sprint(p.NotApplicable), fmt.Sprint(p.Unknown), rate, ci})
		}
		m.table([]string{"baseline", "provision", "title", "pass", "fail", "n/a", "unknown", "rate", "95% CI"}, rows)
		m.counts("Labels", "label", a.Labels)
		if len(a.Contradictions) > 0 {
			m.p("### Declared versus observed\n")
			rows := [][]string{}
			for _, c := range a.Contradictions {
				rows = append(rows, []string{c.Subject, c.Claim, c.Field + " = " + c.Declared, c.Source + ": " + c.Observed, c.Tier})
			}
			m.table([]string{"subject", "claim", "declared", "observed", "tier"}, rows)
		}
	} else {
		m.absent(r.Absent[SecAssessment])
	}

	m.p("## Trends across runs\n")
	if reason, ok := r.Absent[SecTrends]; ok {
		m.absent(reason)
	}
	if len(r.Trends) > 0 {
		rows := [][]string{}
		for _, t := range r.Trends {
			rows = append(rows, []string{fmt.Sprintf("#%d", t.RunID), t.Kind, t.StartedAt.Format("2006-01-02 15:04"), fmt.Sprint(t.Devices), fmt.Sprint(t.Services), fmt.Sprint(t.WeakDevices), pctOr(t.WeakPasswordShare)})
		}
		m.table([]string{"run", "kind", "started", "devices", "services", "weak", "share"}, rows)
	}

	m.p("## Method\n")
	keys := make([]string, 0, len(r.Method))
	for k := range r.Method {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m.p("- **%s**: %s", mdEscape(k), mdEscape(r.Method[k]))
	}
}
