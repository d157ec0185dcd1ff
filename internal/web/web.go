// Package web is iotwatch's console: HTML pages rendering the
// threat-assessment report of any stored run, a JSON API over the evidence
// store, and Prometheus metrics, behind log-in (package auth) with a least
// role per route (routeRoles, access.go). Everything untrusted is escaped.
// Serve binds where it is told; the CLI defaults to 127.0.0.1.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"iotwatch/internal/auth"
	"iotwatch/internal/model"
	"iotwatch/internal/report"
	"iotwatch/internal/store"
)

// Options configure the dashboard.
type Options struct {
	// Log receives request errors; nil discards.
	Log *slog.Logger
	// Registry receives the dashboard's metrics; nil makes a private one.
	Registry *prometheus.Registry
	// ShowSecrets shows found passwords raw in pages and the API.
	ShowSecrets bool
	// Wire adds the optional report providers (vulnerability statistics,
	// flow detection, assessment) to the inputs of every report built;
	// RunIDs are set when it is called.
	Wire func(context.Context, *report.Inputs) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheFor is how long a built report is reused (default 5 s).
	CacheFor time.Duration

	// Auth turns access control on: log-in sessions, API tokens, roles per
	// route, the audit log. Nil serves every request as the local analyst
	// (embedding and tests).
	Auth *auth.Service
	// LocalMode serves requests without log-in as the local analyst while no
	// user exists: for a server on loopback only.
	LocalMode bool
	// TLS marks cookies Secure (with the __Host- prefix) and sends HSTS.
	TLS bool
	// OIDC adds single sign-on to the log-in page (nil: passwords only).
	OIDC *OIDC
	// Jobs turns the console's job actions on (operators submit, watch,
	// cancel and schedule scans within their scopes); they need Auth.
	Jobs JobQueue
	// RiverUI, when set, is River's own job UI (RiverUI), mounted for
	// admins at RiverUIPath (riverui.go).
	RiverUI http.Handler
	// PollEvery is how often a job's event stream looks at it (1 s).
	PollEvery time.Duration
	// Publish, when set, shows viewers only the published report (report
	// --publish: no device address, pseudonymous networks, small cells
	// suppressed) on every page they may open; see publish.go.
	Publish *report.PublishOptions
	// LoginRate is how many log-in attempts one address may make a minute
	// (default 10); APIRate how many API requests one user (or address)
	// may make a minute (default 600).
	LoginRate, APIRate int
}

// Server serves the dashboard, API and metrics for one store.
type Server struct {
	st   *store.Store
	opts Options
	log  *slog.Logger
	reg  *prometheus.Registry
	mux  *http.ServeMux
	// routes are the route names registered, by pattern (for the OpenAPI check).
	routes map[string]string
	// handler is mux behind cross-origin protection and identification.
	handler              http.Handler
	loginLimit, apiLimit *httprate.RateLimiter

	mu        sync.Mutex                         // guards cache and published
	cache     map[string]cachedReport            // by covered run ids
	published map[*report.Report]publishedReport // by the full report, built from it
}

type cachedReport struct {
	r  *report.Report
	at time.Time
}

// New returns a dashboard server over st.
func New(st *store.Store, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheFor <= 0 {
		opts.CacheFor = 5 * time.Second
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = time.Second
	}
	if opts.LoginRate <= 0 {
		opts.LoginRate = 10
	}
	if opts.APIRate <= 0 {
		opts.APIRate = 600
	}
	s := &Server{st: st, opts: opts, log: opts.Log, reg: opts.Registry, mux: http.NewServeMux(), cache: map[string]cachedReport{}, published: map[*report.Report]publishedReport{}, routes: map[string]string{}}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "iotwatch_http_requests_total", Help: "Dashboard HTTP requests by route and status code.",
	}, []string{"handler", "code", "method"})
	s.reg.MustRegister(requests, &evidenceCollector{s: s})
	s.loginLimit, s.apiLimit = newLimiters(opts)

	route := func(pattern, name string, h func(http.ResponseWriter, *http.Request) error) {
		s.routes[pattern] = name
		s.mux.Handle(pattern, promhttp.InstrumentHandlerCounter(
			requests.MustCurryWith(prometheus.Labels{"handler": name}), s.require(name, s.handle(h))))
	}
	route("GET /{$}", "dashboard", s.dashboard)
	route("GET /runs", "runs", s.runsPage)
	for _, f := range report.Formats {
		route("GET /report."+f, "report_"+f, s.reportFile(f))
	}
	route("GET /api/runs", "api_runs", s.apiRuns)
	route("GET /api/runs/{id}", "api_run", s.apiRun)
	route("GET /api/runs/{id}/report", "api_report", s.apiReport)
	route("GET /api/runs/{id}/services", "api_services", s.apiServices)
	route("GET /api/runs/{id}/credentials", "api_credentials", s.apiCredentials)
	route("GET /api/runs/{id}/vulnerabilities", "api_vulns", s.apiVulns)
	route("GET /api/runs/{id}/findings", "api_findings", s.apiFindings)
	route("GET /api/assets", "api_assets", s.apiAssets)
	route("GET /api/flows/alerts", "api_flow_alerts", s.apiFlowAlerts)
	route("GET /api/flows/daily", "api_flow_daily", s.apiFlowDaily)
	route("GET /api/flows/destinations", "api_flow_destinations", s.apiFlowDestinations)
	route("GET /api/schema/report.json", "api_schema", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/schema+json")
		_, err := w.Write(report.Schema)
		return err
	})
	s.registerInventory(route)
	s.registerConsole(route)
	s.registerAdmin(route)
	s.registerJobsAPI(route)
	s.registerRiverUI(route)
	route("GET /healthz", "healthz", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte("ok\n"))
		return err
	})
	route("GET /login", "login_form", s.loginForm)
	route("POST /login", "login", s.login)
	route("GET /login/oidc", "login_oidc", s.oidcStart)
	route("GET /login/oidc/callback", "login_oidc_callback", s.oidcCallback)
	route("GET /logout", "logout_form", s.logoutForm)
	route("POST /logout", "logout", s.logout)
	route("GET /admin/audit", "admin_audit", s.auditPage)
	route("GET /admin/audit.jsonl", "admin_audit_export", s.auditExport)
	s.mux.Handle("GET /metrics", s.require("metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{s.log}})))
	// Go's cross-origin protection refuses state-changing requests a browser
	// sends from another site (Sec-Fetch-Site, Origin); the session's CSRF
	// token (require) also covers browsers that send neither.
	s.handler = crossOrigin.Handler(s.identify(s.mux))
	return s
}

// ServeHTTP serves the dashboard with security headers on every response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if s.opts.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.handler.ServeHTTP(w, r)
}

// Serve serves the dashboard on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down dashboard: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve dashboard: %w", err)
	}
	return nil
}

// httpError is an error with the status code to answer.
type httpError struct {
	code int
	msg  string
}

func (e httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// handle adapts an error-returning handler; this is the one place errors
// become status codes.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he httpError
		code, msg := http.StatusInternalServerError, "internal error"
		switch {
		case errors.As(err, &he):
			code, msg = he.code, he.msg
		case errors.Is(err, report.ErrNoRuns):
			code, msg = http.StatusNotFound, err.Error()+": "+report.NoRunsHint
		case errors.Is(err, store.ErrNotFound):
			code, msg = http.StatusNotFound, err.Error()
		case errors.Is(err, context.Canceled):
			return
		default:
			s.log.Error("dashboard request failed", "path", r.URL.Path, "err", err)
		}
		http.Error(w, msg, code)
	})
}

// runID resolves the {id} path value or the run query parameter; 0 means
// the newest run.
func runID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	if v == "" {
		v = r.URL.Query().Get("run")
	}
	if v == "" || v == "latest" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("run id %q: want a positive integer or \"latest\"", v)
	}
	return id, nil
}

// resolveRun returns the run named by id, or the newest run for 0.
func (s *Server) resolveRun(ctx context.Context, id int64) (model.Run, error) {
	if id == 0 {
		run, err := s.st.LatestRun(ctx, "", false)
		if errors.Is(err, store.ErrNotFound) {
			return run, report.ErrNoRuns
		}
		return run, err
	}
	return s.st.Run(ctx, id)
}

// report builds the report of one run (id 0: of the runs the report covers by
// default, see report.ResolveRuns), reusing one built less than CacheFor ago;
// show puts found passwords in raw.
func (s *Server) report(ctx context.Context, id int64, show bool) (*report.Report, error) {
	in := report.Inputs{ShowSecrets: show, Now: s.opts.Now}
	if id != 0 {
		in.RunIDs = []int64{id}
	}
	runs, err := report.ResolveRuns(ctx, s.st, in)
	if err != nil {
		return nil, err
	}
	in.RunIDs = in.RunIDs[:0]
	key := strconv.FormatBool(show) + ":"
	for _, r := range runs {
		in.RunIDs = append(in.RunIDs, r.ID)
		key += strconv.FormatInt(r.ID, 10) + ","
	}
	now := s.opts.Now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.opts.CacheFor {
		return c.r, nil
	}
	if s.opts.Wire != nil {
		if err := s.opts.Wire(ctx, &in); err != nil {
			return nil, err
		}
	}
	rep, err := report.Build(ctx, s.st, in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[key] = cachedReport{r: rep, at: now}
	s.mu.Unlock()
	return rep, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// slogAdapter lets promhttp log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error(fmt.Sprint(v...)) }

var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("runs").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>iotwatch runs</title>
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:0 auto;padding:1rem 1.5rem}nav a{margin-right:1rem}
table{border-collapse:collapse}th,td{border-bottom:1px solid #d8dee4;padding:.2rem .6rem;text-align:left}</style></head>
<body><nav>{{range .Nav}}<a href="{{.Href}}">{{.Text}}</a>{{end}}</nav>
<h1>Runs</h1>
{{if .Runs}}<table><tr><th>run</th><th>kind</th><th>status</th><th>started</th><th>targets</th><th>report</th></tr>
{{range .Runs}}<tr><td>#{{.ID}}</td><td>{{.Kind}}{{if .Parent}} (resumes #{{.Parent}}){{end}}</td><td>{{.Status}}</td><td>{{.StartedAt.UTC.Format "2006-01-02 15:04:05"}}</td><td>{{range $i, $t := .Targets}}{{if $i}}, {{end}}{{$t}}{{end}}</td>
<td><a href="/?run={{.ID}}">dashboard</a> · <a href="/report.json?run={{.ID}}">json</a> · <a href="/report.csv?run={{.ID}}">csv</a> · <a href="/report.md?run={{.ID}}">md</a></td></tr>
{{end}}</table>{{else}}<p>No runs recorded yet: run <code>iotwatch demo</code> or a scan.</p>{{end}}
</body></html>
`))
})
