package feed

import (
	"context"
	"os"
	"strings"
	"testing"
)

func readAll(t *testing.T, data string) ([]*Record, Info) {
	t.Helper()
	var recs []*Record
	info, err := Read(context.Background(), strings.NewReader(data), Handler{Record: func(r *Record) error { recs = append(recs, r); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return recs, info
}

func TestReadJVNVuldef(t *testing.T) {
	b, err := os.ReadFile("testdata/fuzz/FuzzRead/jvn-vuldef")
	if err != nil {
		t.Fatal(err)
	}
	// The seed is a Go-quoted literal on its second line.
	s := string(b)
	s = s[strings.Index(s, "[]byte(")+len("[]byte(") : strings.LastIndex(s, ")")]
	doc := strings.NewReplacer(`\"`, `"`).Replace(strings.Trim(s, `"`))
	recs, info := readAll(t, doc)
	if info.Format != "jvn-vuldef" || len(recs) != 1 {
		t.Fatalf("format %q, %d records", info.Format, len(recs))
	}
	r := recs[0]
	if r.ID != "JVNDB-2024-000001" || r.Source != "jvn" || len(r.Aliases) != 1 || r.Aliases[0] != "CVE-2024-0001" ||
		r.CVSS3.Score != 7.5 || r.Severity != "high" || r.Published.Format("2006-01-02 15:04") != "2024-01-10 14:23" ||
		len(r.Products) != 1 || r.Products[0] != "Example Router 1.0" {
		t.Errorf("record = %+v", r)
	}
}

func TestReadCNVDSeverityAndCVEs(t *testing.T) {
	recs, info := readAll(t, `<?xml version="1.0" encoding="UTF-8"?><vulnerabilitys><vulnerability><number>cnvd-2026-06831</number>
		<cves><cve><cveNumber>CVE-2026-1</cveNumber></cve><cve><cveNumber>cve-2026-12345</cveNumber></cve></cves>
		<title>t</title><serverity>超危</serverity><openTime>2026-02-03</openTime></vulnerability></vulnerabilitys>`)
	if info.Format != "cnvd" || len(recs) != 1 {
		t.Fatalf("format %q, %d records", info.Format, len(recs))
	}
	r := recs[0]
	// CVE-2026-1 is no CVE id (4 digits at least): dropped.
	if r.ID != "CNVD-2026-06831" || r.Severity != "critical" || len(r.Aliases) != 1 || r.Aliases[0] != "CVE-2026-12345" || r.Published.Year() != 2026 {
		t.Errorf("record = %+v", r)
	}
}

func TestReadXMLRefusesOthers(t *testing.T) {
	for _, in := range []string{`<html><body/></html>`, `<?xml version="1.0" encoding="GB2312"?><vulnerabitys/>`, `<`} {
		if _, err := Read(context.Background(), strings.NewReader(in), Handler{Record: func(*Record) error { return nil }}); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
