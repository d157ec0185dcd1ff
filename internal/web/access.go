package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/httprate"

	"iotwatch/internal/auth"
)

// routeRoles is the least role each route needs, by route name: every route
// registered must be here (New panics otherwise), so that no route is served
// without a decision. viewer: reports and aggregates (no device address, no
// raw secret); analyst: device evidence, secrets redacted; operator: job
// actions within scopes; admin: users, audit log, revealed secrets.
var routeRoles = map[string]auth.Role{
	"healthz": auth.Nobody, "login": auth.Nobody, "login_form": auth.Nobody,
	"login_oidc": auth.Nobody, "login_oidc_callback": auth.Nobody,
	"logout": auth.Viewer, "logout_form": auth.Viewer,
	// The report as pages is aggregates; JSON and CSV carry one row per device.
	"dashboard": auth.Viewer, "report_html": auth.Viewer, "report_md": auth.Viewer,
	"report_json": auth.Analyst, "report_csv": auth.Analyst,
	"api_schema": auth.Viewer,
	// Prometheus scrapes with a viewer's token (authorization: credentials).
	"metrics": auth.Viewer,
	// Runs name their targets; the API is device evidence.
	"runs": auth.Analyst, "api_runs": auth.Analyst, "api_run": auth.Analyst, "api_report": auth.Analyst,
	"api_services": auth.Analyst, "api_credentials": auth.Analyst, "api_vulns": auth.Analyst,
	"api_findings": auth.Analyst, "api_assets": auth.Analyst,
	"api_flow_alerts": auth.Analyst, "api_flow_daily": auth.Analyst, "api_flow_destinations": auth.Analyst,
	// The inventory lists device addresses; the OpenAPI document holds no data.
	"devices": auth.Analyst, "device": auth.Analyst, "api_devices": auth.Analyst, "api_device": auth.Analyst,
	"api_openapi": auth.Viewer,
	// Job actions: operators, within their scopes (console.go).
	"jobs": auth.Operator, "job": auth.Operator, "job_events": auth.Operator, "job_submit": auth.Operator,
	"job_cancel": auth.Operator, "schedule_add": auth.Operator, "static": auth.Nobody,
	"api_jobs": auth.Operator, "api_job": auth.Operator, "api_job_submit": auth.Operator, "api_job_cancel": auth.Operator,
	"api_schedules": auth.Operator, "api_schedule_add": auth.Operator, "api_schedule_remove": auth.Operator,
	"admin_audit": auth.Admin, "admin_audit_export": auth.Admin,
	// User management (admin.go): the operations of iotwatch users and tokens.
	"admin_users": auth.Admin, "admin_user_add": auth.Admin, "admin_user_role": auth.Admin,
	"admin_user_disable": auth.Admin, "admin_user_enable": auth.Admin, "admin_user_unlock": auth.Admin,
	"admin_user_password": auth.Admin, "admin_scope_add": auth.Admin, "admin_scope_remove": auth.Admin,
	"admin_tokens": auth.Admin, "admin_token_revoke": auth.Admin,
	// River's own job UI (riverui.go): every job and queue, every target.
	"admin_river": auth.Admin, "admin_river_action": auth.Admin,
}

// RouteRole returns the least role route name needs, and whether the route
// is in the table.
func RouteRole(name string) (auth.Role, bool) {
	r, ok := routeRoles[name]
	return r, ok
}

// localPrincipal is who a request acts as without log-in: when no access
// service is configured (embedding, tests), or when no user exists yet and
// the server is on loopback only (LocalMode) — the laptop case, as the
// dashboard was before users existed: everything readable, secrets as
// --show-secrets says, no job actions.
var localPrincipal = auth.Principal{Name: "local", Role: auth.Analyst, Via: "local"}

const (
	sessionCookie = "iotwatch_session"
	// With TLS the cookie takes the __Host- prefix: Secure, no Domain, Path
	// /, so no other host or plain-HTTP page can set it.
	sessionCookieTLS = "__Host-iotwatch_session"
	loginCookie      = "iotwatch_login"
)

func (s *Server) sessionCookieName() string {
	if s.opts.TLS {
		return sessionCookieTLS
	}
	return sessionCookie
}

// remote is the client's address as the audit log records it.
func remote(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// identify finds who a request acts for and puts it in the context: a Bearer
// token, else a session cookie, else the local principal if allowed, else
// nobody. A Bearer header that does not check out is nobody (no falling
// back to the cookie).
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			s.log.Error("identify request", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func (s *Server) principal(r *http.Request) (auth.Principal, error) {
	a := s.opts.Auth
	if a == nil {
		return localPrincipal, nil
	}
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return auth.Principal{}, auth.ErrUnauthenticated
		}
		return a.TokenPrincipal(ctx, strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(s.sessionCookieName()); err == nil && c.Value != "" {
		p, err := a.Session(ctx, c.Value)
		if err == nil || !errors.Is(err, auth.ErrUnauthenticated) {
			return p, err
		}
	}
	if s.opts.LocalMode {
		any, err := a.AnyUser(ctx)
		if err != nil {
			return auth.Principal{}, err
		}
		if !any {
			return localPrincipal, nil
		}
	}
	return auth.Principal{}, auth.ErrUnauthenticated
}

// isAPI reports whether r is a machine's request: answered 401, not
// redirected to the log-in page.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, RiverUIPath+"api/") ||
		r.URL.Path == "/metrics" || r.Header.Get("Authorization") != "" ||
		strings.HasSuffix(r.URL.Path, ".jsonl")
}

// require wraps the handler of route name with its role check, the API rate
// limit and, for state-changing methods of a session, the CSRF token check.
func (s *Server) require(name string, h http.Handler) http.Handler {
	min, ok := routeRoles[name]
	if !ok {
		panic("web: route " + name + " has no role in routeRoles")
	}
	switch {
	case name == "login":
		h = s.loginLimit.Handler(h)
	case strings.HasPrefix(name, "api_") || name == "metrics":
		h = s.apiLimit.Handler(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.From(r.Context())
		if p.Role < min {
			if p.Role == auth.Nobody {
				if isAPI(r) {
					w.Header().Set("WWW-Authenticate", `Bearer realm="iotwatch"`)
					http.Error(w, "authentication required: log in or send Authorization: Bearer TOKEN", http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.audit(r, auth.Entry{Action: "access.denied", Target: r.Method + " " + r.URL.Path, Outcome: "refused",
				Detail: "needs " + min.String() + ", has " + p.Role.String()})
			http.Error(w, "forbidden: "+name+" needs the "+min.String()+" role", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && p.Via == "session" {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 && !(got == "" && name == "admin_river_action" && sameOrigin(r)) {
				s.audit(r, auth.Entry{Action: "access.denied", Target: r.Method + " " + r.URL.Path, Outcome: "refused", Detail: "CSRF token missing or wrong"})
				http.Error(w, "forbidden: CSRF token missing or wrong (reload the page)", http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// crossOrigin is the standard library's Fetch-metadata and Origin check.
var crossOrigin = http.NewCrossOriginProtection()

// sameOrigin reports whether the browser itself says r came from a page of
// this origin: Sec-Fetch-Site "same-origin", or, from a browser that does
// not send it, an Origin whose host is the request's. River's UI cannot send
// the CSRF token, so a session's actions there are accepted on that
// evidence (net/http.CrossOriginProtection, and SameSite cookies besides). A
// request that carries neither header is refused: a browser sends one on
// every state-changing request, and a client that is not a browser has a
// token to use.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		return false
	}
	return crossOrigin.Check(r) == nil
}

// audit records e for the request's principal; a failure is logged (the
// request has been decided already).
func (s *Server) audit(r *http.Request, e auth.Entry) {
	if s.opts.Auth == nil {
		return
	}
	p := auth.From(r.Context())
	if e.Actor == "" {
		e.Actor = p.Name
	}
	e.Remote = remote(r)
	if err := s.opts.Auth.Record(r.Context(), e); err != nil {
		s.log.Error("audit log", "err", err)
	}
}

// showSecrets reports whether found passwords go out raw to this request:
// only with --show-secrets, and then only to an admin (or the local
// principal, as before users existed).
func (s *Server) showSecrets(r *http.Request) bool {
	p := auth.From(r.Context())
	return s.opts.ShowSecrets && (p.Via == "local" || p.Role >= auth.Admin)
}

// revealed records in the audit log that raw secrets went to an admin.
func (s *Server) revealed(r *http.Request) {
	if s.showSecrets(r) && auth.From(r.Context()).Via != "local" {
		s.audit(r, auth.Entry{Action: "secret.reveal", Target: r.URL.RequestURI(), Outcome: "ok"})
	}
}

// safeNext returns the local path to go to after log-in.
func safeNext(v string) string {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") || strings.ContainsAny(v, "\r\n") {
		return "/"
	}
	return v
}

type loginPage struct {
	CSRF, Next, Error, User string
	SSO                     bool
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderLogin(w, r, http.StatusOK, loginPage{Next: safeNext(r.URL.Query().Get("next"))})
}

// renderLogin renders the log-in form with a fresh log-in CSRF token, kept
// in a cookie that the form must echo (double submit): a session does not
// exist yet to hold one.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, pg loginPage) error {
	pg.CSRF, pg.SSO = randomToken(), s.opts.OIDC != nil
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: pg.CSRF, Path: "/login", HttpOnly: true, Secure: s.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	return accessTemplates().ExecuteTemplate(w, "login", pg)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	a := s.opts.Auth
	if a == nil {
		return httpError{http.StatusNotFound, "no users: this dashboard needs no log-in"}
	}
	if err := r.ParseForm(); err != nil {
		return badRequest("log-in form: %v", err)
	}
	next := safeNext(r.PostFormValue("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 || c.Value == "" {
		s.audit(r, auth.Entry{Actor: r.PostFormValue("user"), Action: "login", Outcome: "refused", Detail: "CSRF token missing or wrong"})
		return s.renderLogin(w, r, http.StatusForbidden, loginPage{Next: next, Error: "The form expired or did not come from this site; try again."})
	}
	name := r.PostFormValue("user")
	secret, _, err := a.Login(r.Context(), name, r.PostFormValue("password"), remote(r))
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return s.renderLogin(w, r, http.StatusUnauthorized, loginPage{Next: next, User: name, Error: "Wrong user name or password."})
	case errors.Is(err, auth.ErrLocked):
		return s.renderLogin(w, r, http.StatusForbidden, loginPage{Next: next, User: name,
			Error: "This account is locked after too many failed log-ins. An admin can unlock it with: iotwatch users unlock " + name})
	case errors.Is(err, auth.ErrDisabled):
		return s.renderLogin(w, r, http.StatusForbidden, loginPage{Next: next, User: name, Error: "This account is disabled."})
	case err != nil:
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: secret, Path: "/", HttpOnly: true, Secure: s.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.SessionTTL / time.Second)})
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logoutForm(w http.ResponseWriter, r *http.Request) error {
	p := auth.From(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return accessTemplates().ExecuteTemplate(w, "logout", struct {
		Nav  any
		User string
		CSRF string
	}{s.nav(r, 0), p.Name, p.CSRF})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	p := auth.From(r.Context())
	if s.opts.Auth != nil {
		if err := s.opts.Auth.Logout(r.Context(), p, remote(r)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.opts.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// auditPage shows the newest audit entries to admins.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Auth == nil {
		return httpError{http.StatusNotFound, "no audit log: access control is off"}
	}
	var es []auth.Entry
	if err := s.opts.Auth.Audit(r.Context(), auth.AuditQuery{Limit: 500}, func(e auth.Entry) error { es = append(es, e); return nil }); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return accessTemplates().ExecuteTemplate(w, "audit", struct {
		Nav     any
		Entries []auth.Entry
	}{s.nav(r, 0), es})
}

// auditExport serves the whole audit log as JSON Lines.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Auth == nil {
		return httpError{http.StatusNotFound, "no audit log: access control is off"}
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.jsonl"`)
	_, err := s.opts.Auth.ExportAudit(r.Context(), w, 0)
	return err
}

// keyByPeer keys a rate limit on the TCP peer's address (an IPv6 /64 as
// one). Headers such as X-Forwarded-For are not trusted: behind a proxy every
// client shares the proxy's bucket, which errs on the side of throttling.
func keyByPeer(r *http.Request) (string, error) { return httprate.CanonicalizeIP(remote(r)), nil }

// newLimiters builds the log-in limiter (per client address) and the API
// limiter (per principal, or per address for nobody).
func newLimiters(o Options) (login, api *httprate.RateLimiter) {
	login = httprate.NewRateLimiter(o.LoginRate, time.Minute, httprate.WithKeyFuncs(keyByPeer),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "too many log-in attempts from this address: wait a minute", http.StatusTooManyRequests)
		}))
	api = httprate.NewRateLimiter(o.APIRate, time.Minute, httprate.WithKeyFuncs(func(r *http.Request) (string, error) {
		if p := auth.From(r.Context()); p.Role != auth.Nobody && p.Via != "local" {
			return "user:" + p.Name, nil
		}
		return keyByPeer(r)
	}))
	return login, api
}

// The pages' templates are parsed when first used, not at start-up: every
// command of the binary, a flow ingest as well, paid for their parsing.
var accessTemplates = sync.OnceValue(parseAccessTemplates)

// parseAccessTemplates parses the access pages' templates, which the other
// pages' sets start from: a set of its own each, since html/template
// refuses to clone a set once it has been executed.
func parseAccessTemplates() *template.Template {
	return template.Must(template.New("access").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>iotwatch</title>
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:0 auto;padding:1rem 1.5rem}nav a{margin-right:1rem}
table{border-collapse:collapse}th,td{border-bottom:1px solid #d8dee4;padding:.2rem .6rem;text-align:left;font-size:.9rem}
form.login{max-width:22rem;margin-top:3rem}label{display:block;margin:.6rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.4rem}
button{margin-top:1rem;padding:.4rem 1.2rem}.error{color:#b00020;background:#fdecee;padding:.5rem .8rem;border-radius:4px}</style></head><body>{{end}}
{{define "nav"}}<nav>{{range .}}<a href="{{.Href}}">{{.Text}}</a>{{end}}</nav>{{end}}
{{define "login"}}{{template "head"}}
<form class="login" method="post" action="/login">
<h1>iotwatch</h1>
{{with .Error}}<p class="error" id="login-error">{{.}}</p>{{end}}
<input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="next" value="{{.Next}}">
<label for="user">User</label><input type="text" id="user" name="user" value="{{.User}}" autocomplete="username" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button>
{{if .SSO}}<p><a href="/login/oidc" id="sso">Log in with single sign-on</a></p>{{end}}
</form></body></html>{{end}}
{{define "signed-in"}}{{template "head"}}<meta http-equiv="refresh" content="0; url=/"><p>Logged in. <a href="/">Continue</a>.</p></body></html>{{end}}
{{define "logout"}}{{template "head"}}{{template "nav" .Nav}}
<h1>Log out</h1><p>Logged in as <b id="whoami">{{.User}}</b>.</p>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit" id="logout">Log out</button></form>
</body></html>{{end}}
{{define "audit"}}{{template "head"}}{{template "nav" .Nav}}
<h1>Audit log</h1><p>Newest first, the last 500 entries. <a href="/admin/audit.jsonl">Export everything as JSON Lines</a>.</p>
<table><tr><th>#</th><th>when (UTC)</th><th>who</th><th>from</th><th>action</th><th>target</th><th>outcome</th><th>detail</th></tr>
{{range .Entries}}<tr><td>{{.ID}}</td><td>{{.At.UTC.Format "2006-01-02 15:04:05"}}</td><td>{{.Actor}}</td><td>{{.Remote}}</td><td>{{.Action}}</td><td>{{.Target}}</td><td>{{.Outcome}}</td><td>{{.Detail}}</td></tr>
{{end}}</table></body></html>{{end}}
`))
}

// randomToken returns 32 random bytes as unpadded base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
