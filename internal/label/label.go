// Package label publishes an assessment two ways: a short label for buyers
// (plain text, JSON, and a printable SVG or HTML card with a QR code that
// points at the detailed record) and the detailed record for experts (every
// provision with its outcome, rule, reason and evidence, as JSON, HTML or text).
package label

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/skip2/go-qrcode"

	"iotwatch/internal/assess"
)

// Formats.
const (
	Text = "text"
	JSON = "json"
	SVG  = "svg"
	HTML = "html"
)

// Formats lists the supported formats.
var Formats = []string{Text, JSON, SVG, HTML}

// Options shape the output.
type Options struct {
	// Detailed selects the detailed record instead of the short label.
	// The record is available as text, json and html.
	Detailed bool
	// RecordURL is where the detailed record is published; "{id}" is
	// replaced by the subject id. The QR code on the card encodes it. Empty:
	// the QR code encodes a short text summary instead.
	RecordURL string
}

// Render writes the short label (or, with opts.Detailed, the detailed
// record) of every subject of res in format.
func Render(w io.Writer, res *assess.Result, format string, opts Options) error {
	if res == nil {
		return fmt.Errorf("render label: no assessment result")
	}
	if opts.Detailed {
		switch format {
		case JSON:
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		case HTML:
			return recordHTML(w, res, opts)
		case Text:
			return recordText(w, res)
		}
		return fmt.Errorf("render record: unsupported format %q (text, json, html)", format)
	}
	labels := make([]Short, 0, len(res.Subjects))
	for _, s := range res.Subjects {
		labels = append(labels, shortOf(s, opts))
	}
	switch format {
	case JSON:
		enc := json.NewEncoder(w)
		for _, l := range labels {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	case Text:
		for i, l := range labels {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := l.text(w); err != nil {
				return err
			}
		}
		return nil
	case SVG:
		return svgDoc(w, labels)
	case HTML:
		return labelHTML(w, labels)
	}
	return fmt.Errorf("render label: unsupported format %q (%s)", format, strings.Join(Formats, ", "))
}

// Short is the buyer's label of one subject.
type Short struct {
	Subject      string        `json:"subject"`
	Kind         string        `json:"kind"`
	Model        string        `json:"model,omitempty"`
	Manufacturer string        `json:"manufacturer,omitempty"`
	Country      string        `json:"country,omitempty"`
	Tier         string        `json:"tier"`
	TierReason   string        `json:"tier_reason"`
	Lines        []Line        `json:"lines"`
	Destinations []string      `json:"destinations"` // "GB (declared)", "CN (observed)"
	Counts       assess.Counts `json:"counts"`
	RecordURL    string        `json:"record_url,omitempty"`
	QR           string        `json:"-"` // what the QR code encodes
}

// Line is one row of the label: a topic, a status word and a short value.
type Line struct {
	Topic  string `json:"topic"`
	Status string `json:"status"` // good, bad, unknown
	Value  string `json:"value"`
}

func status(outcome string) string {
	switch outcome {
	case assess.Pass:
		return "good"
	case assess.Fail:
		return "bad"
	}
	return "unknown"
}

func shortOf(s assess.SubjectResult, opts Options) Short {
	f := s.Facts
	l := Short{Subject: s.Subject.ID, Kind: s.Subject.Kind, Model: cmpOr(f.Model, s.Subject.Model), Manufacturer: cmpOr(f.Manufacturer, s.Subject.Vendor),
		Country: f.ManufacturerCountry, Tier: s.Tier, TierReason: s.TierReason, Counts: s.Counts}
	support := Line{Topic: "Security updates until", Status: status(f.SupportOutcome), Value: "not published"}
	switch {
	case f.SupportEnd != "" && f.SupportOutcome == assess.Fail:
		support.Value = "ended " + f.SupportEnd
	case f.SupportEnd != "":
		support.Value = f.SupportEnd
	case f.SupportOutcome == assess.Unknown:
		support.Value = "not declared"
	}
	pw := Line{Topic: "Default password", Status: status(f.PasswordOutcome)}
	switch f.PasswordOutcome {
	case assess.Pass:
		pw.Value = "none accepted"
		if f.PasswordBasis == assess.BasisDeclared { // read, not tested: not a pass
			pw.Status, pw.Value = "unknown", "not tested (maker declares none)"
		}
	case assess.Fail:
		pw.Value = "weak or shared default accepted"
		if strings.Contains(f.PasswordReason, "universal") {
			pw.Value = "universal default accepted"
		}
	case assess.NotApplicable:
		pw.Value, pw.Status = "no passwords", "good"
	default:
		pw.Value = "not tested"
	}
	up := Line{Topic: "Update security", Status: status(f.UpdateOutcome)}
	switch f.UpdateOutcome {
	case assess.Pass:
		up.Value = "signed updates"
		if strings.Contains(f.UpdateReason, "declares") {
			up.Value += " (declared)"
		}
	case assess.Fail:
		up.Value = "updates not verified"
	default:
		up.Value = "unknown"
	}
	kev := Line{Topic: "Known exploited vulnerabilities", Status: "unknown", Value: "not checked"}
	switch {
	case len(f.KEV) > 0:
		kev.Status, kev.Value = "bad", fmt.Sprintf("%d: %s", len(f.KEV), strings.Join(first(f.KEV, 3), ", "))
	case f.KEVOutcome != assess.Pass:
		// not matched (or not identified): unknown, never "none known"
	case f.Vulns > 0:
		kev.Status, kev.Value = "good", fmt.Sprintf("none (%d other CVEs)", f.Vulns)
	default:
		kev.Status, kev.Value = "good", "none known"
	}
	l.Lines = []Line{support, pw, up, kev}
	if f.Compromised {
		l.Lines = append(l.Lines, Line{Topic: "Observed compromise", Status: "bad", Value: "device traffic shows attack or C2"})
	}
	if f.EntityHits > 0 {
		l.Lines = append(l.Lines, Line{Topic: "Entity-list match", Status: "bad", Value: fmt.Sprintf("%d company match(es)", f.EntityHits)})
	}
	byCountry := map[string][]string{}
	for _, d := range f.Destinations {
		c := cmpOr(d.Country, "??")
		if !slices.Contains(byCountry[c], d.Basis) {
			byCountry[c] = append(byCountry[c], d.Basis)
		}
	}
	for c, b := range byCountry {
		sort.Strings(b)
		l.Destinations = append(l.Destinations, fmt.Sprintf("%s (%s)", c, strings.Join(b, ", ")))
	}
	sort.Strings(l.Destinations)
	if opts.RecordURL != "" {
		l.RecordURL = strings.ReplaceAll(opts.RecordURL, "{id}", s.Subject.ID)
		l.QR = l.RecordURL
	} else {
		l.QR = fmt.Sprintf("iotwatch label %s %s tier %s; support %s; default password %s; KEV %d",
			l.Manufacturer, cmpOr(l.Model, l.Subject), l.Tier, support.Value, pw.Value, len(f.KEV))
	}
	return l
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "…")
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var marks = map[string]string{"good": "[ok]", "bad": "[!!]", "unknown": "[??]"}

func (l Short) text(w io.Writer) error {
	var b strings.Builder
	name := assess.Subject{Vendor: l.Manufacturer, Model: l.Model, ID: l.Subject}.Name()
	if l.Manufacturer == "" {
		name = "unknown maker " + name
	}
	b.WriteString(name)
	if l.Country != "" {
		fmt.Fprintf(&b, " (%s)", l.Country)
	}
	fmt.Fprintf(&b, " — %s %s\nSecurity tier %s: %s\n", l.Kind, l.Subject, l.Tier, l.TierReason)
	for _, ln := range l.Lines {
		fmt.Fprintf(&b, "  %s %-33s %s\n", marks[ln.Status], ln.Topic, ln.Value)
	}
	dest := "none declared or observed"
	if len(l.Destinations) > 0 {
		dest = strings.Join(l.Destinations, ", ")
	}
	fmt.Fprintf(&b, "  %s %-33s %s\n", "    ", "Data goes to", dest)
	fmt.Fprintf(&b, "  Provisions: %d pass, %d fail, %d unknown, %d not applicable\n", l.Counts.Pass, l.Counts.Fail, l.Counts.Unknown, l.Counts.NotApplicable)
	if l.RecordURL != "" {
		fmt.Fprintf(&b, "  Detailed record: %s\n", l.RecordURL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// qrModules returns the QR code of s as a square of dark modules.
func qrModules(s string) ([][]bool, error) {
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}
