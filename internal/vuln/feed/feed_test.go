package feed

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

const sharedVuln = "../../../../shared/data/vuln"

func nvdFixtures(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	if len(files) == 0 {
		t.Skip("shared NVD fixtures not present")
	}
	sort.Strings(files)
	return files
}

// collect reads r and returns what it held.
func collect(t testing.TB, r io.Reader) ([]*Record, []*KEV, Info, error) {
	t.Helper()
	var recs []*Record
	var kevs []*KEV
	info, err := Read(context.Background(), r, Handler{
		Record: func(r *Record) error { recs = append(recs, r); return nil },
		KEV:    func(k *KEV) error { kevs = append(kevs, k); return nil },
	})
	return recs, kevs, info, err
}

// apiPage wraps NVD records into an API 2.0 page (the yearly feeds use the same shape).
func apiPage(t testing.TB, files []string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`{"resultsPerPage":` + itoa(len(files)) + `,"startIndex":0,"totalResults":` + itoa(len(files)) +
		`,"format":"NVD_CVE","version":"2.0","timestamp":"2025-01-01T00:00:00.000","vulnerabilities":[`)
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"cve":`)
		b.Write(data)
		b.WriteString(`}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestReadNVDRecords(t *testing.T) {
	for _, f := range nvdFixtures(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			recs, _, info, err := collect(t, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(recs) != 1 || info.Format != "nvd-record" {
				t.Fatalf("got %d records, format %q; want 1, nvd-record", len(recs), info.Format)
			}
			want := strings.TrimSuffix(filepath.Base(f), ".json")
			if recs[0].ID != want {
				t.Errorf("id = %q, want %q", recs[0].ID, want)
			}
			if recs[0].Published.IsZero() || recs[0].LastModified.IsZero() {
				t.Errorf("published/lastModified not parsed: %v %v", recs[0].Published, recs[0].LastModified)
			}
		})
	}
}

func TestNVDFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedVuln, "nvd", "CVE-2024-6387.json"))
	if err != nil {
		t.Skip(err)
	}
	recs, _, _, err := collect(t, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if r.CVSS3.Score != 8.1 || r.CVSS3.Vector != "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H" {
		t.Errorf("cvss3 = %+v", r.CVSS3)
	}
	if len(r.CWEs) == 0 || r.CWEs[0] != "CWE-362" {
		t.Errorf("cwes = %v, want CWE-362 first", r.CWEs)
	}
	if len(r.Configs) != 9 {
		t.Errorf("configs = %d, want 9", len(r.Configs))
	}
	if m := r.Configs[0].Nodes[0].Matches[1]; m.StartIncl != "8.6" || m.EndExcl != "9.8" || !m.Vulnerable {
		t.Errorf("range criterion = %+v", m)
	}
	if !strings.HasPrefix(r.Description, "A security regression") {
		t.Errorf("description = %q", r.Description)
	}

	data, err = os.ReadFile(filepath.Join(sharedVuln, "nvd", "CVE-2021-36260.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _, err = collect(t, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if k := recs[0].KEV; k == nil || k.DateAdded == "" || k.DueDate == "" {
		t.Errorf("KEV from cisaExploitAdd = %+v", k)
	}
	if c := recs[0].Configs[0]; c.Operator != "AND" || len(c.Nodes) != 2 || c.Nodes[1].Matches[0].Vulnerable {
		t.Errorf("AND config with platform = %+v", c)
	}
}

func TestReadAPIPageCompressed(t *testing.T) {
	files := nvdFixtures(t)
	page := apiPage(t, files)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(page)
	zw.Close()
	var xzb bytes.Buffer
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(page)
	xw.Close()
	for name, data := range map[string][]byte{"plain": page, "gzip": gz.Bytes(), "xz": xzb.Bytes()} {
		t.Run(name, func(t *testing.T) {
			recs, _, info, err := collect(t, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(files) || info.Format != "nvd-api" || info.Total != len(files) {
				t.Errorf("records %d format %q total %d; want %d nvd-api", len(recs), info.Format, info.Total, len(files))
			}
		})
	}
	// zip, from a file
	path := filepath.Join(t.TempDir(), "nvdcve-2.0-2024.json.zip")
	f, _ := os.Create(path)
	zwr := zip.NewWriter(f)
	w, _ := zwr.Create("nvdcve-2.0-2024.json")
	w.Write(page)
	zwr.Close()
	f.Close()
	n := 0
	info, err := ReadFile(context.Background(), path, Handler{Record: func(*Record) error { n++; return nil }})
	if err != nil || n != len(files) {
		t.Errorf("zip: %d records, %v (info %+v)", n, err, info)
	}
}

func TestReadKEV(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedVuln, "kev.json"))
	if err != nil {
		t.Skip(err)
	}
	_, kevs, info, err := collect(t, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(kevs) != 1404 || info.Format != "kev-json" || info.Catalog != "2025.08.25" {
		t.Fatalf("kevs %d format %q catalog %q; want 1404 kev-json 2025.08.25", len(kevs), info.Format, info.Catalog)
	}
	var hik *KEV
	for _, k := range kevs {
		if k.CVE == "CVE-2021-36260" {
			hik = k
		}
	}
	if hik == nil || hik.DueDate != "2022-01-24" {
		t.Errorf("CVE-2021-36260 KEV = %+v, want due 2022-01-24", hik)
	}

	// The same catalogue as CSV.
	var csvb bytes.Buffer
	csvb.WriteString("cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n")
	for _, k := range kevs[:50] {
		csvb.WriteString(k.CVE + "," + csvQuote(k.Vendor) + "," + csvQuote(k.Product) + "," + csvQuote(k.Name) + "," + k.DateAdded + ",\"desc, with comma\"," + csvQuote(k.Action) + "," + k.DueDate + "," + k.Ransomware + ",,\n")
	}
	_, kc, info, err := collect(t, &csvb)
	if err != nil {
		t.Fatal(err)
	}
	if len(kc) != 50 || info.Format != "kev-csv" || *kc[7] != *kevs[7] {
		t.Errorf("csv: %d entries format %q; entry 7 %+v want %+v", len(kc), info.Format, kc[7], kevs[7])
	}
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func TestReadCVE5AndOSV(t *testing.T) {
	f, _ := os.Open("testdata/cve5-CVE-2023-38545.json")
	defer f.Close()
	recs, _, info, err := collect(t, f)
	if err != nil || len(recs) != 1 || info.Format != "cve5" {
		t.Fatalf("cve5: %d records, %q, %v", len(recs), info.Format, err)
	}
	r := recs[0]
	if r.CVSS3.Score != 9.8 || len(r.CWEs) != 1 || r.CWEs[0] != "CWE-787" {
		t.Errorf("cve5 metrics = %+v cwes %v", r.CVSS3, r.CWEs)
	}
	m := r.Configs[0].Nodes[0].Matches[0]
	if m.Criteria != "cpe:2.3:a:curl:curl:*:*:*:*:*:*:*:*" || m.StartIncl != "7.69.0" || m.EndExcl != "8.4.0" {
		t.Errorf("cve5 criterion = %+v", m)
	}

	g, _ := os.Open("testdata/osv-GHSA-example.json")
	defer g.Close()
	recs, _, info, err = collect(t, g)
	if err != nil || len(recs) != 1 || info.Format != "osv" {
		t.Fatalf("osv: %d records, %q, %v", len(recs), info.Format, err)
	}
	r = recs[0]
	if r.CVSS3.Score != 9.8 || len(r.Aliases) != 1 {
		t.Errorf("osv: cvss %+v aliases %v", r.CVSS3, r.Aliases)
	}
	ms := r.Configs[0].Nodes[0].Matches
	if len(ms) != 2 || ms[0].EndExcl != "1.2.3" || ms[0].StartIncl != "" || ms[1].StartIncl != "2.0.0" || ms[1].EndIncl != "2.1.0" {
		t.Errorf("osv ranges = %+v", ms)
	}
}

func TestBaseScore3(t *testing.T) {
	for v, want := range map[string]float64{
		"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H": 8.1,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": 9.8,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H": 10.0,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N": 6.1,
		"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N": 5.5,
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N": 0,
		"CVSS:3.1/AV:X":  0,
		"AV:N/AC:L/Au:N": 0,
	} {
		if got := BaseScore3(v); got != want {
			t.Errorf("BaseScore3(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	page := `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2024-0001","published":"2024-01-01T00:00:00.000"}},{"cve":{"id":"CVE-2024-0002"`
	tests := []struct {
		name  string
		input string
		want  error // nil: any error
		recs  int
	}{
		{"empty", "", ErrUnknownFormat, 0},
		{"whitespace", "  \n ", ErrUnknownFormat, 0},
		{"truncated page", page, io.ErrUnexpectedEOF, 1},
		{"malformed", `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-1"}},,]}`, nil, 1},
		{"unknown NVD version", `{"format":"NVD_CVE","version":"3.0","vulnerabilities":[]}`, ErrSchemaVersion, 0},
		{"NVD 1.1 feed", `{"CVE_data_type":"CVE","CVE_data_version":"4.0","CVE_Items":[]}`, ErrSchemaVersion, 0},
		{"CVE 4 record", `{"dataType":"CVE_RECORD","dataVersion":"4.0","cveMetadata":{"cveId":"CVE-1"}}`, ErrSchemaVersion, 0},
		{"OSV 2", `{"schema_version":"2.0.0","id":"X-1","affected":[]}`, ErrSchemaVersion, 0},
		{"unknown object", `{"hello":"world"}`, ErrUnknownFormat, 0},
		{"number", `42`, ErrUnknownFormat, 0},
		{"csv without cveID", "a,b,c\n1,2,3\n", ErrUnknownFormat, 0},
		{"trailing garbage", `{"id":"CVE-2024-0001","descriptions":[]} xyz`, nil, 1},
		{"bad id", `{"id":"CVE 2024/../0001","descriptions":[]}`, ErrUnknownFormat, 0},
		{"wrong types", `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":5}}]}`, nil, 0},
		{"vulnerabilities not array", `{"format":"NVD_CVE","version":"2.0","vulnerabilities":{}}`, ErrUnknownFormat, 0},
		{"zip stream", "PK\x03\x04rest", ErrUnknownFormat, 0},
		{"bad gzip", "\x1f\x8b\x08\x00garbage", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, _, err := collect(t, strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("no error, %d records", len(recs))
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if len(recs) != tt.recs {
				t.Errorf("records before the error = %d, want %d", len(recs), tt.recs)
			}
		})
	}
}

// endless is a reader producing a JSON string that never ends.
type endless struct{ prefix []byte }

func (e *endless) Read(p []byte) (int, error) {
	if len(e.prefix) > 0 {
		n := copy(p, e.prefix)
		e.prefix = e.prefix[n:]
		return n, nil
	}
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

func TestHugeValueRefused(t *testing.T) {
	old := MaxRecordBytes
	MaxRecordBytes = 4 << 20
	defer func() { MaxRecordBytes = old }()
	r := &endless{prefix: []byte(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"`)}
	_, _, _, err := collect(t, r)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
}

func TestHandlerErrorStops(t *testing.T) {
	files := nvdFixtures(t)
	stop := errors.New("stop")
	n := 0
	_, err := Read(context.Background(), bytes.NewReader(apiPage(t, files)), Handler{Record: func(*Record) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("err %v after %d records, want stop after 3", err, n)
	}
}

func FuzzRead(f *testing.F) {
	for _, p := range []string{"testdata/cve5-CVE-2023-38545.json", "testdata/osv-GHSA-example.json", filepath.Join(sharedVuln, "nvd", "CVE-2023-1389.json"), filepath.Join(sharedVuln, "nvd", "CVE-2021-30047.json")} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"title":"x","catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2021-1","dueDate":"2021-01-01"}]}`))
	f.Add([]byte("cveID,vendorProject,dueDate\nCVE-2021-1,Acme,2021-02-02\n"))
	f.Add([]byte(`[{"cve":{"id":"CVE-1","configurations":[{"nodes":[{"cpeMatch":[{"criteria":"cpe:2.3:a:x:y:*"}]}]}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		old := MaxRecordBytes
		MaxRecordBytes = 1 << 20
		defer func() { MaxRecordBytes = old }()
		Read(context.Background(), bytes.NewReader(data), Handler{
			Record: func(r *Record) error {
				if !validID(r.ID) {
					t.Fatalf("invalid id %q handed on", r.ID)
				}
				return nil
			},
			KEV: func(k *KEV) error { return nil },
		})
	})
}
