package label

import (
	"html/template"
	"io"
	"strings"

	"iotwatch/internal/assess"
)

const pageCSS = `body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:24px;color:#111}
h1{font-size:20px}h2{font-size:17px;margin-top:28px}h3{font-size:15px}
.cards{display:flex;flex-wrap:wrap;gap:20px}
.card svg{display:block}
table{border-collapse:collapse;width:100%;font-size:12px;margin-bottom:16px}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.unknown{color:#7a7a7a}.not-applicable{color:#555}
.tier{display:inline-block;color:#fff;font-weight:bold;padding:2px 10px;border-radius:4px}
.refs{margin:0;padding-left:16px;color:#333}
@media print{body{margin:0}.card{break-inside:avoid}section{break-before:page}}`

var labelTmpl = template.Must(template.New("labels").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IoT security labels</title>
<style>{{.CSS}}</style></head>
<body><h1>IoT security labels</h1>
<div class="cards">{{range .Cards}}<div class="card" data-subject="{{.Subject}}">{{.SVG}}</div>
{{end}}</div></body></html>
`))

// labelHTML writes a printable page of SVG cards.
func labelHTML(w io.Writer, labels []Short) error {
	type cardData struct {
		Subject string
		SVG     template.HTML
	}
	var cards []cardData
	for _, l := range labels {
		var b strings.Builder
		if err := svgDoc(&b, []Short{l}); err != nil {
			return err
		}
		cards = append(cards, cardData{l.Subject, template.HTML(b.String())}) // built with escaped text only
	}
	return labelTmpl.Execute(w, struct {
		CSS   template.CSS
		Cards []cardData
	}{template.CSS(pageCSS), cards})
}

var recordTmpl = template.Must(template.New("record").Funcs(template.FuncMap{
	"tierColour": func(t string) template.CSS { return template.CSS("background:" + cmpOr(tierColours[t], "#7a7a7a")) },
	"join":       strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IoT security assessment record</title>
<style>{{.CSS}}</style></head>
<body><h1>IoT security assessment record</h1>
<p>Generated {{.R.Generated.Format "2006-01-02 15:04 MST"}}. Baselines: {{join .R.Baselines ", "}}.
{{if .R.EntityLists}}Entity lists: {{join .R.EntityLists ", "}}.{{end}}</p>
<p><small>Tier rule: {{.R.TierRule}}</small></p>
{{range .R.Subjects}}<section id="{{.Subject.ID}}">
<h2>{{.Subject.Kind}} {{.Subject.ID}}{{if .Subject.Model}} — {{.Subject.Name}}{{end}}
 <span class="tier" style="{{tierColour .Tier}}">tier {{.Tier}}</span></h2>
<p>{{.TierReason}}</p>
{{with index $.Cards .Subject.ID}}<div class="card">{{.}}</div>{{end}}
<p>{{.Counts.Pass}} pass, {{.Counts.Fail}} fail ({{.Counts.MandatoryFail}} mandatory), {{.Counts.Unknown}} unknown,
{{.Counts.NotApplicable}} not applicable; {{.Counts.Observed}} decided by observation, {{.Counts.Declared}} by declaration.
{{if .Declaration}}Declaration: {{.Declaration}}.{{end}}</p>
{{if .EntityHits}}<h3>Entity-list matches</h3><table><tr><th>Role</th><th>Name</th><th>Listed as</th><th>List</th><th>Date</th><th>Match</th></tr>
{{range .EntityHits}}<tr><td>{{.Subject.Role}}</td><td>{{.Via}}</td><td>{{.Matched}}</td><td>{{.Entry.Source}}</td><td>{{.Entry.Date}}</td><td>{{.Kind}} {{printf "%.2f" .Score}}</td></tr>
{{end}}</table>{{end}}
{{range .Baselines}}<h3>{{.Title}}</h3>
<table><tr><th>Provision</th><th>Level</th><th>Outcome</th><th>Rule</th><th>Reason and evidence</th></tr>
{{range .Provisions}}<tr><td><b>{{.ID}}</b> {{.Title}}<br><small>{{.Summary}}</small></td><td>{{.Status}}</td>
<td class="{{.Outcome}}">{{.Outcome}}{{if .Basis}}<br><small>{{.Basis}}</small>{{end}}</td><td>{{.Rule}}</td>
<td>{{.Reason}}{{if .Refs}}<ul class="refs">{{range .Refs}}<li>{{.Source}} {{.Kind}} {{.ID}}{{if .Detail}}: {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}</td></tr>
{{end}}</table>
{{end}}</section>
{{end}}</body></html>
`))

func recordHTML(w io.Writer, res *assess.Result, opts Options) error {
	cards := map[string]template.HTML{}
	for _, s := range res.Subjects {
		var b strings.Builder
		if err := svgDoc(&b, []Short{shortOf(s, opts)}); err != nil {
			return err
		}
		cards[s.Subject.ID] = template.HTML(b.String()) // built with escaped text only
	}
	return recordTmpl.Execute(w, struct {
		CSS   template.CSS
		R     *assess.Result
		Cards map[string]template.HTML
	}{template.CSS(pageCSS), res, cards})
}

func recordText(w io.Writer, res *assess.Result) error {
	var b strings.Builder
	for _, s := range res.Subjects {
		b.WriteString(s.Subject.Kind + " " + s.Subject.ID)
		if s.Subject.Model != "" {
			b.WriteString(" (" + s.Subject.Name() + ")")
		}
		b.WriteString(" tier " + s.Tier + ": " + s.TierReason + "\n")
		for _, bl := range s.Baselines {
			b.WriteString("  " + bl.Title + "\n")
			for _, p := range bl.Provisions {
				basis := ""
				if p.Basis != "" {
					basis = " (" + p.Basis + ")"
				}
				b.WriteString("    " + pad(p.ID, 30) + " " + pad(p.Outcome+basis, 26) + " " + p.Reason + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
