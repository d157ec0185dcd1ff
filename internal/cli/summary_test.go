package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/simulate"
	"iotwatch/internal/stats"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
	"iotwatch/internal/web"
)

// TestWeakShareAgrees audits a simulated fleet and checks that `audit
// --summary`, the report's report.json and the dashboard API print the same
// weak-credential share, intervals and breakdown rows for the same store.
func TestWeakShareAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := simulate.Start(ctx, simulate.Options{Prefix: netip.MustParsePrefix("127.33.0.0/24"), Devices: 24, Seed: 5,
		Weak: 0.3, Empty: 0.05, Anonymous: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	if fleet.HighPortMap() {
		t.Skip("the fleet needs privileged ports for the audit's default port list")
	}
	for name, db := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) { weakShareAgrees(t, ctx, db()) })
	}
}

func weakShareAgrees(t *testing.T, ctx context.Context, db string) {
	out, errOut, err := runAuditCmd(t, db, "127.33.0.1-24", "--json", "--summary")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, errOut)
	}
	var fromAudit struct{ Summary stats.Summary }
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"summary"`) {
			if err := json.Unmarshal([]byte(l), &fromAudit); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fromAudit.Summary.Overall.Devices != 24 || fromAudit.Summary.Overall.Weak == 0 {
		t.Fatalf("audit summary %+v: want 24 devices, some weak", fromAudit.Summary.Overall)
	}

	dir := t.TempDir()
	if _, _, err := runReportCmd(t, db, "--out", dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromFile := weakOf(t, b)

	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.LatestRun(ctx, "audit", true)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	web.New(st, web.Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/runs/"+strconv.FormatInt(run.ID, 10)+"/report", nil))
	if rec.Code != 200 {
		t.Fatalf("API report: %d %s", rec.Code, rec.Body)
	}
	fromAPI := weakOf(t, rec.Body.Bytes())

	want := fromAudit.Summary
	want.Overall.Key = ""
	for name, got := range map[string]stats.Summary{"report.json": fromFile, "API": fromAPI} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s weak share differs from audit --summary:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// weakOf reads a report's weak share and breakdowns into a stats.Summary.
func weakOf(t *testing.T, b []byte) stats.Summary {
	t.Helper()
	var r struct {
		Summary struct {
			Sampled int            `json:"sampled_devices"`
			Weak    int            `json:"devices_with_weak_credentials"`
			Share   float64        `json:"weak_password_share"`
			CI95    stats.Interval `json:"weak_password_ci95"`
		} `json:"summary"`
		WeakCredentials stats.Summary `json:"weak_credentials"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	s := r.WeakCredentials
	s.Overall = stats.Share{Devices: r.Summary.Sampled, Weak: r.Summary.Weak, Share: r.Summary.Share, CI95: r.Summary.CI95}
	return s
}
