package vuln

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
	"iotwatch/internal/vuln/vex"
)

// pgDB opens a vulnerability database on the test PostgreSQL server
// (skipping without the shared fixtures or the server).
func pgDB(t *testing.T) *DB {
	t.Helper()
	if files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json")); len(files) == 0 {
		t.Skip("shared fixtures not present")
	}
	st, err := store.Open(context.Background(), testpeer.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := Open(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPostgresIntelligence runs backports, EPSS, a national archive and VEX
// on PostgreSQL and compares with SQLite.
func TestPostgresIntelligence(t *testing.T) {
	pg := pgDB(t)
	ctx := context.Background()
	lite := openDB(t)
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	files = append(files, filepath.Join(sharedVuln, "kev.json"))
	more, _ := filepath.Glob("testdata/distro/*.json")
	files = append(files, more...)
	files = append(files, "testdata/epss/epss_scores-2025-09-04.csv.gz", "testdata/epss/epss_scores-2025-09-03.csv.gz",
		"testdata/archive/cnvd-shared-sample.xml")
	sts, err := vex.Read(strings.NewReader(testVEX))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*DB{pg, lite} {
		for _, f := range files {
			if _, err := d.ImportFile(ctx, f, ImportOptions{BatchSize: 3}); err != nil {
				t.Fatalf("import %s: %v", f, err)
			}
		}
		if _, err := d.ImportVEX(ctx, sts); err != nil {
			t.Fatal(err)
		}
	}
	for _, fp := range []model.Fingerprint{
		{Product: "OpenSSH", Version: "9.2p1 Debian-2+deb12u10"},
		{Product: "OpenSSH", Version: "9.3p1"},
		{Product: "OpenSSH", Version: "9.2p1"},
	} {
		a, err := pg.MatchFingerprintAll(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		b, err := lite.MatchFingerprintAll(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cves(a), cves(b)) || len(a) == 0 {
			t.Fatalf("%s: postgres %v, sqlite %v", fp.Version, cves(a), cves(b))
		}
		for i := range a {
			if a[i].Status != b[i].Status || a[i].EPSS != b[i].EPSS || a[i].Advisory != b[i].Advisory {
				t.Errorf("%s %s: postgres %+v, sqlite %+v", fp.Version, a[i].CVE, a[i], b[i])
			}
		}
	}
	sa, err := pg.ArchiveStats(ctx, "cnvd", 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := lite.ArchiveStats(ctx, "cnvd", 0)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(sa)
	jb, _ := json.Marshal(sb)
	if string(ja) != string(jb) || sa.Total != 8 {
		t.Errorf("archive stats differ:\npostgres %s\nsqlite   %s", ja, jb)
	}
	ha, _ := pg.EPSSHistory(ctx, "CVE-2024-6387")
	hb, _ := lite.EPSSHistory(ctx, "CVE-2024-6387")
	if !slices.Equal(ha, hb) || len(ha) != 2 {
		t.Errorf("EPSS history: postgres %v, sqlite %v", ha, hb)
	}
}
