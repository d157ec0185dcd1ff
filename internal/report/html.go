package report

import (
	"iotwatch/internal/stats"
	"time"

	"embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"

	"iotwatch/internal/model"
)

//go:embed templates/report.html.tmpl
var templateFS embed.FS

// Schema is the JSON Schema (draft 2020-12) of report.json: the contract of
// the headline numbers that consumers such as the demo may rely on.
//
//go:embed schema/report.schema.json
var Schema []byte

var htmlTemplate = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"pct":    fmtPct,
	"pctOr":  pctOr,
	"daysOr": daysOr,
	"ci":     fmtCI,
	"growth": fmtGrowth,
	"num":    fmtNum,
	"dec":    func(n int) int { return n - 1 },
	"share":  stats.Ratio,
	"empty":  orEmpty,
	"join":   strings.Join,
	"top": func(cs []Count, n int) []Count {
		if len(cs) > n {
			return cs[:n]
		}
		return cs
	},
}).ParseFS(templateFS, "templates/report.html.tmpl"))

// Link is a navigation link the dashboard puts above a report.
type Link struct {
	Href string
	Text string
}

// HTMLOptions adjusts the HTML rendering.
type HTMLOptions struct {
	Nav []Link // navigation links above the title (the dashboard's)
	// TopVulns bounds the vulnerability table (default 25).
	TopVulns int
	// Devices, when set, links the headline numbers and the inventory's
	// rows to the devices behind them: it returns the URL of the device
	// inventory filtered by the query values (the dashboard's /devices).
	Devices func(url.Values) string
}

// htmlView is what the template sees: the report and its prepared charts.
type htmlView struct {
	R               *Report
	Nav             []Link
	ArchiveChart    template.HTML
	CompromiseChart template.HTML
	UptakeChart     template.HTML
	DestChart       template.HTML
	WeakVendor      template.HTML
	WeakType        template.HTML
	WeakProto       template.HTML
	ProtoChart      template.HTML
	TrendChart      template.HTML
	ConformChart    template.HTML
	TopVulns        []VulnRow
	TopPairs        []CredPair
	TopFindings     []FindingGroup
	// Audited is false when no credential audit is on record: the weak
	// share is then not a measurement and the headline says so.
	Audited bool
	devices func(url.Values) string
}

// A renders the number n, linked to the devices behind it (the inventory
// filtered by the key/value pairs kv) when the view has an inventory; a
// value "unknown" has no filter and is left unlinked.
func (v htmlView) A(n any, kv ...string) template.HTML {
	text := template.HTMLEscapeString(fmt.Sprint(n))
	if v.devices == nil || len(kv)%2 != 0 {
		return template.HTML(text)
	}
	q := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == model.Unknown || kv[i+1] == "" {
			return template.HTML(text)
		}
		q.Set(kv[i], kv[i+1])
	}
	return template.HTML(`<a class="devices" href="` + template.HTMLEscapeString(v.devices(q)) + `">` + text + `</a>`)
}

// linkedCounts is a table of counts whose rows link to the inventory
// filtered by Param = the row's key.
type linkedCounts struct {
	V     htmlView
	Param string
	Rows  []Count
}

// Linked pairs rows with the inventory filter they count.
func (v htmlView) Linked(param string, rows []Count) linkedCounts {
	return linkedCounts{V: v, Param: param, Rows: rows}
}

// WriteHTML writes the report as one self-contained HTML document with
// inline CSS and SVG charts: no scripts and no external fetches.
func (r *Report) WriteHTML(w io.Writer) error { return r.RenderHTML(w, HTMLOptions{}) }

// RenderHTML writes the report as HTML with options.
func (r *Report) RenderHTML(w io.Writer, o HTMLOptions) error {
	if o.TopVulns <= 0 {
		o.TopVulns = 25
	}
	v := htmlView{R: r, Nav: o.Nav, Audited: r.audited(), devices: o.Devices}
	if a := r.VulnArchive; a != nil {
		cols := make([]column, 0, len(a.Years))
		for _, y := range a.Years {
			cols = append(cols, column{label: fmt.Sprint(y.Year), total: float64(y.Total), part: float64(y.IoT)})
		}
		v.ArchiveChart = columns("Vulnerabilities archived per year, IoT share highlighted", "all", "IoT", cols)
	}
	if c := r.Compromise; c != nil {
		labels := make([]string, len(c.Days))
		vals := make([]float64, len(c.Days))
		for i, d := range c.Days {
			labels[i], vals[i] = d.Day, float64(d.Devices)
		}
		v.CompromiseChart = line("Devices under unauthorized remote control per day", labels, vals, 0, false)
	}
	if u := r.Uptake; u != nil && len(u.Products) > 0 {
		p := u.Products[0] // the product with the most units
		labels := make([]string, len(p.Series))
		vals := make([]float64, len(p.Series))
		for i, pt := range p.Series {
			labels[i], vals[i] = pt.At.Format(time.DateOnly), pt.OnNewest
		}
		v.UptakeChart = line(fmt.Sprintf("Share of %s %s units on version %s", p.Vendor, p.Product, p.Newest), labels, vals, 1, true)
	}
	if d := r.Destinations; d != nil {
		var bars []bar
		for _, c := range d.ByCountry[:min(len(d.ByCountry), 15)] {
			bars = append(bars, bar{label: c.Key, value: c.Share, text: fmt.Sprintf("%s (%d devices)", fmtPct(c.Share), c.Devices)})
		}
		v.DestChart = hbars("Share of the bytes devices sent, by destination country", bars, 1, false)
	}
	w8 := r.WeakCredentials
	v.WeakVendor = hbars("Weak-credential share by vendor", shareBars(w8.ByVendor, 15), 1, true)
	v.WeakType = hbars("Weak-credential share by device type", shareBars(w8.ByDeviceType, 15), 1, true)
	v.WeakProto = hbars("Weak-credential share by protocol", shareBars(w8.ByProtocol, 15), 1, true)
	pb := make([]bar, 0, len(r.Inventory.ByProtocol))
	pmax := 0.0
	for _, c := range r.Inventory.ByProtocol {
		pb = append(pb, bar{label: c.Key, value: float64(c.Devices), text: fmt.Sprintf("%d devices, %d services", c.Devices, c.Services)})
		pmax = max(pmax, float64(c.Devices))
	}
	v.ProtoChart = hbars("Devices per protocol", pb, pmax, false)
	v.TrendChart = trendChart(r.Trends)
	if a := r.Assessment; a != nil {
		var bars []bar
		for _, p := range a.Provisions {
			if p.Pass+p.Fail == 0 {
				continue // nothing decided: no rate to draw
			}
			bars = append(bars, bar{label: p.Baseline + " " + p.ID, value: p.Rate, low: p.CI95.Low, high: p.CI95.High,
				text: fmt.Sprintf("%s (%d/%d)", fmtPct(p.Rate), p.Pass, p.Pass+p.Fail)})
		}
		v.ConformChart = hbars("Conformance rate per provision decided by evidence", bars, 1, true)
	}
	v.TopVulns = r.Vulnerabilities
	if len(v.TopVulns) > o.TopVulns {
		v.TopVulns = v.TopVulns[:o.TopVulns]
	}
	v.TopFindings = r.Findings.Top[:min(25, len(r.Findings.Top))]
	v.TopPairs = w8.TopPairs
	if len(v.TopPairs) > 20 {
		v.TopPairs = v.TopPairs[:20]
	}
	if err := htmlTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// audited reports whether the weak-credential share is a measurement: weak
// credentials were found, or an audit ran and found none.
func (r *Report) audited() bool {
	return r.Summary.DevicesWithWeakCredentials > 0 || r.Absent[SecWeakCredentials] == reasonAuditClean
}

// trendChart draws the weak-credential share of the audited runs, or, when
// fewer than two were audited (daily rescans, one audit), the devices
// found by every run.
func trendChart(ts []TrendPoint) template.HTML {
	var labels []string
	var vals []float64
	for _, t := range ts {
		if t.WeakPasswordShare != nil {
			labels, vals = append(labels, fmt.Sprintf("#%d", t.RunID)), append(vals, *t.WeakPasswordShare)
		}
	}
	if len(vals) > 1 {
		return line("Weak-credential share across runs", labels, vals, 1, true)
	}
	if len(ts) < 2 {
		return ""
	}
	labels, vals = labels[:0], vals[:0]
	for _, t := range ts {
		labels, vals = append(labels, fmt.Sprintf("#%d %s", t.RunID, t.StartedAt.Format("01-02"))), append(vals, float64(t.Devices))
	}
	return line("Devices found across runs", labels, vals, 0, false)
}
