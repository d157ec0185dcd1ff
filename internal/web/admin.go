package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"iotwatch/internal/auth"
	"iotwatch/internal/store"
)

// User management for admins: the operations of `iotwatch users` and
// `iotwatch tokens list|revoke`, through the same auth.Service methods (each
// records its own audit entry, with the admin and the client address as the
// actor). Every form carries the session's CSRF token (require checks it).
// A password an admin does not choose is generated and shown once, on the
// answer to the form, never stored but as its hash.

func (s *Server) registerAdmin(route func(pattern, name string, h handlerFunc)) {
	route("GET /admin/users", "admin_users", s.usersPage)
	route("POST /admin/users", "admin_user_add", s.userAdd)
	route("POST /admin/users/{name}/role", "admin_user_role", s.userAction(s.userRole))
	route("POST /admin/users/{name}/disable", "admin_user_disable", s.userAction(s.userDisable))
	route("POST /admin/users/{name}/enable", "admin_user_enable", s.userAction(func(r *http.Request, a *auth.Service, name string) (string, error) {
		return "enabled " + name, a.Enable(r.Context(), name, actor(r))
	}))
	route("POST /admin/users/{name}/unlock", "admin_user_unlock", s.userAction(func(r *http.Request, a *auth.Service, name string) (string, error) {
		return "unlocked " + name, a.Unlock(r.Context(), name, actor(r))
	}))
	route("POST /admin/users/{name}/password", "admin_user_password", s.userPassword)
	route("POST /admin/users/{name}/scopes", "admin_scope_add", s.userAction(func(r *http.Request, a *auth.Service, name string) (string, error) {
		p, err := auth.ParseScope(r.PostFormValue("scope"))
		if err != nil {
			return "", badRequest("%v", err)
		}
		return fmt.Sprintf("granted %s to %s", p, name), a.AddScope(r.Context(), name, p, actor(r))
	}))
	route("POST /admin/users/{name}/scopes/remove", "admin_scope_remove", s.userAction(func(r *http.Request, a *auth.Service, name string) (string, error) {
		p, err := auth.ParseScope(r.PostFormValue("scope"))
		if err != nil {
			return "", badRequest("%v", err)
		}
		return fmt.Sprintf("withdrew %s from %s", p, name), a.RemoveScope(r.Context(), name, p, actor(r))
	}))
	route("GET /admin/tokens", "admin_tokens", s.tokensPage)
	route("POST /admin/tokens/{id}/revoke", "admin_token_revoke", s.tokenRevoke)
}

// actor is who the audit log records for an admin's change.
func actor(r *http.Request) auth.Actor {
	return auth.Actor{Name: auth.From(r.Context()).Name, Remote: remote(r)}
}

func (s *Server) access() (*auth.Service, error) {
	if s.opts.Auth == nil {
		return nil, httpError{http.StatusNotFound, "no users: access control is off"}
	}
	return s.opts.Auth, nil
}

type usersView struct {
	Nav   any
	CSRF  string
	Self  string
	Users []auth.User
	Roles []auth.Role
	// Done says what the last action did; Shown is a generated password
	// for ShownFor, shown this once.
	Done, Error, Shown, ShownFor string
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, code int, v usersView) error {
	a, err := s.access()
	if err != nil {
		return err
	}
	p := auth.From(r.Context())
	if v.Users, err = a.Users(r.Context()); err != nil {
		return err
	}
	v.Nav, v.CSRF, v.Self, v.Roles = s.nav(r, 0), p.CSRF, p.Name, auth.Roles()
	if v.Done == "" {
		v.Done = r.URL.Query().Get("done")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // it may show a password
	w.WriteHeader(code)
	return adminTemplates().ExecuteTemplate(w, "users", v)
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderUsers(w, r, http.StatusOK, usersView{})
}

// adminRefusal is the page's message and status for an error of a user
// action, or false for the errors handle maps.
func adminRefusal(err error) (int, string, bool) {
	var he httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg, true
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error(), true
	case errors.Is(err, auth.ErrExists), errors.Is(err, auth.ErrDisabled):
		return http.StatusConflict, err.Error(), true
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, err.Error(), true
	}
	return 0, "", false
}

// finish answers a user action: the users page with its error, or a
// redirect to it saying what was done.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, done string, err error) error {
	if err != nil {
		code, msg, ok := adminRefusal(err)
		if !ok {
			return err
		}
		if code != http.StatusForbidden {
			// Refusals of the route table are logged by require; these are the
			// admin's own mistakes, logged so that the record is complete.
			s.audit(r, auth.Entry{Action: "user.change", Target: r.URL.Path, Outcome: "refused", Detail: msg})
		}
		return s.renderUsers(w, r, code, usersView{Error: msg})
	}
	http.Redirect(w, r, "/admin/users?done="+url.QueryEscape(done), http.StatusSeeOther)
	return nil
}

// userAction adapts an action on the user of the {name} path value.
func (s *Server) userAction(fn func(r *http.Request, a *auth.Service, name string) (string, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := s.access()
		if err != nil {
			return err
		}
		done, err := fn(r, a, r.PathValue("name"))
		return s.finish(w, r, done, err)
	}
}

// notSelf refuses an admin's taking away their own admin rights: the
// console would lock its last admin out (the command line can still).
func notSelf(r *http.Request, name, what string) error {
	if auth.From(r.Context()).Name == name {
		return httpError{http.StatusConflict, "you cannot " + what + " yourself: ask another admin, or use iotwatch users on the server"}
	}
	return nil
}

func (s *Server) userRole(r *http.Request, a *auth.Service, name string) (string, error) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		return "", badRequest("%v", err)
	}
	if role != auth.Admin {
		if err := notSelf(r, name, "demote"); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s is now %s", name, role), a.SetRole(r.Context(), name, role, actor(r))
}

func (s *Server) userDisable(r *http.Request, a *auth.Service, name string) (string, error) {
	if err := notSelf(r, name, "disable"); err != nil {
		return "", err
	}
	return "disabled " + name, a.Disable(r.Context(), name, actor(r))
}

// newPassword is the form's password, or a generated one (shown says so).
func newPassword(r *http.Request) (pw string, shown bool, err error) {
	pw = r.PostFormValue("password")
	if pw == "" {
		return auth.GeneratePassword(), true, nil
	}
	if len(pw) < auth.MinPasswordLen {
		return "", false, badRequest("password: want at least %d characters (or leave it empty to have one generated)", auth.MinPasswordLen)
	}
	return pw, false, nil
}

func (s *Server) userAdd(w http.ResponseWriter, r *http.Request) error {
	a, err := s.access()
	if err != nil {
		return err
	}
	role := auth.Viewer
	if v := r.PostFormValue("role"); v != "" {
		if role, err = auth.ParseRole(v); err != nil {
			return s.finish(w, r, "", badRequest("%v", err))
		}
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw, generated, err := newPassword(r)
	if err != nil {
		return s.finish(w, r, "", err)
	}
	u, err := a.AddUser(r.Context(), name, role, pw, actor(r))
	if err != nil {
		if strings.Contains(err.Error(), "user name") {
			err = badRequest("%v", err)
		}
		return s.finish(w, r, "", err)
	}
	done := fmt.Sprintf("added %s (%s)", u.Name, u.Role)
	if !generated {
		return s.finish(w, r, done, nil)
	}
	return s.renderUsers(w, r, http.StatusOK, usersView{Done: done, Shown: pw, ShownFor: u.Name})
}

func (s *Server) userPassword(w http.ResponseWriter, r *http.Request) error {
	a, err := s.access()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	pw, generated, err := newPassword(r)
	if err != nil {
		return s.finish(w, r, "", err)
	}
	if err := a.SetPassword(r.Context(), name, pw, actor(r)); err != nil {
		return s.finish(w, r, "", err)
	}
	done := "set the password of " + name
	if !generated {
		return s.finish(w, r, done, nil)
	}
	return s.renderUsers(w, r, http.StatusOK, usersView{Done: done, Shown: pw, ShownFor: name})
}

type tokensView struct {
	Nav    any
	CSRF   string
	Tokens []auth.Token
	Now    time.Time
	Done   string
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) error {
	a, err := s.access()
	if err != nil {
		return err
	}
	ts, err := a.Tokens(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return adminTemplates().ExecuteTemplate(w, "tokens", tokensView{Nav: s.nav(r, 0), CSRF: auth.From(r.Context()).CSRF,
		Tokens: ts, Now: s.opts.Now(), Done: r.URL.Query().Get("done")})
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	a, err := s.access()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("token id %q: want a positive integer", r.PathValue("id"))
	}
	if err := a.RevokeToken(r.Context(), id, actor(r)); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/tokens?done="+url.QueryEscape(fmt.Sprintf("revoked token %d", id)), http.StatusSeeOther)
	return nil
}

var adminTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(parseAccessTemplates().Funcs(template.FuncMap{
		"active": func(t auth.Token, now time.Time) bool { return t.Active(now) },
	}).Parse(`
{{define "users"}}{{template "head"}}{{template "nav" .Nav}}
<h1>Users</h1>
<p><a href="/admin/tokens">API tokens</a> · <a href="/admin/audit">Audit log</a></p>
{{with .Error}}<p class="error" id="admin-error">{{.}}</p>{{end}}
{{with .Done}}<p id="admin-done">Done: {{.}}.</p>{{end}}
{{with .Shown}}<p id="shown-password">Password of <b>{{$.ShownFor}}</b>, shown this once: <code id="password-once">{{.}}</code></p>{{end}}
<table id="users"><tr><th>name</th><th>role</th><th>state</th><th>last log-in</th><th>scopes</th><th>actions</th></tr>
{{range .Users}}<tr id="user-{{.Name}}"><td>{{.Name}}</td><td>{{.Role}}</td>
<td>{{if .Disabled}}disabled{{else if .Locked}}locked ({{.FailedLogins}} failures){{else}}active{{end}}</td>
<td>{{if .LastLoginAt.IsZero}}-{{else}}{{.LastLoginAt.UTC.Format "2006-01-02 15:04"}}{{end}}</td>
<td>{{range .Scopes}}<code>{{.}}</code> {{end}}</td>
<td>{{$u := .}}
<form method="post" action="/admin/users/{{.Name}}/role"><input type="hidden" name="csrf" value="{{$.CSRF}}"><select name="role" aria-label="role of {{.Name}}">{{range $.Roles}}<option{{if eq . $u.Role}} selected{{end}}>{{.}}</option>{{end}}</select><button type="submit">Set role</button></form>
{{if .Disabled}}<form method="post" action="/admin/users/{{.Name}}/enable"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Enable</button></form>
{{else}}<form method="post" action="/admin/users/{{.Name}}/disable"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Disable</button></form>{{end}}
{{if .Locked}}<form method="post" action="/admin/users/{{.Name}}/unlock"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Unlock</button></form>{{end}}
<form method="post" action="/admin/users/{{.Name}}/password"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="password" name="password" placeholder="new password (empty: generate)" autocomplete="new-password" aria-label="new password of {{.Name}}"><button type="submit">Reset password</button></form>
<form method="post" action="/admin/users/{{.Name}}/scopes"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="text" name="scope" placeholder="10.20.0.0/16" aria-label="scope to grant {{.Name}}"><button type="submit">Grant scope</button></form>
{{if .Scopes}}<form method="post" action="/admin/users/{{.Name}}/scopes/remove"><input type="hidden" name="csrf" value="{{$.CSRF}}"><select name="scope" aria-label="scope to withdraw from {{.Name}}">{{range .Scopes}}<option>{{.}}</option>{{end}}</select><button type="submit">Withdraw scope</button></form>{{end}}
<a href="/admin/tokens?user={{.Name}}">tokens</a>
</td></tr>
{{end}}</table>
<h2>Add a user</h2>
<form method="post" action="/admin/users" id="add-user"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="new-name">Name</label><input type="text" id="new-name" name="name" required>
<label for="new-role">Role</label><select id="new-role" name="role">{{range .Roles}}<option>{{.}}</option>{{end}}</select>
<label for="new-password">Password (empty: one is generated and shown once)</label><input type="password" id="new-password" name="password" autocomplete="new-password">
<button type="submit" id="add">Add user</button></form>
</body></html>{{end}}
{{define "tokens"}}{{template "head"}}{{template "nav" .Nav}}
<h1>API tokens</h1>
<p><a href="/admin/users">Users</a>. Tokens are created on the command line (iotwatch tokens create USER); their secrets are never stored.</p>
{{with .Done}}<p id="admin-done">Done: {{.}}.</p>{{end}}
<table id="tokens"><tr><th>id</th><th>user</th><th>name</th><th>starts</th><th>state</th><th>expires</th><th>last used</th><th></th></tr>
{{range .Tokens}}<tr><td>{{.ID}}</td><td>{{.User}}</td><td>{{.Name}}</td><td><code>{{.Hint}}…</code></td>
<td>{{if not .RevokedAt.IsZero}}revoked{{else if active . $.Now}}active{{else}}expired{{end}}</td>
<td>{{.ExpiresAt.UTC.Format "2006-01-02 15:04"}}</td><td>{{if .LastUsedAt.IsZero}}-{{else}}{{.LastUsedAt.UTC.Format "2006-01-02 15:04"}}{{end}}</td>
<td>{{if .RevokedAt.IsZero}}<form method="post" action="/admin/tokens/{{.ID}}/revoke"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Revoke</button></form>{{end}}</td></tr>
{{end}}</table></body></html>{{end}}
`))
})
