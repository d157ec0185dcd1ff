package vuln

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// archiveDB imports the KEV catalogue and one archive fixture.
func archiveDB(t *testing.T, fixture string) (*DB, ImportResult) {
	t.Helper()
	d := openDB(t)
	ctx := context.Background()
	if _, err := d.ImportFile(ctx, filepath.Join(sharedVuln, "kev.json"), ImportOptions{}); err != nil {
		t.Skipf("KEV fixture: %v", err)
	}
	path := filepath.Join("testdata/archive", fixture)
	if _, err := os.Stat(path); err != nil {
		// Published records (the JVN response) are copies of public files
		// kept in the shared fixtures, not in this repository.
		path = filepath.Join(sharedVuln, "archive", fixture)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("archive fixture %s is in neither testdata/archive nor %s/archive (see testdata/archive/README.md)", fixture, sharedVuln)
		}
	}
	res, err := d.ImportFile(ctx, path, ImportOptions{})
	if err != nil {
		t.Fatalf("import %s: %v", fixture, err)
	}
	return d, res
}

func pf(f float64) *float64 { return &f }

func TestArchiveStatsCNVD(t *testing.T) {
	d, res := archiveDB(t, "cnvd-shared-sample.xml")
	if res.Format != "cnvd" || res.Archived != 8 || res.Inserted != 0 {
		t.Fatalf("import = %+v, want 8 CNVD records archived and no CVE records", res)
	}
	s, err := d.ArchiveStats(context.Background(), "cnvd", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []YearStats{
		{Year: 2022, CVEs: 2, IoT: 1, IoTShare: 50, KEV: 1},
		{Year: 2023, CVEs: 2, Growth: pf(0), IoT: 1, IoTShare: 50, IoTGrowth: pf(0), KEV: 1},
		{Year: 2024, CVEs: 4, Growth: pf(100), IoT: 3, IoTShare: 75, IoTGrowth: pf(200), KEV: 0},
	}
	if !reflect.DeepEqual(s.Years, want) {
		got, _ := json.Marshal(s.Years)
		exp, _ := json.Marshal(want)
		t.Errorf("years\n got %s\nwant %s", got, exp)
	}
	if s.Total != 8 || s.IoT != 5 || s.IoTShare != 62.5 || s.KEV != 2 || s.KEVIoT != 2 {
		t.Errorf("totals: %d records, %d IoT (%.1f%%), %d KEV (%d IoT); want 8, 5 (62.5%%), 2 (2)", s.Total, s.IoT, s.IoTShare, s.KEV, s.KEVIoT)
	}
	if len(s.TopVendors) == 0 || s.TopVendors[0] != (Count{Name: "example", Count: 4}) {
		t.Errorf("top vendors = %+v, want example (4) first", s.TopVendors)
	}
	if s.Source == "" {
		t.Error("no source named")
	}
	// Since 2023: the 2022 records are left out.
	s, err = d.ArchiveStats(context.Background(), "cnvd", 2023)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 6 || len(s.Years) != 2 || s.Years[0].Growth != nil {
		t.Errorf("since 2023: %d records, years %+v", s.Total, s.Years)
	}
	if _, err := d.ArchiveStats(context.Background(), "nvd", 0); err == nil {
		t.Error("stats of an unknown archive accepted")
	}
	// Re-importing replaces: the counts stay.
	if _, err := d.ImportFile(context.Background(), "testdata/archive/cnvd-shared-sample.xml", ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, _ = d.ArchiveStats(context.Background(), "cnvd", 0); s.Total != 8 {
		t.Errorf("after re-import: %d records, want 8", s.Total)
	}
}

func TestArchiveJVNReal(t *testing.T) {
	d, res := archiveDB(t, "jvn-myjvn-getVulnOverviewList-2018-03-13.xml")
	if res.Format != "jvn-rss" || res.Archived != 3 {
		t.Fatalf("import = %+v, want 3 JVN records", res)
	}
	s, err := d.ArchiveStats(context.Background(), "jvn", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The corega router (無線 LAN ルータ) is IoT; the WordPress plug-in is not.
	if s.Total != 3 || s.IoT != 1 || len(s.Years) != 1 || s.Years[0].Year != 2018 {
		t.Errorf("stats = %d records, %d IoT, years %+v; want 3, 1, 2018 only", s.Total, s.IoT, s.Years)
	}
	var cves, products string
	var score float64
	err = d.st.DB().QueryRow(`SELECT cves, products, cvss FROM vuln_archive WHERE id = 'JVNDB-2018-000024'`).Scan(&cves, &products, &score)
	if err != nil {
		t.Fatal(err)
	}
	if cves != "CVE-2017-10852,CVE-2017-10853,CVE-2017-10854" || products != "株式会社コレガ CG-WGR1200" || score != 8.8 {
		t.Errorf("JVNDB-2018-000024: cves %q, products %q, CVSS %v", cves, products, score)
	}
	// vulndb show finds archive records too.
	e, err := d.Record(context.Background(), "jvndb-2018-000024")
	if err != nil || e.Source != "jvn" || !e.IoT || e.CVSS3.Score != 8.8 || len(e.Aliases) != 3 || e.Severity != "high" {
		t.Errorf("Record(JVNDB-2018-000024) = %+v, %v", e, err)
	}
	if _, err := d.Record(context.Background(), "JVNDB-2099-000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown archive id: %v, want ErrNotFound", err)
	}
}

func TestArchiveEUVD(t *testing.T) {
	d, res := archiveDB(t, "euvd-search-sample.json")
	if res.Format != "euvd" || res.Archived != 2 {
		t.Fatalf("import = %+v, want 2 EUVD records", res)
	}
	s, err := d.ArchiveStats(context.Background(), "euvd", 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 2 || s.IoT != 1 || s.KEV != 1 || len(s.Years) != 2 || s.Years[1].Growth == nil || *s.Years[1].Growth != 0 {
		t.Errorf("stats = %+v", s)
	}
	var published, cves string
	if err := d.st.DB().QueryRow(`SELECT published, cves FROM vuln_archive WHERE id = 'EUVD-2024-1001'`).Scan(&published, &cves); err != nil {
		t.Fatal(err)
	}
	if published != "2024-07-01T13:15:10.000Z" || cves != "CVE-2024-6387" {
		t.Errorf("EUVD-2024-1001: published %q, cves %q", published, cves)
	}
}
