package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/auth"
)

var shownPassword = regexp.MustCompile(`id="password-once">([^<]+)<`)

// TestUserManagement walks an admin through every user-management action in
// the console with a log-in session: add a user with a generated password
// (which then logs in), change the role, disable and enable, unlock after a
// lock-out, reset the password, grant and withdraw a scope, revoke a token.
// Each action is in the audit log as the admin's; a forged CSRF token, an
// operator's session and an admin disabling themselves are refused.
func TestUserManagement(t *testing.T) {
	c := newConsole(t, Options{})
	ctx := context.Background()
	_, _, sc := c.logIn(t, "admin", "admin long password")
	if sc == nil {
		t.Fatal("admin log-in failed")
	}
	session := func(r *http.Request) { r.AddCookie(sc) }
	res, body := c.do(t, "GET", "/admin/users", nil, session)
	m := hiddenCSRF.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil || !strings.Contains(body, `id="user-operator"`) {
		t.Fatalf("users page: %d, csrf %v", res.StatusCode, m)
	}
	csrf := m[1]
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		if _, ok := form["csrf"]; !ok {
			form.Set("csrf", csrf)
		}
		return c.do(t, "POST", path, form, session)
	}
	user := func(name string) auth.User {
		t.Helper()
		u, err := c.a.User(ctx, name)
		must(t, err)
		return u
	}

	// Add, with the password generated and shown once.
	res, body = post("/admin/users", url.Values{"name": {"carol"}, "role": {"operator"}})
	pm := shownPassword.FindStringSubmatch(body)
	if res.StatusCode != 200 || pm == nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("add user: %d, shown %v, cache %q", res.StatusCode, pm, res.Header.Get("Cache-Control"))
	}
	if u := user("carol"); u.Role != auth.Operator {
		t.Errorf("carol is %s, want operator", u.Role)
	}
	if res, _, sc := c.logIn(t, "carol", pm[1]); res.StatusCode != http.StatusSeeOther || sc == nil {
		t.Errorf("log-in with the generated password: %d", res.StatusCode)
	}
	if _, body := c.do(t, "GET", "/admin/users", nil, session); strings.Contains(body, pm[1]) {
		t.Error("the generated password is shown a second time")
	}
	// A chosen password, a short one, a taken name.
	if res, _ := post("/admin/users", url.Values{"name": {"dave"}, "password": {"dave long password"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("add with a password: %d", res.StatusCode)
	}
	if res, _ := post("/admin/users", url.Values{"name": {"eve"}, "password": {"short"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("add with a short password: %d, want 400", res.StatusCode)
	}
	if res, _ := post("/admin/users", url.Values{"name": {"dave"}}); res.StatusCode != http.StatusConflict {
		t.Errorf("add a taken name: %d, want 409", res.StatusCode)
	}

	// Role.
	if res, _ := post("/admin/users/dave/role", url.Values{"role": {"analyst"}}); res.StatusCode != http.StatusSeeOther || user("dave").Role != auth.Analyst {
		t.Errorf("set role: %d, role %s", res.StatusCode, user("dave").Role)
	}
	if res, _ := post("/admin/users/dave/role", url.Values{"role": {"root"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown role: %d, want 400", res.StatusCode)
	}
	// Disable, enable.
	if res, _ := post("/admin/users/dave/disable", nil); res.StatusCode != http.StatusSeeOther || !user("dave").Disabled {
		t.Errorf("disable: %d", res.StatusCode)
	}
	if res, _, _ := c.logIn(t, "dave", "dave long password"); res.StatusCode != http.StatusForbidden {
		t.Errorf("log-in of a disabled user: %d, want 403", res.StatusCode)
	}
	if res, _ := post("/admin/users/dave/enable", nil); res.StatusCode != http.StatusSeeOther || user("dave").Disabled {
		t.Errorf("enable: %d", res.StatusCode)
	}
	// Lock-out, unlock.
	for range 5 {
		c.logIn(t, "dave", "wrong")
	}
	if !user("dave").Locked {
		t.Fatal("dave is not locked after 5 failures")
	}
	if _, body := c.do(t, "GET", "/admin/users", nil, session); !strings.Contains(body, "locked (5 failures)") {
		t.Error("the users page does not show the lock-out")
	}
	if res, _ := post("/admin/users/dave/unlock", nil); res.StatusCode != http.StatusSeeOther || user("dave").Locked {
		t.Errorf("unlock: %d", res.StatusCode)
	}
	// Reset: generated, then chosen.
	res, body = post("/admin/users/dave/password", nil)
	pm = shownPassword.FindStringSubmatch(body)
	if res.StatusCode != 200 || pm == nil {
		t.Fatalf("reset password: %d", res.StatusCode)
	}
	if res, _, _ := c.logIn(t, "dave", pm[1]); res.StatusCode != http.StatusSeeOther {
		t.Errorf("log-in with the reset password: %d", res.StatusCode)
	}
	if res, _ := post("/admin/users/dave/password", url.Values{"password": {"another long password"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("set password: %d", res.StatusCode)
	}
	// Scopes: an address is a /32; a bad scope is refused.
	if res, _ := post("/admin/users/carol/scopes", url.Values{"scope": {"10.9.0.0/16"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("grant scope: %d", res.StatusCode)
	}
	if res, _ := post("/admin/users/carol/scopes", url.Values{"scope": {"10.8.0.1"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("grant address: %d", res.StatusCode)
	}
	if got := user("carol").Scopes; !slices.Equal(got, []string{"10.8.0.1/32", "10.9.0.0/16"}) {
		t.Errorf("carol's scopes %v", got)
	}
	if res, _ := post("/admin/users/carol/scopes", url.Values{"scope": {"example.org"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("grant a name: %d, want 400", res.StatusCode)
	}
	if res, _ := post("/admin/users/carol/scopes/remove", url.Values{"scope": {"10.9.0.0/16"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("withdraw scope: %d", res.StatusCode)
	}
	if res, _ := post("/admin/users/carol/scopes/remove", url.Values{"scope": {"10.9.0.0/16"}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("withdraw a scope not granted: %d, want 404", res.StatusCode)
	}
	if got := user("carol").Scopes; !slices.Equal(got, []string{"10.8.0.1/32"}) {
		t.Errorf("carol's scopes after withdrawal %v", got)
	}
	// Tokens: listed without secrets, revoked, no longer working.
	res, body = c.do(t, "GET", "/admin/tokens?user=operator", nil, session)
	if res.StatusCode != 200 || !strings.Contains(body, "<td>operator</td>") || strings.Contains(body, c.tokens["operator"]) || strings.Contains(body, "<td>viewer</td>") {
		t.Errorf("tokens page: %d\n%s", res.StatusCode, body)
	}
	ts, err := c.a.Tokens(ctx, "operator")
	must(t, err)
	if res, _ := post("/admin/tokens/"+strconv.FormatInt(ts[0].ID, 10)+"/revoke", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke: %d", res.StatusCode)
	}
	if res, _ := c.do(t, "GET", "/jobs", nil, bearer(c.tokens["operator"])); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", res.StatusCode)
	}
	if res, _ := post("/admin/tokens/999/revoke", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("revoke an unknown token: %d, want 404", res.StatusCode)
	}

	// Refusals: forged CSRF, an admin disabling or demoting themselves, an
	// operator's session.
	if res, _ := post("/admin/users/carol/disable", url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden || user("carol").Disabled {
		t.Errorf("disable with a forged CSRF token: %d", res.StatusCode)
	}
	if res, _ := post("/admin/users/admin/disable", nil); res.StatusCode != http.StatusConflict || user("admin").Disabled {
		t.Errorf("an admin disabling themselves: %d, want 409", res.StatusCode)
	}
	if res, _ := post("/admin/users/admin/role", url.Values{"role": {"viewer"}}); res.StatusCode != http.StatusConflict || user("admin").Role != auth.Admin {
		t.Errorf("an admin demoting themselves: %d, want 409", res.StatusCode)
	}
	_, _, osc := c.logIn(t, "operator", "operator long password")
	_, obody := c.do(t, "GET", "/jobs", nil, func(r *http.Request) { r.AddCookie(osc) })
	om := hiddenCSRF.FindStringSubmatch(obody)
	if om == nil {
		t.Fatal("no CSRF token on the operator's jobs page")
	}
	if res, _ := c.do(t, "POST", "/admin/users/carol/role", url.Values{"csrf": {om[1]}, "role": {"admin"}},
		func(r *http.Request) { r.AddCookie(osc) }); res.StatusCode != http.StatusForbidden || user("carol").Role != auth.Operator {
		t.Errorf("an operator setting a role: %d, want 403", res.StatusCode)
	}

	// The audit log has every change, as the admin's, from the client.
	got := map[string]int{}
	must(t, c.a.Audit(ctx, auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Actor == "admin" && e.Remote == "192.0.2.1" {
			got[e.Action+" "+e.Outcome]++
		}
		return nil
	}))
	for action, n := range map[string]int{"user.add ok": 2, "user.role ok": 1, "user.disable ok": 1, "user.enable ok": 1,
		"user.unlock ok": 1, "user.password ok": 2, "scope.add ok": 2, "scope.remove ok": 1, "token.revoke ok": 1,
		"access.denied refused": 1, "user.change refused": 7} {
		if got[action] != n {
			t.Errorf("audit log: %d × %q by admin, want %d (all: %v)", got[action], action, n, got)
		}
	}
}
