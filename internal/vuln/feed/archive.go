package feed

// National vulnerability archives: CNVD's shared XML (China), JVN iPedia
// through MyJVN (Japan: the getVulnOverviewList RSS 1.0 with mod_sec, and
// the getVulnDetailInfo VULDEF document) and ENISA's EU Vulnerability
// Database (EUVD JSON API). Their records keep their own ids (CNVD-…,
// JVNDB-…, EUVD-…) with the CVEs they cross-reference as aliases, the
// affected products as text and their own severity.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Archive source names (Record.Source).
const (
	SourceCNVD = "cnvd"
	SourceJVN  = "jvn"
	SourceEUVD = "euvd"
)

// IsArchive reports whether source is a national archive.
func IsArchive(source string) bool {
	return source == SourceCNVD || source == SourceJVN || source == SourceEUVD
}

var reCVE = regexp.MustCompile(`CVE-[0-9]{4}-[0-9]{4,}`)

// cveList returns the distinct CVE ids in ss, in order.
func cveList(ss ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		for _, c := range reCVE.FindAllString(strings.ToUpper(s), -1) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// ---- EUVD -------------------------------------------------------------

// euvdRecord is one EUVD record, as the API's search and enisaid endpoints
// return it. Aliases and references are newline-separated strings; dates
// look like "Jun 27, 2024, 12:00:00 PM".
type euvdRecord struct {
	ID               string   `json:"id"`
	Description      string   `json:"description"`
	DatePublished    string   `json:"datePublished"`
	DateUpdated      string   `json:"dateUpdated"`
	BaseScore        *float64 `json:"baseScore"`
	BaseScoreVersion string   `json:"baseScoreVersion"`
	BaseScoreVector  string   `json:"baseScoreVector"`
	References       string   `json:"references"`
	Aliases          string   `json:"aliases"`
	Products         []struct {
		Product struct {
			Name string `json:"name"`
		} `json:"product"`
		Version string `json:"product_version"`
	} `json:"enisaIdProduct"`
	Vendors []struct {
		Vendor struct {
			Name string `json:"name"`
		} `json:"vendor"`
	} `json:"enisaIdVendor"`
}

func parseEUVDTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"Jan 2, 2006, 3:04:05 PM", "Jan 2, 2006, 3:04:05\u202fPM"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return parseTime(s)
}

func (e *euvdRecord) record() *Record {
	r := &Record{
		ID:           strings.TrimSpace(e.ID),
		Source:       SourceEUVD,
		Published:    parseEUVDTime(e.DatePublished),
		LastModified: parseEUVDTime(e.DateUpdated),
		Description:  e.Description,
		Aliases:      cveList(e.Aliases),
	}
	if r.Published.IsZero() {
		r.Published = r.LastModified
	}
	if e.BaseScore != nil && *e.BaseScore >= 0 && *e.BaseScore <= 10 {
		sc := Score{Version: e.BaseScoreVersion, Score: *e.BaseScore, Vector: e.BaseScoreVector}
		switch {
		case strings.HasPrefix(e.BaseScoreVersion, "4"):
			r.CVSS4 = sc
		case strings.HasPrefix(e.BaseScoreVersion, "2"):
			r.CVSS2 = sc
		default:
			r.CVSS3 = sc
		}
	}
	vendor := ""
	if len(e.Vendors) > 0 {
		vendor = strings.TrimSpace(e.Vendors[0].Vendor.Name)
	}
	for _, p := range e.Products {
		r.Products = append(r.Products, strings.TrimSpace(strings.Join(strings.Fields(vendor+" "+p.Product.Name+" "+p.Version), " ")))
	}
	for _, ref := range strings.Split(e.References, "\n") {
		if ref = strings.TrimSpace(ref); ref != "" && len(r.References) < maxRefs {
			r.References = append(r.References, ref)
		}
	}
	return r
}

// ---- XML: CNVD and JVN ------------------------------------------------

// readXML streams the records of a CNVD shared XML file or a MyJVN
// response, decided by the root element.
func readXML(ctx context.Context, r io.Reader, h Handler) (Info, error) {
	g := &guard{r: r, limit: MaxRecordBytes}
	dec := xml.NewDecoder(g)
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
			return in, nil
		}
		return nil, fmt.Errorf("XML encoding %q (only UTF-8 is read): %w", label, ErrUnknownFormat)
	}
	var info Info
	root := ""
	handle := func(rec *Record) error {
		if !validID(rec.ID) {
			return fmt.Errorf("record %d: invalid id %q: %w", info.Records+1, rec.ID, ErrUnknownFormat)
		}
		if h.Record == nil {
			return fmt.Errorf("record %s: vulnerability records not expected here", rec.ID)
		}
		if err := h.Record(rec); err != nil {
			return err
		}
		info.Records++
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		g.n = 0
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if root == "" {
				return info, fmt.Errorf("XML without a root element: %w", ErrUnknownFormat)
			}
			return info, nil
		}
		if err != nil {
			return info, fmt.Errorf("XML after %d records: %w", info.Records, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		name := se.Name.Local
		if root == "" {
			root = name
			switch name {
			case "vulnerabilitys", "vulnerabitys":
				info.Format = SourceCNVD
			case "RDF":
				info.Format = "jvn-rss"
			case "VULDEF-Document":
				info.Format = "jvn-vuldef"
			default:
				return info, fmt.Errorf("XML root <%s> is none of CNVD <vulnerabilitys>, MyJVN <rdf:RDF> or <VULDEF-Document>: %w", name, ErrUnknownFormat)
			}
			continue
		}
		var rec *Record
		switch {
		case info.Format == SourceCNVD && (name == "vulnerability" || name == "vulnerabity"):
			var c cnvdXML
			if err := dec.DecodeElement(&c, &se); err != nil {
				return info, fmt.Errorf("CNVD record after %d records: %w", info.Records, err)
			}
			rec = c.record()
		case info.Format == "jvn-rss" && name == "item":
			var it jvnItem
			if err := dec.DecodeElement(&it, &se); err != nil {
				return info, fmt.Errorf("JVN item after %d records: %w", info.Records, err)
			}
			rec = it.record()
		case info.Format == "jvn-vuldef" && name == "Vulinfo":
			var v jvnVulinfo
			if err := dec.DecodeElement(&v, &se); err != nil {
				return info, fmt.Errorf("JVN Vulinfo after %d records: %w", info.Records, err)
			}
			rec = v.record()
		default:
			continue
		}
		if err := handle(rec); err != nil {
			return info, err
		}
	}
}

// cnvdXML is one <vulnerability> of CNVD's shared XML (whose element
// names are spelled "vulnerabity" in some files and "serverity" in all).
type cnvdXML struct {
	Number      string   `xml:"number"`
	Title       string   `xml:"title"`
	Serverity   string   `xml:"serverity"`
	Products    []string `xml:"products>product"`
	IsEvent     string   `xml:"isEvent"`
	SubmitTime  string   `xml:"submitTime"`
	OpenTime    string   `xml:"openTime"`
	Reference   string   `xml:"referenceLink"`
	Description string   `xml:"description"`
	CVEs        []string `xml:"cves>cve>cveNumber"`
}

// cnvdSeverity maps CNVD's ratings (高 中 低, also 超危).
var cnvdSeverity = map[string]string{"超危": "critical", "高": "high", "中": "medium", "低": "low"}

func (c *cnvdXML) record() *Record {
	r := &Record{
		ID:          strings.ToUpper(strings.TrimSpace(c.Number)),
		Source:      SourceCNVD,
		Published:   parseTime(strings.TrimSpace(c.OpenTime)),
		Description: strings.TrimSpace(strings.TrimSpace(c.Title) + ". " + strings.TrimSpace(c.Description)),
		Aliases:     cveList(c.CVEs...),
		Severity:    cnvdSeverity[strings.TrimSuffix(strings.TrimSpace(c.Serverity), "危")],
	}
	if r.Severity == "" {
		r.Severity = cnvdSeverity[strings.TrimSpace(c.Serverity)]
	}
	if r.Published.IsZero() {
		r.Published = parseTime(strings.TrimSpace(c.SubmitTime))
	}
	r.LastModified = r.Published
	for _, p := range c.Products {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			r.Products = append(r.Products, p)
		}
	}
	if u := strings.TrimSpace(c.Reference); u != "" {
		r.References = []string{u}
	}
	return r
}

// jvnItem is one <item> of MyJVN's getVulnOverviewList (RSS 1.0 with the
// mod_sec module).
type jvnItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	Description string `xml:"description"`
	Identifier  string `xml:"identifier"`
	References  []struct {
		Source string `xml:"source,attr"`
		ID     string `xml:"id,attr"`
		URL    string `xml:",chardata"`
	} `xml:"references"`
	CPEs []struct {
		Vendor  string `xml:"vendor,attr"`
		Product string `xml:"product,attr"`
		Name    string `xml:",chardata"`
	} `xml:"cpe"`
	CVSS []struct {
		Score    string `xml:"score,attr"`
		Severity string `xml:"severity,attr"`
		Vector   string `xml:"vector,attr"`
		Version  string `xml:"version,attr"`
	} `xml:"cvss"`
	Issued   string `xml:"issued"`
	Modified string `xml:"modified"`
	Date     string `xml:"date"`
}

func (it *jvnItem) record() *Record {
	r := &Record{
		ID:           strings.TrimSpace(it.Identifier),
		Source:       SourceJVN,
		Published:    parseJVNTime(it.Issued),
		LastModified: parseJVNTime(it.Modified),
		Description:  strings.TrimSpace(it.Title + ". " + it.Description),
	}
	if r.Published.IsZero() {
		r.Published = parseJVNTime(it.Date)
	}
	var cves []string
	for _, ref := range it.References {
		switch {
		case strings.EqualFold(ref.Source, "CVE") || strings.EqualFold(ref.Source, "NVD"):
			cves = append(cves, ref.ID)
		case strings.HasPrefix(ref.ID, "CWE-"):
			r.CWEs = append(r.CWEs, ref.ID)
		}
		if u := strings.TrimSpace(ref.URL); u != "" && len(r.References) < maxRefs {
			r.References = append(r.References, u)
		}
	}
	r.Aliases = cveList(cves...)
	for _, c := range it.CPEs {
		r.Products = append(r.Products, strings.Join(strings.Fields(c.Vendor+" "+c.Product), " "))
	}
	for _, c := range it.CVSS {
		setJVNScore(r, c.Version, c.Score, c.Vector, c.Severity)
	}
	return r
}

// jvnVulinfo is one <Vulinfo> of MyJVN's getVulnDetailInfo (VULDEF).
type jvnVulinfo struct {
	ID   string `xml:"VulinfoID"`
	Data struct {
		Title    string `xml:"Title"`
		Overview string `xml:"VulinfoDescription>Overview"`
		Affected []struct {
			Name    string   `xml:"Name"`
			Product string   `xml:"ProductName"`
			Version []string `xml:"VersionNumber"`
		} `xml:"Affected>AffectedItem"`
		CVSS []struct {
			Version  string `xml:"version,attr"`
			Severity string `xml:"Severity"`
			Base     string `xml:"Base"`
			Vector   string `xml:"Vector"`
		} `xml:"Impact>Cvss"`
		Related []struct {
			Type string `xml:"type,attr"`
			Name string `xml:"Name"`
			ID   string `xml:"VulinfoID"`
			URL  string `xml:"URL"`
		} `xml:"Related>RelatedItem"`
		Published string `xml:"DateFirstPublished"`
		Updated   string `xml:"DateLastUpdated"`
		Public    string `xml:"DatePublic"`
	} `xml:"VulinfoData"`
}

func (v *jvnVulinfo) record() *Record {
	d := &v.Data
	r := &Record{
		ID:           strings.TrimSpace(v.ID),
		Source:       SourceJVN,
		Published:    parseJVNTime(d.Published),
		LastModified: parseJVNTime(d.Updated),
		Description:  strings.TrimSpace(strings.TrimSpace(d.Title) + ". " + strings.TrimSpace(d.Overview)),
	}
	if r.Published.IsZero() {
		r.Published = parseJVNTime(d.Public)
	}
	var ids []string
	for _, rel := range d.Related {
		ids = append(ids, rel.ID)
		if strings.HasPrefix(rel.ID, "CWE-") {
			r.CWEs = append(r.CWEs, rel.ID)
		}
		if u := strings.TrimSpace(rel.URL); u != "" && len(r.References) < maxRefs {
			r.References = append(r.References, u)
		}
	}
	r.Aliases = cveList(ids...)
	for _, a := range d.Affected {
		p := strings.Join(strings.Fields(a.Name+" "+a.Product), " ")
		if len(a.Version) > 0 {
			p += " " + strings.Join(strings.Fields(a.Version[0]), " ")
		}
		r.Products = append(r.Products, p)
	}
	for _, c := range d.CVSS {
		setJVNScore(r, c.Version, c.Base, c.Vector, c.Severity)
	}
	return r
}

func setJVNScore(r *Record, ver, score, vector, severity string) {
	f, err := strconv.ParseFloat(strings.TrimSpace(score), 64)
	if err != nil || f < 0 || f > 10 {
		return
	}
	sc := Score{Version: ver, Score: f, Vector: strings.TrimSpace(vector)}
	switch {
	case strings.HasPrefix(ver, "3") && r.CVSS3.Vector == "":
		r.CVSS3 = sc
		r.Severity = strings.ToLower(strings.TrimSpace(severity))
	case strings.HasPrefix(ver, "4") && r.CVSS4.Vector == "":
		r.CVSS4 = sc
	case strings.HasPrefix(ver, "2") && r.CVSS2.Vector == "":
		r.CVSS2 = sc
		if r.Severity == "" {
			r.Severity = strings.ToLower(strings.TrimSpace(severity))
		}
	}
}

// parseJVNTime parses JVN's times, which may omit seconds
// ("2026-10-08T11:00+09:00"), keeping the Japanese calendar date and
// clock as they are (as UTC): the archive counts a record published on
// 1 January at 05:00 JST in the new year, as JVN does.
func parseJVNTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			y, m, d := t.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
		}
	}
	return time.Time{}
}
