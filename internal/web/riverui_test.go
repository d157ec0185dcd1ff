package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"iotwatch/internal/auth"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// TestRiverUI mounts River's job UI on both stores: an admin gets its page
// (with its own Content-Security-Policy) and its API lists the console's
// job; analysts, operators and viewers are refused (403), nobody is sent
// to log in (the page) or answered 401 (its API). An admin's session may
// act only with the session's CSRF token, and the action is audited.
func TestRiverUI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var st *store.Store
			if backend == "postgres" {
				var err error
				st, err = store.Open(context.Background(), testpeer.Postgres(t))
				must(t, err)
				t.Cleanup(func() { st.Close() })
			} else {
				st = openStore(t)
			}
			c := newConsoleOn(t, st, Options{})

			res, body := c.do(t, "GET", RiverUIPath, nil, bearer(c.tokens["admin"]))
			if res.StatusCode != 200 || !strings.Contains(body, "<title>River</title>") || !strings.Contains(body, `src="/admin/river/assets/`) {
				t.Fatalf("admin GET %s: %d\n%.600s", RiverUIPath, res.StatusCode, body)
			}
			if csp := res.Header.Get("Content-Security-Policy"); csp != riverCSP {
				t.Errorf("River UI page CSP %q, want %q", csp, riverCSP)
			}
			// Its script loads (the CSP allows it: same origin).
			script := strings.SplitN(strings.SplitN(body, `src="`, 2)[1], `"`, 2)[0]
			if res, js := c.do(t, "GET", script, nil, bearer(c.tokens["admin"])); res.StatusCode != 200 || len(js) < 1000 {
				t.Errorf("admin GET %s: %d, %d bytes", script, res.StatusCode, len(js))
			}

			// The API lists the console's job (job 1, a scan cancelled by
			// newConsole).
			jobsURL := RiverUIPath + "api/jobs?state=cancelled"
			res, body = c.do(t, "GET", jobsURL, nil, bearer(c.tokens["admin"]))
			var list struct {
				Data []struct {
					ID    json.Number `json:"id"`
					Kind  string      `json:"kind"`
					State string      `json:"state"`
				} `json:"data"`
			}
			if res.StatusCode != 200 {
				t.Fatalf("admin GET %s: %d %s", jobsURL, res.StatusCode, body)
			}
			must(t, json.Unmarshal([]byte(body), &list))
			if len(list.Data) != 1 || list.Data[0].ID.String() != "1" || list.Data[0].Kind != "scan" || list.Data[0].State != "cancelled" {
				t.Errorf("River UI jobs: %+v, want job 1, a cancelled scan\n%s", list.Data, body)
			}

			for _, who := range []string{"viewer", "analyst", "operator"} {
				for _, target := range []string{RiverUIPath, jobsURL} {
					if res, _ := c.do(t, "GET", target, nil, bearer(c.tokens[who])); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s GET %s: %d, want 403", who, target, res.StatusCode)
					}
				}
				if res, _ := c.doJSON(t, "POST", RiverUIPath+"api/jobs/cancel", `{"ids": ["1"]}`, bearer(c.tokens[who])); res.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST cancel: %d, want 403", who, res.StatusCode)
				}
			}
			if res, _ := c.do(t, "GET", jobsURL, nil, nil); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("nobody GET %s: %d, want 401", jobsURL, res.StatusCode)
			}
			if res, _ := c.do(t, "GET", RiverUIPath, nil, nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
				t.Errorf("nobody GET %s: %d to %q, want 303 to /login", RiverUIPath, res.StatusCode, res.Header.Get("Location"))
			}

			// An admin's session: reads freely, acts only with the CSRF
			// token.
			_, _, sc := c.logIn(t, "admin", "admin long password")
			if sc == nil {
				t.Fatal("admin log-in: no session cookie")
			}
			withSession := func(r *http.Request) { r.AddCookie(sc) }
			if res, _ := c.do(t, "GET", jobsURL, nil, withSession); res.StatusCode != 200 {
				t.Errorf("admin session GET %s: %d", jobsURL, res.StatusCode)
			}
			if res, _ := c.doJSON(t, "POST", RiverUIPath+"api/jobs/cancel", `{"ids": ["1"]}`, withSession); res.StatusCode != http.StatusForbidden {
				t.Errorf("admin session POST cancel without the CSRF token: %d, want 403", res.StatusCode)
			}
			p, err := c.a.Session(context.Background(), sc.Value)
			must(t, err)
			res, body = c.doJSON(t, "POST", RiverUIPath+"api/jobs/cancel", `{"ids": ["1"]}`, func(r *http.Request) {
				r.AddCookie(sc)
				r.Header.Set("X-CSRF-Token", p.CSRF)
			})
			if res.StatusCode != 200 {
				t.Errorf("admin session POST cancel with the CSRF token: %d %s", res.StatusCode, body)
			}
			var actions int
			must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
				if e.Action == "river.action" && e.Actor == "admin" && e.Target == "POST "+RiverUIPath+"api/jobs/cancel" && e.Outcome == "ok" {
					actions++
				}
				return nil
			}))
			if actions != 1 {
				t.Errorf("%d audited River UI actions, want 1 (the one with the token)", actions)
			}
		})
	}
}
