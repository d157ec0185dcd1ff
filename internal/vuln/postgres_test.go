package vuln

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"iotwatch/internal/model"
)

// TestPostgres runs import, matching and statistics on PostgreSQL when
// IOTWATCH_TEST_PG names a database (CI sets it) and checks that they agree
// with SQLite.
func TestPostgres(t *testing.T) {
	pg := pgDB(t)
	ctx := context.Background()
	files, _ := filepath.Glob(filepath.Join(sharedVuln, "nvd", "*.json"))
	for _, f := range append(files, filepath.Join(sharedVuln, "kev.json")) {
		if _, err := pg.ImportFile(ctx, f, ImportOptions{BatchSize: 7}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	lite := fixtureDB(t)
	for _, fp := range []model.Fingerprint{
		{Product: "OpenSSH", Version: "9.2p1"},
		{Product: "dnsmasq", Version: "2.77"},
		{Product: "curl", Version: "7.88.1"},
		{Vendor: "Hikvision", Product: "DS-2CD2026G2-IU/SL", Version: "V5.5.0", DeviceType: "camera"},
	} {
		a, err := pg.MatchFingerprint(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		b, err := lite.MatchFingerprint(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cves(a), cves(b)) || len(a) == 0 {
			t.Errorf("%s %s: postgres %v, sqlite %v", fp.Product, fp.Version, cves(a), cves(b))
		}
		for i := range a {
			if a[i].CVSS != b[i].CVSS || a[i].KEV != b[i].KEV || a[i].KEVDue != b[i].KEVDue {
				t.Errorf("%s: postgres %+v, sqlite %+v", a[i].CVE, a[i], b[i])
			}
		}
	}
	sa, err := pg.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := lite.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(sa)
	jb, _ := json.Marshal(sb)
	if string(ja) != string(jb) {
		t.Errorf("stats differ:\npostgres %s\nsqlite   %s", ja, jb)
	}
	e, err := pg.Record(ctx, "CVE-2021-36260")
	if err != nil || e.KEV == nil || !e.IoT || len(e.Configs) != 305 {
		t.Errorf("record: %v %+v", err, e)
	}
}
