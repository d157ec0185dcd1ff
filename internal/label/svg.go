package label

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// Card geometry, in SVG user units (1 unit = 1 CSS px; the card prints at
// about 100 x 150 mm).
const (
	cardW   = 380
	cardH   = 570
	cardGap = 20
)

var tierColours = map[string]string{"A": "#1a7f37", "B": "#4d9a2a", "C": "#b08800", "D": "#d1640a", "E": "#c62828"}
var statusColours = map[string]string{"good": "#1a7f37", "bad": "#c62828", "unknown": "#7a7a7a"}

func esc(s string) string { return html.EscapeString(s) }

// wrap splits s into lines of at most n characters, at most max lines.
func wrap(s string, n, max int) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= n:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) > max {
		lines = lines[:max]
		lines[max-1] = strings.TrimRight(truncate(lines[max-1], n-1), " ") + "…"
	}
	for i, l := range lines {
		lines[i] = truncate(l, n)
	}
	return lines
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// svgDoc writes one SVG document holding every card, stacked.
func svgDoc(w io.Writer, labels []Short) error {
	n := max(len(labels), 1)
	h := n*cardH + (n-1)*cardGap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="IoT security label">`+"\n", cardW, h, cardW, h)
	for i, l := range labels {
		if err := card(&b, l, 0, i*(cardH+cardGap)); err != nil {
			return err
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// card draws one label at (x, y).
func card(b *strings.Builder, l Short, x, y int) error {
	font := `font-family="DejaVu Sans, Arial, Helvetica, sans-serif"`
	fmt.Fprintf(b, `<g transform="translate(%d %d)" class="label-card" data-subject="%s" data-tier="%s" %s>`+"\n", x, y, esc(l.Subject), esc(l.Tier), font)
	fmt.Fprintf(b, `<rect x="1" y="1" width="%d" height="%d" rx="10" fill="#ffffff" stroke="#111111" stroke-width="2"/>`+"\n", cardW-2, cardH-2)
	fmt.Fprintf(b, `<rect x="1" y="1" width="%d" height="44" rx="10" fill="#111111"/><rect x="1" y="30" width="%d" height="15" fill="#111111"/>`+"\n", cardW-2, cardW-2)
	fmt.Fprintf(b, `<text x="16" y="29" font-size="18" font-weight="bold" fill="#ffffff">IoT security label</text>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="29" font-size="12" fill="#ffffff" text-anchor="end">iotwatch</text>`+"\n", cardW-16)
	maker := cmpOr(l.Manufacturer, "Unknown maker")
	if l.Country != "" {
		maker += " (" + l.Country + ")"
	}
	fmt.Fprintf(b, `<text x="16" y="70" font-size="16" font-weight="bold">%s</text>`+"\n", esc(truncate(cmpOr(l.Model, l.Subject), 34)))
	fmt.Fprintf(b, `<text x="16" y="89" font-size="12" fill="#333333">%s</text>`+"\n", esc(truncate(maker, 50)))
	fmt.Fprintf(b, `<text x="16" y="105" font-size="11" fill="#555555">%s %s</text>`+"\n", esc(l.Kind), esc(l.Subject))
	// Tier.
	col := tierColours[l.Tier]
	if col == "" {
		col = "#7a7a7a"
	}
	fmt.Fprintf(b, `<rect x="16" y="118" width="72" height="72" rx="8" fill="%s"/>`+"\n", col)
	fmt.Fprintf(b, `<text x="52" y="174" font-size="52" font-weight="bold" fill="#ffffff" text-anchor="middle" class="tier">%s</text>`+"\n", esc(l.Tier))
	fmt.Fprintf(b, `<text x="100" y="134" font-size="13" font-weight="bold">Security tier %s (A best, E worst)</text>`+"\n", esc(l.Tier))
	for i, ln := range wrap(l.TierReason, 44, 4) {
		fmt.Fprintf(b, `<text x="100" y="%d" font-size="10" fill="#333333">%s</text>`+"\n", 151+i*13, esc(ln))
	}
	// Fact lines.
	yy := 214
	for _, ln := range l.Lines {
		fmt.Fprintf(b, `<line x1="16" y1="%d" x2="%d" y2="%d" stroke="#dddddd"/>`+"\n", yy-16, cardW-16, yy-16)
		fmt.Fprintf(b, `<circle cx="24" cy="%d" r="6" fill="%s" class="status-%s"/>`+"\n", yy-4, statusColours[ln.Status], ln.Status)
		fmt.Fprintf(b, `<text x="38" y="%d" font-size="12">%s</text>`+"\n", yy, esc(ln.Topic))
		fmt.Fprintf(b, `<text x="38" y="%d" font-size="12" font-weight="bold">%s</text>`+"\n", yy+16, esc(truncate(ln.Value, 48)))
		yy += 40
	}
	fmt.Fprintf(b, `<line x1="16" y1="%d" x2="%d" y2="%d" stroke="#dddddd"/>`+"\n", yy-16, cardW-16, yy-16)
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="12">Data goes to</text>`+"\n", yy)
	dest := "none declared or observed"
	if len(l.Destinations) > 0 {
		dest = strings.Join(l.Destinations, ", ")
	}
	for i, ln := range wrap(dest, 50, 2) {
		fmt.Fprintf(b, `<text x="16" y="%d" font-size="12" font-weight="bold">%s</text>`+"\n", yy+16+i*15, esc(ln))
	}
	// Footer: counts and QR code.
	qy := cardH - 130
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="11">Provisions checked: %d</text>`+"\n", qy+20, l.Counts.Pass+l.Counts.Fail+l.Counts.Unknown+l.Counts.NotApplicable)
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="11" fill="%s">%d pass</text>`+"\n", qy+38, statusColours["good"], l.Counts.Pass)
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="11" fill="%s">%d fail (%d mandatory)</text>`+"\n", qy+54, statusColours["bad"], l.Counts.Fail, l.Counts.MandatoryFail)
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="11" fill="%s">%d unknown, %d not applicable</text>`+"\n", qy+70, statusColours["unknown"], l.Counts.Unknown, l.Counts.NotApplicable)
	fmt.Fprintf(b, `<text x="16" y="%d" font-size="9" fill="#555555">Scan the code for every provision and its evidence.</text>`+"\n", qy+100)
	mods, err := qrModules(l.QR)
	if err != nil {
		return err
	}
	const qs = 110
	unit := float64(qs) / float64(len(mods))
	qx := cardW - 16 - qs
	fmt.Fprintf(b, `<g class="qr" transform="translate(%d %d) scale(%.4f)"><rect width="%d" height="%d" fill="#ffffff"/><path fill="#000000" d="`, qx, qy, unit, len(mods), len(mods))
	for r, row := range mods {
		for c, dark := range row {
			if dark {
				fmt.Fprintf(b, "M%d %dh1v1h-1z", c, r)
			}
		}
	}
	b.WriteString(`"/></g>` + "\n</g>\n")
	return nil
}
