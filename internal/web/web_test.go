package web

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iotwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fill stores run 1 (one device) and run 2 (two devices, one with a default
// password, one with a hostile vendor string).
func fill(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	a, b := netip.MustParseAddr("127.20.0.1"), netip.MustParseAddr("127.20.0.2")
	for i, devs := range [][]netip.Addr{{a}, {a, b}} {
		run := &model.Run{Kind: "scan", Targets: []string{"127.20.0.0/30"}, StartedAt: time.Date(2026, 11, 24, 10+i, 0, 0, 0, time.UTC)}
		if err := st.StartRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		var svcs []model.Service
		for _, d := range devs {
			svcs = append(svcs, model.Service{IP: d, Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusSuccess,
				Fingerprint: &model.Fingerprint{Vendor: "<script>alert('x')</script>", DeviceType: "ip-camera"}})
		}
		must(t, st.SaveServices(ctx, run.ID, svcs))
		must(t, st.SaveCredentials(ctx, run.ID, []model.CredentialResult{{IP: a, Port: 23, Protocol: model.ProtoTelnet,
			Username: "root", Password: "xc3511", Kind: model.KindDefaultCredential}}))
		run.Status = model.RunComplete
		must(t, st.FinishRun(ctx, run))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestRoutes(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	srv := New(st, Options{})
	tests := []struct {
		method, target string
		code           int
		ctype          string
		want           []string
		not            []string
	}{
		{"GET", "/", 200, "text/html", []string{`<svg class="chart"`, `<nav>`, "&lt;script&gt;", "#2 scan", "50.0%"}, []string{"<script>", "xc3511"}},
		{"GET", "/?run=1", 200, "text/html", []string{"#1 scan", "100.0%"}, nil},
		{"GET", "/?run=abc", 400, "text/plain", []string{"positive integer"}, nil},
		{"GET", "/?run=99", 404, "text/plain", []string{"not found"}, nil},
		{"GET", "/runs", 200, "text/html", []string{"#1", "#2", `href="/?run=2"`}, nil},
		{"GET", "/report.json", 200, "application/json", []string{`"devices": 2`, `"weak_password_share": 0.5`}, []string{"xc3511"}},
		{"GET", "/report.csv?run=1", 200, "text/csv", []string{"summary,,,devices,1"}, nil},
		{"GET", "/report.md", 200, "text/markdown", []string{"## Headline numbers"}, nil},
		{"GET", "/report.pdf", 404, "text/plain", nil, nil},
		{"GET", "/api/runs", 200, "application/json", []string{`"id": 2`, `"id": 1`}, nil},
		{"GET", "/api/runs/1", 200, "application/json", []string{`"id": 1`}, nil},
		{"GET", "/api/runs/latest/report", 200, "application/json", []string{`"devices_with_weak_credentials": 1`}, nil},
		{"GET", "/api/runs/2/services", 200, "application/json", []string{`"port": 23`, "127.20.0.2"}, nil},
		{"GET", "/api/runs/2/credentials", 200, "application/json", []string{`"password": "xc***"`}, []string{"xc3511"}},
		{"GET", "/api/runs/2/vulnerabilities", 200, "application/json", []string{"[]"}, nil},
		{"GET", "/api/runs/2/findings", 200, "application/json", []string{"[]"}, nil},
		{"GET", "/api/runs/7/findings", 404, "text/plain", nil, nil},
		{"GET", "/api/assets", 200, "application/json", []string{"127.20.0.2"}, nil},
		{"GET", "/healthz", 200, "text/plain", []string{"ok"}, nil},
		{"GET", "/api/schema/report.json", 200, "application/schema+json", []string{`"weak_password_share"`}, nil},
		{"POST", "/api/runs", 405, "text/plain", nil, nil},
		{"DELETE", "/", 405, "text/plain", nil, nil},
		{"PUT", "/report.json", 405, "text/plain", nil, nil},
		{"GET", "/nope", 404, "text/plain", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			res, body := get(t, srv, tc.method, tc.target)
			if res.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %.200s", res.StatusCode, tc.code, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("content type %q, want %s", ct, tc.ctype)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("CSP = %q", csp)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q: %.300s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("body contains %q", n)
				}
			}
		})
	}
}

func TestAPIJSONShapes(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	srv := New(st, Options{ShowSecrets: true})
	_, body := get(t, srv, "GET", "/api/runs/2/credentials")
	var creds []model.CredentialResult
	if err := json.Unmarshal([]byte(body), &creds); err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || creds[0].Password != "xc3511" {
		t.Errorf("credentials with ShowSecrets = %+v, want the raw password", creds)
	}
	_, body = get(t, srv, "GET", "/api/runs")
	var runs []model.Run
	if err := json.Unmarshal([]byte(body), &runs); err != nil || len(runs) != 2 || runs[0].ID != 2 {
		t.Errorf("runs = %+v (%v), want 2 runs newest first", runs, err)
	}
	res, _ := get(t, srv, "GET", "/api/runs?limit=0")
	if res.StatusCode != 400 {
		t.Errorf("limit=0: status %d, want 400", res.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	srv := New(st, Options{})
	get(t, srv, "GET", "/")
	res, body := get(t, srv, "GET", "/metrics")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		"iotwatch_devices 2",
		"iotwatch_services 2",
		"iotwatch_weak_credential_devices 1",
		"iotwatch_weak_password_share 0.5",
		`iotwatch_weak_password_share_ci95{bound="low"} 0.0945`,
		`iotwatch_run_id{kind="scan",status="complete"} 2`,
		`iotwatch_findings{severity="critical"} 0`,
		"iotwatch_store_up 1",
		`iotwatch_http_requests_total{code="200",handler="dashboard",method="get"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestEmptyStore(t *testing.T) {
	srv := New(openStore(t), Options{})
	res, body := get(t, srv, "GET", "/")
	if res.StatusCode != 404 || !strings.Contains(body, "no runs recorded") || !strings.Contains(body, "iotwatch demo") {
		t.Errorf("dashboard on empty store: %d %q, want 404 saying to run `iotwatch demo` or a scan first", res.StatusCode, body)
	}
	res, body = get(t, srv, "GET", "/runs")
	if res.StatusCode != 200 || !strings.Contains(body, "No runs recorded yet") {
		t.Errorf("runs page on empty store: %d %q", res.StatusCode, body)
	}
	_, body = get(t, srv, "GET", "/api/runs")
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("api/runs on empty store = %q, want []", body)
	}
	_, body = get(t, srv, "GET", "/metrics")
	if !strings.Contains(body, "iotwatch_store_up 1") || strings.Contains(body, "iotwatch_devices") {
		t.Errorf("metrics on empty store:\n%s", body)
	}
}

func TestWireAndCache(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	calls := 0
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	srv := New(st, Options{Now: func() time.Time { return now }, CacheFor: time.Minute, Wire: func(_ context.Context, in *report.Inputs) error {
		in.DailyCompromised = func(context.Context) ([]report.DayCount, error) {
			calls++
			return []report.DayCount{{Day: "2026-11-24", Devices: 3}}, nil
		}
		return nil
	}})
	_, body := get(t, srv, "GET", "/")
	if !strings.Contains(body, "peak 3") {
		t.Errorf("wired flow provider not shown")
	}
	get(t, srv, "GET", "/report.json")
	if calls != 1 {
		t.Errorf("provider called %d times within the cache period, want 1", calls)
	}
	now = now.Add(2 * time.Minute)
	get(t, srv, "GET", "/report.json")
	if calls != 2 {
		t.Errorf("provider called %d times after expiry, want 2", calls)
	}
}

func TestServe(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // the store outlives this check
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, New(st, Options{})) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	res, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("healthz status %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	client.CloseIdleConnections()
}
