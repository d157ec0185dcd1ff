package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are hand-made inline SVG: deterministic (golden files), no script,
// no external assets, and readable when printed. Every label passes through
// html.EscapeString because SVG text here is built as a string.

const (
	chartWidth = 640
	barHeight  = 18
	barGap     = 6
	labelWidth = 180
	valueWidth = 150
)

// bar is one bar of a horizontal bar chart.
type bar struct {
	label string
	value float64 // 0..max
	low   float64 // whisker, when whisker is set
	high  float64
	text  string // printed right of the bar
}

// hbars draws a horizontal bar chart; with whiskers it draws the interval
// [low, high] over each bar. max is the value of a full-width bar.
func hbars(title string, bars []bar, max float64, whiskers bool) template.HTML {
	if len(bars) == 0 || max <= 0 {
		return ""
	}
	plot := float64(chartWidth - labelWidth - valueWidth)
	h := len(bars)*(barHeight+barGap) + barGap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`,
		chartWidth, h, chartWidth, h, html.EscapeString(title))
	for i, br := range bars {
		y := barGap + i*(barHeight+barGap)
		w := plot * clamp(br.value/max)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="lbl">%s</text>`,
			labelWidth-6, y+barHeight-5, html.EscapeString(truncate(br.label, 28)))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d"><title>%s: %s</title></rect>`,
			labelWidth, y, w, barHeight, html.EscapeString(br.label), html.EscapeString(br.text))
		if whiskers {
			x1 := float64(labelWidth) + plot*clamp(br.low/max)
			x2 := float64(labelWidth) + plot*clamp(br.high/max)
			mid := y + barHeight/2
			fmt.Fprintf(&b, `<path class="ci" d="M%.1f %dH%.1fM%.1f %dV%dM%.1f %dV%d"/>`,
				x1, mid, x2, x1, y+3, y+barHeight-3, x2, y+3, y+barHeight-3)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="val">%s</text>`,
			labelWidth+int(plot)+6, y+barHeight-5, html.EscapeString(br.text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// column is one column of a column chart: a total and an optional highlighted part.
type column struct {
	label string
	total float64
	part  float64
}

// columns draws a column chart with the highlighted part of each column in a
// second colour (e.g. IoT vulnerabilities within all archived ones).
func columns(title, totalName, partName string, cols []column) template.HTML {
	if len(cols) == 0 {
		return ""
	}
	max := 0.0
	for _, c := range cols {
		max = math.Max(max, c.total)
	}
	if max <= 0 {
		return ""
	}
	const h, top, bottom, left = 220, 24, 30, 48
	plotH := float64(h - top - bottom)
	step := float64(chartWidth-left-10) / float64(len(cols))
	w := math.Max(2, step*0.7)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`,
		chartWidth, h, chartWidth, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect class="bar" x="%d" y="4" width="10" height="10"/><text x="%d" y="13" class="lbl">%s</text>`,
		left, left+14, html.EscapeString(totalName))
	if partName != "" {
		fmt.Fprintf(&b, `<rect class="part" x="%d" y="4" width="10" height="10"/><text x="%d" y="13" class="lbl">%s</text>`,
			left+160, left+174, html.EscapeString(partName))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="val">%s</text>`, left-4, top+8, fmtNum(max))
	fmt.Fprintf(&b, `<path class="axis" d="M%d %dV%dH%d"/>`, left, top, h-bottom, chartWidth-10)
	every := int(math.Ceil(float64(len(cols)) / 12))
	for i, c := range cols {
		x := float64(left) + float64(i)*step + (step-w)/2
		th := plotH * clamp(c.total/max)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			x, float64(h-bottom)-th, w, th, html.EscapeString(c.label), fmtNum(c.total))
		if c.part > 0 {
			ph := plotH * clamp(c.part/max)
			fmt.Fprintf(&b, `<rect class="part" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s</title></rect>`,
				x, float64(h-bottom)-ph, w, ph, html.EscapeString(c.label), html.EscapeString(partName), fmtNum(c.part))
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" class="lbl">%s</text>`,
				x+w/2, h-bottom+16, html.EscapeString(truncate(c.label, 10)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// line draws a line chart of points over evenly spaced labels; max is the
// top of the y axis (0 to scale to the data), pct prints values as percentages.
func line(title string, labels []string, values []float64, max float64, pct bool) template.HTML {
	if len(values) == 0 {
		return ""
	}
	if max <= 0 {
		for _, v := range values {
			max = math.Max(max, v)
		}
	}
	if max <= 0 {
		max = 1
	}
	const h, top, bottom, left = 200, 14, 30, 48
	plotH := float64(h - top - bottom)
	plotW := float64(chartWidth - left - 20)
	fmtV := fmtNum
	if pct {
		fmtV = fmtPct
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`,
		chartWidth, h, chartWidth, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<path class="axis" d="M%d %dV%dH%d"/>`, left, top, h-bottom, chartWidth-10)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="val">%s</text>`, left-4, top+8, fmtV(max))
	xAt := func(i int) float64 {
		if len(values) == 1 {
			return float64(left) + plotW/2
		}
		return float64(left) + plotW*float64(i)/float64(len(values)-1)
	}
	yAt := func(v float64) float64 { return float64(h-bottom) - plotH*clamp(v/max) }
	var d strings.Builder
	for i, v := range values {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&d, "%s%.1f %.1f", cmd, xAt(i), yAt(v))
	}
	fmt.Fprintf(&b, `<path class="line" d="%s"/>`, d.String())
	every := int(math.Ceil(float64(len(values)) / 8))
	for i, v := range values {
		fmt.Fprintf(&b, `<circle class="dot" cx="%.1f" cy="%.1f" r="3"><title>%s: %s</title></circle>`,
			xAt(i), yAt(v), html.EscapeString(labels[i]), fmtV(v))
		if i%every == 0 {
			anchor := "middle"
			switch {
			case len(values) > 1 && i == 0:
				anchor = "start"
			case len(values) > 1 && i == len(values)-1:
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" class="lbl">%s</text>`,
				xAt(i), h-bottom+16, anchor, html.EscapeString(truncate(labels[i], 12)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func clamp(f float64) float64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return math.Min(f, 1)
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fmtPct prints a share as a percentage with one decimal.
func fmtPct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// daysOr prints a number of days that may not have come yet.
func daysOr(f *float64) string {
	if f == nil {
		return "not yet"
	}
	return fmt.Sprintf("%.1f days", *f)
}

// pctOr prints a share that may not have been measured.
func pctOr(f *float64) string {
	if f == nil {
		return "not audited"
	}
	return fmtPct(*f)
}

// fmtNum prints a count without decimals, other numbers with up to two.
func fmtNum(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

// fmtCI prints an interval as "[a%, b%]".
func fmtCI(i Interval) string { return "[" + fmtPct(i.Low) + ", " + fmtPct(i.High) + "]" }

// fmtGrowth prints a relative change with its sign; nil (no previous value) prints "–".
func fmtGrowth(f *float64) string {
	if f == nil {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", *f*100)
}

// orEmpty shows an empty username or password as "(empty)".
func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// shareBars turns group shares into bars with whiskers, at most n.
func shareBars(gs []GroupShare, n int) []bar {
	if len(gs) > n {
		gs = gs[:n]
	}
	out := make([]bar, 0, len(gs))
	for _, g := range gs {
		out = append(out, bar{label: g.Key, value: g.Share, low: g.CI95.Low, high: g.CI95.High,
			text: fmt.Sprintf("%s (%d/%d)", fmtPct(g.Share), g.Weak, g.Devices)})
	}
	return out
}
