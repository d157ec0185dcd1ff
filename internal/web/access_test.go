package web

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs"
	"iotwatch/internal/store"
)

// console is a server with access control on over the fill fixture, one
// user per role (password "<role> long password") and a token for each.
type console struct {
	st     *store.Store
	a      *auth.Service
	jobs   *jobs.Client
	srv    *Server
	tokens map[string]string // by role name, plus "revoked" and "expired"
	now    time.Time
}

var cliActor = auth.Actor{Name: "cli:test"}

func newConsole(t *testing.T, opts Options) *console {
	t.Helper()
	return newConsoleOn(t, openStore(t), opts)
}

// newConsoleOn is newConsole over st, with River's UI mounted.
func newConsoleOn(t *testing.T, st *store.Store, opts Options) *console {
	t.Helper()
	fill(t, st)
	c := &console{st: st, a: auth.New(st), tokens: map[string]string{}, now: time.Now()}
	c.a.Hasher = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}
	c.a.Now = func() time.Time { return c.now }
	ctx := context.Background()
	for _, r := range auth.Roles() {
		if _, err := c.a.AddUser(ctx, r.String(), r, r.String()+" long password", cliActor); err != nil {
			t.Fatal(err)
		}
		secret, _, err := c.a.CreateToken(ctx, r.String(), "test", time.Hour, cliActor)
		if err != nil {
			t.Fatal(err)
		}
		c.tokens[r.String()] = secret
	}
	revoked, tok, err := c.a.CreateToken(ctx, "admin", "revoked", time.Hour, cliActor)
	must(t, err)
	must(t, c.a.RevokeToken(ctx, tok.ID, cliActor))
	c.tokens["revoked"] = revoked
	// Created an hour and a minute ago, for an hour.
	c.now = c.now.Add(-61 * time.Minute)
	expired, _, err := c.a.CreateToken(ctx, "admin", "expired", time.Hour, cliActor)
	must(t, err)
	c.now = c.now.Add(61 * time.Minute)
	c.tokens["expired"] = expired
	for _, u := range []string{"operator", "admin"} {
		must(t, c.a.AddScope(ctx, u, netip.MustParsePrefix("127.20.0.0/30"), cliActor))
	}
	c.jobs, err = jobs.New(ctx, st)
	must(t, err)
	// Job 1, cancelled before any worker saw it: its page and event
	// stream answer at once.
	sub, err := c.jobs.SubmitScan(ctx, jobs.ScanRequest{Targets: []string{"127.20.0.1"}, Ports: "23"})
	must(t, err)
	_, err = c.jobs.Cancel(ctx, sub.Jobs[0])
	must(t, err)
	opts.Auth, opts.Jobs = c.a, c.jobs
	if opts.RiverUI == nil {
		opts.RiverUI, err = RiverUI(t.Context(), st, nil)
		must(t, err)
	}
	if opts.APIRate == 0 {
		opts.APIRate = 100000
	}
	if opts.LoginRate == 0 {
		opts.LoginRate = 100000
	}
	c.srv = New(st, opts)
	return c
}

// do sends one request through the console's handler.
func (c *console) do(t *testing.T, method, target string, form url.Values, setup func(*http.Request)) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if setup != nil {
		setup(req)
	}
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// routeCases is one request per route of routeRoles; TestRouteTable fails
// when a route has no case here.
var routeCases = []struct{ method, path, name string }{
	{"GET", "/healthz", "healthz"},
	{"GET", "/login", "login_form"},
	{"POST", "/login", "login"},
	{"GET", "/login/oidc", "login_oidc"},
	{"GET", "/login/oidc/callback", "login_oidc_callback"},
	{"GET", "/logout", "logout_form"},
	{"POST", "/logout", "logout"},
	{"GET", "/", "dashboard"},
	{"GET", "/?run=1", "dashboard"},
	{"GET", "/report.html", "report_html"},
	{"GET", "/report.md", "report_md"},
	{"GET", "/report.json", "report_json"},
	{"GET", "/report.csv", "report_csv"},
	{"GET", "/api/schema/report.json", "api_schema"},
	{"GET", "/metrics", "metrics"},
	{"GET", "/runs", "runs"},
	{"GET", "/api/runs", "api_runs"},
	{"GET", "/api/runs/2", "api_run"},
	{"GET", "/api/runs/2/report", "api_report"},
	{"GET", "/api/runs/2/services", "api_services"},
	{"GET", "/api/runs/2/credentials", "api_credentials"},
	{"GET", "/api/runs/2/vulnerabilities", "api_vulns"},
	{"GET", "/api/runs/2/findings", "api_findings"},
	{"GET", "/api/assets", "api_assets"},
	{"GET", "/api/flows/alerts", "api_flow_alerts"},
	{"GET", "/api/flows/daily", "api_flow_daily"},
	{"GET", "/api/flows/destinations", "api_flow_destinations"},
	{"GET", "/devices", "devices"},
	{"GET", "/devices/127.20.0.1", "device"},
	{"GET", "/api/devices", "api_devices"},
	{"GET", "/api/devices/127.20.0.1", "api_device"},
	{"GET", "/api/openapi.json", "api_openapi"},
	{"GET", "/jobs", "jobs"},
	{"GET", "/jobs/1", "job"},
	{"GET", "/jobs/1/events", "job_events"},
	{"GET", "/static/console.js", "static"},
	{"POST", "/jobs", "job_submit"},
	{"POST", "/jobs/1/cancel", "job_cancel"},
	{"POST", "/schedules", "schedule_add"},
	{"GET", "/admin/audit", "admin_audit"},
	{"GET", "/admin/audit.jsonl", "admin_audit_export"},
	{"GET", "/admin/users", "admin_users"},
	{"POST", "/admin/users", "admin_user_add"},
	{"POST", "/admin/users/spare/role", "admin_user_role"},
	{"POST", "/admin/users/spare/disable", "admin_user_disable"},
	{"POST", "/admin/users/spare/enable", "admin_user_enable"},
	{"POST", "/admin/users/spare/unlock", "admin_user_unlock"},
	{"POST", "/admin/users/spare/password", "admin_user_password"},
	{"POST", "/admin/users/spare/scopes", "admin_scope_add"},
	{"POST", "/admin/users/spare/scopes/remove", "admin_scope_remove"},
	{"GET", "/admin/tokens", "admin_tokens"},
	{"POST", "/admin/tokens/6/revoke", "admin_token_revoke"},
	{"GET", "/api/jobs", "api_jobs"},
	{"GET", "/api/jobs/1", "api_job"},
	{"POST", "/api/jobs", "api_job_submit"},
	{"POST", "/api/jobs/1/cancel", "api_job_cancel"},
	{"GET", "/api/schedules", "api_schedules"},
	{"POST", "/api/schedules", "api_schedule_add"},
	{"DELETE", "/api/schedules/rt", "api_schedule_remove"},
	{"GET", "/admin/river/", "admin_river"},
	{"GET", "/admin/river/api/jobs?state=cancelled", "admin_river"},
	{"POST", "/admin/river/api/jobs/cancel", "admin_river_action"},
}

// routeJSON is the JSON body a route of the API takes, for role r.
func routeJSON(name string, r auth.Role) (string, bool) {
	switch name {
	case "api_job_submit":
		return `{"targets": ["127.20.0.1"], "ports": "23"}`, true
	case "api_schedule_add":
		return `{"name": "api-` + r.String() + `", "every": "24h", "scan": {"targets": ["127.20.0.1"], "ports": "23"}}`, true
	case "admin_river_action":
		return `{"ids": ["1"]}`, true // job 1, cancelled already (newConsole)
	}
	return "", false
}

// doJSON sends a request with a JSON body through the console's handler.
func (c *console) doJSON(t *testing.T, method, target, body string, setup func(*http.Request)) (*http.Response, string) {
	t.Helper()
	return c.do(t, method, target, nil, func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/json")
		if setup != nil {
			setup(r)
		}
	})
}

// TestRouteTable tries every route unauthenticated, with a revoked and an
// expired token, and with each role's token: 401 (API) or a redirect to the
// log-in page (pages) without valid credentials, 403 below the route's
// role, served at or above it.
func TestRouteTable(t *testing.T) {
	c := newConsole(t, Options{})
	// The user the user-management routes act on.
	if _, err := c.a.AddUser(context.Background(), "spare", auth.Viewer, "spare long password", cliActor); err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, rc := range routeCases {
		covered[rc.name] = true
	}
	for name := range routeRoles {
		if !covered[name] {
			t.Errorf("route %s has no case in routeCases", name)
		}
	}
	for _, rc := range routeCases {
		min := routeRoles[rc.name]
		if rc.name == "login" || rc.name == "logout" || strings.HasPrefix(rc.name, "login_oidc") {
			continue // tried in TestLogInOut and TestOIDC
		}
		t.Run(rc.path, func(t *testing.T) {
			api := strings.HasPrefix(rc.path, "/api/") || strings.HasPrefix(rc.path, RiverUIPath+"api/") ||
				rc.path == "/metrics" || strings.HasSuffix(rc.path, ".jsonl")
			for _, who := range []string{"", "revoked", "expired", "garbage"} {
				var setup func(*http.Request)
				if who != "" {
					setup = bearer(c.tokens[who] + map[string]string{"garbage": "iwt_forged"}[who])
				}
				res, _ := c.do(t, rc.method, rc.path, url.Values{}, setup)
				switch {
				case min == auth.Nobody:
					if res.StatusCode != 200 {
						t.Errorf("public route as %q: %d, want 200", who, res.StatusCode)
					}
				case who != "" || api:
					if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("as %q: %d, want 401 with WWW-Authenticate", who, res.StatusCode)
					}
				default:
					if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
						t.Errorf("unauthenticated page: %d to %q, want 303 to /login", res.StatusCode, loc)
					}
				}
			}
			for _, r := range auth.Roles() {
				var form url.Values
				if rc.method == "POST" {
					form = url.Values{"targets": {"127.20.0.1"}, "ports": {"23"}, "name": {"s-" + r.String()}, "every": {"24h"},
						"role": {"analyst"}, "scope": {"127.21.0.0/24"}}
				}
				if rc.name == "api_schedule_remove" {
					err := c.jobs.AddSchedule(context.Background(), jobs.Schedule{Name: "rt", Every: time.Hour,
						Scan: &jobs.ScanRequest{Targets: []string{"127.20.0.1"}, Ports: "23", Shards: 1}})
					if err != nil && !errors.Is(err, jobs.ErrExists) {
						t.Fatal(err)
					}
				}
				var (
					res  *http.Response
					body string
				)
				if jb, ok := routeJSON(rc.name, r); ok {
					res, body = c.doJSON(t, rc.method, rc.path, jb, bearer(c.tokens[r.String()]))
				} else {
					res, body = c.do(t, rc.method, rc.path, form, bearer(c.tokens[r.String()]))
				}
				if rc.method != "GET" && r >= min && slices.Contains([]int{http.StatusSeeOther, http.StatusCreated, http.StatusNoContent}, res.StatusCode) {
					continue // done: redirected to what it did, created or removed
				}
				if want := r >= min; want && res.StatusCode != 200 {
					t.Errorf("as %s: %d %.100s, want 200", r, res.StatusCode, body)
				} else if !want && res.StatusCode != http.StatusForbidden {
					t.Errorf("as %s: %d, want 403 (route needs %s)", r, res.StatusCode, min)
				}
			}
		})
	}
	// Refusals are in the audit log.
	n := 0
	must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Action == "access.denied" && e.Actor == "viewer" && e.Target == "GET /api/runs/2/credentials" {
			n++
		}
		return nil
	}))
	if n != 1 {
		t.Errorf("%d audit entries for the viewer refused the credentials, want 1", n)
	}
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// logIn logs user in through the form and returns the session cookie.
func (c *console) logIn(t *testing.T, user, password string) (*http.Response, string, *http.Cookie) {
	t.Helper()
	res, body := c.do(t, "GET", "/login?next=/runs", nil, nil)
	m := hiddenCSRF.FindStringSubmatch(body)
	lc := cookieNamed(res, loginCookie)
	if m == nil || lc == nil || lc.Value != m[1] {
		t.Fatalf("log-in form: token %v, cookie %v", m, lc)
	}
	res, body = c.do(t, "POST", "/login", url.Values{"user": {user}, "password": {password}, "csrf": {m[1]}, "next": {"/runs"}},
		func(r *http.Request) { r.AddCookie(lc) })
	return res, body, cookieNamed(res, c.srv.sessionCookieName())
}

// TestLogInOut logs in through the form, uses the session, is refused with a
// forged CSRF token and from another site, and logs out.
func TestLogInOut(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "tls"}[tlsOn], func(t *testing.T) {
			c := newConsole(t, Options{TLS: tlsOn})
			res, _, sc := c.logIn(t, "analyst", "analyst long password")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/runs" || sc == nil {
				t.Fatalf("log-in: %d to %q, cookie %v", res.StatusCode, res.Header.Get("Location"), sc)
			}
			if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure != tlsOn || sc.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v, Path /", sc, tlsOn)
			}
			if tlsOn != strings.HasPrefix(sc.Name, "__Host-") {
				t.Errorf("session cookie name %q with TLS %v", sc.Name, tlsOn)
			}
			if hsts := res.Header.Get("Strict-Transport-Security"); (hsts != "") != tlsOn {
				t.Errorf("HSTS %q with TLS %v", hsts, tlsOn)
			}
			withSession := func(r *http.Request) { r.AddCookie(sc) }
			res, body := c.do(t, "GET", "/runs", nil, withSession)
			if res.StatusCode != 200 || !strings.Contains(body, "#2") {
				t.Fatalf("runs with the session: %d", res.StatusCode)
			}
			res, body = c.do(t, "GET", "/logout", nil, withSession)
			m := hiddenCSRF.FindStringSubmatch(body)
			if res.StatusCode != 200 || m == nil || !strings.Contains(body, "analyst") {
				t.Fatalf("log-out page: %d %v", res.StatusCode, m)
			}
			for name, tt := range map[string]struct {
				form  url.Values
				setup func(*http.Request)
			}{
				"forged token":   {url.Values{"csrf": {"forged"}}, withSession},
				"no token":       {url.Values{}, withSession},
				"another site":   {url.Values{"csrf": {m[1]}}, func(r *http.Request) { withSession(r); r.Header.Set("Sec-Fetch-Site", "cross-site") }},
				"foreign origin": {url.Values{"csrf": {m[1]}}, func(r *http.Request) { withSession(r); r.Header.Set("Origin", "https://evil.example") }},
			} {
				if res, _ := c.do(t, "POST", "/logout", tt.form, tt.setup); res.StatusCode != http.StatusForbidden {
					t.Errorf("log-out with %s: %d, want 403", name, res.StatusCode)
				}
			}
			if res, _ := c.do(t, "GET", "/runs", nil, withSession); res.StatusCode != 200 {
				t.Fatalf("session ended by a forged log-out: %d", res.StatusCode)
			}
			res, _ = c.do(t, "POST", "/logout", url.Values{"csrf": {m[1]}}, withSession)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("log-out: %d", res.StatusCode)
			}
			if res, _ := c.do(t, "GET", "/runs", nil, withSession); res.StatusCode != http.StatusSeeOther {
				t.Errorf("runs after log-out: %d, want a redirect to log in", res.StatusCode)
			}
			// The log-in form itself refuses a forged token.
			res, _ = c.do(t, "POST", "/login", url.Values{"user": {"analyst"}, "password": {"analyst long password"}, "csrf": {"x"}},
				func(r *http.Request) { r.AddCookie(&http.Cookie{Name: loginCookie, Value: "y"}) })
			if res.StatusCode != http.StatusForbidden || cookieNamed(res, c.srv.sessionCookieName()) != nil {
				t.Errorf("log-in with a forged token: %d", res.StatusCode)
			}
			// An open redirect is not followed.
			if got := safeNext("//evil.example/"); got != "/" {
				t.Errorf("safeNext(//evil.example/) = %q", got)
			}
		})
	}
}

// TestBruteForce: five wrong passwords lock the account with a message
// naming the unlock command, and an admin unlocks it; one address is
// throttled after LoginRate attempts a minute.
func TestBruteForce(t *testing.T) {
	c := newConsole(t, Options{LoginRate: 8})
	for i := range 5 {
		res, body, _ := c.logIn(t, "operator", "guess")
		want := http.StatusUnauthorized
		if i == 4 {
			want = http.StatusForbidden
			if !strings.Contains(body, "iotwatch users unlock operator") {
				t.Errorf("lock-out page does not say how to unlock:\n%s", body)
			}
		}
		if res.StatusCode != want {
			t.Errorf("attempt %d: %d, want %d", i+1, res.StatusCode, want)
		}
	}
	if res, body, sc := c.logIn(t, "operator", "operator long password"); res.StatusCode != http.StatusForbidden || sc != nil || !strings.Contains(body, "locked") {
		t.Errorf("right password on a locked account: %d", res.StatusCode)
	}
	must(t, c.a.Unlock(context.Background(), "operator", cliActor))
	if res, _, sc := c.logIn(t, "operator", "operator long password"); res.StatusCode != http.StatusSeeOther || sc == nil {
		t.Errorf("log-in after unlock: %d", res.StatusCode)
	}
	// Seven log-in POSTs so far from this address; the limit is 8 a minute.
	throttled := 0
	for range 3 {
		if res, _, _ := c.logIn(t, "viewer", "guess"); res.StatusCode == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 2 {
		t.Errorf("%d of 3 attempts over the limit throttled, want 2", throttled)
	}
	// The limit is per address: another one still gets through.
	res, _ := c.do(t, "POST", "/login", url.Values{"user": {"viewer"}}, func(r *http.Request) { r.RemoteAddr = "127.0.0.9:4000" })
	if res.StatusCode == http.StatusTooManyRequests {
		t.Error("another address was throttled too")
	}
}

// TestSecretsByRole: a viewer's pages carry no device address and no
// password; an analyst gets passwords redacted; an admin gets them raw only
// with ShowSecrets, and each reveal is in the audit log.
func TestSecretsByRole(t *testing.T) {
	c := newConsole(t, Options{ShowSecrets: true})
	for _, path := range []string{"/", "/report.html", "/report.md", "/?run=1", "/metrics"} {
		_, body := c.do(t, "GET", path, nil, bearer(c.tokens["viewer"]))
		for _, secret := range []string{"127.20.0.1", "127.20.0.2", "xc3511"} {
			if strings.Contains(body, secret) {
				t.Errorf("viewer got %q in %s", secret, path)
			}
		}
	}
	for _, path := range []string{"/api/runs/2/credentials", "/report.json", "/api/runs/2/report", "/"} {
		_, body := c.do(t, "GET", path, nil, bearer(c.tokens["operator"]))
		if strings.Contains(body, "xc3511") {
			t.Errorf("operator got the raw password in %s", path)
		}
	}
	_, body := c.do(t, "GET", "/api/runs/2/credentials", nil, bearer(c.tokens["admin"]))
	if !strings.Contains(body, "xc3511") {
		t.Errorf("admin with ShowSecrets did not get the password: %s", body)
	}
	reveals := 0
	must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Action == "secret.reveal" {
			if e.Actor != "admin" {
				t.Errorf("reveal to %s", e.Actor)
			}
			reveals++
		}
		return nil
	}))
	if reveals != 1 {
		t.Errorf("%d reveals logged, want 1", reveals)
	}
	c2 := newConsole(t, Options{})
	if _, body := c2.do(t, "GET", "/api/runs/2/credentials", nil, bearer(c2.tokens["admin"])); strings.Contains(body, "xc3511") {
		t.Error("admin got the raw password without ShowSecrets")
	}
}

// TestLocalMode: on loopback with no user the console is open as before;
// the first user closes it.
func TestLocalMode(t *testing.T) {
	st := openStore(t)
	fill(t, st)
	a := auth.New(st)
	a.Hasher = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}
	for _, local := range []bool{true, false} {
		srv := New(st, Options{Auth: a, LocalMode: local})
		res, _ := get(t, srv, "GET", "/api/runs/2/services")
		if want := map[bool]int{true: 200, false: 401}[local]; res.StatusCode != want {
			t.Errorf("no users, local mode %v: %d, want %d", local, res.StatusCode, want)
		}
	}
	srv := New(st, Options{Auth: a, LocalMode: true})
	if res, _ := get(t, srv, "GET", "/admin/audit"); res.StatusCode != http.StatusForbidden {
		t.Errorf("audit log in local mode: %d, want 403", res.StatusCode)
	}
	if _, err := a.AddUser(context.Background(), "first", auth.Admin, "first long password", cliActor); err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, srv, "GET", "/api/runs/2/services"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the first user: %d, want 401", res.StatusCode)
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tt := range []struct {
		host  string
		admin bool
		ok    bool
	}{
		{"127.0.0.1", false, true}, {"127.0.0.2", false, true}, {"::1", false, true}, {"localhost", false, true},
		{"0.0.0.0", false, false}, {"", false, false}, {"::", false, false}, {"10.1.2.3", false, false}, {"example.org", false, false},
		{"0.0.0.0", true, true}, {"10.1.2.3", true, true},
	} {
		err := CheckExposure(tt.host, tt.admin)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrExposedWithoutAdmin)) {
			t.Errorf("CheckExposure(%q, admin %v) = %v, want ok %v", tt.host, tt.admin, err, tt.ok)
		}
	}
}

func TestSelfSignedCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c1, err := SelfSignedCert(dir, now)
	must(t, err)
	c2, err := SelfSignedCert(dir, now.Add(24*time.Hour))
	must(t, err)
	if !slices.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Error("the certificate was not reused")
	}
	for _, f := range []string{SelfSignedCertFile, SelfSignedKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, SelfSignedCertFile))
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	must(t, err)
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	c3, err := SelfSignedCert(dir, now.AddDate(1, 0, 0))
	must(t, err)
	if slices.Equal(c1.Certificate[0], c3.Certificate[0]) {
		t.Error("an expiring certificate was reused")
	}
}
