package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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
			// River's own buttons send no token; the browser's Fetch
			// metadata or Origin says whether the page was ours.
			for _, tc := range []struct {
				name, site, origin string
				want               int
			}{
				{"same-origin fetch", "same-origin", "", 200},
				{"Origin of this host", "", "http://example.com", 200},
				{"cross-site fetch", "cross-site", "", http.StatusForbidden},
				{"same-site, other origin", "same-site", "", http.StatusForbidden},
				{"foreign Origin", "", "http://evil.example", http.StatusForbidden},
				{"neither header", "", "", http.StatusForbidden},
			} {
				res, body := c.doJSON(t, "POST", RiverUIPath+"api/jobs/cancel", `{"ids": ["1"]}`, func(r *http.Request) {
					r.AddCookie(sc)
					if tc.site != "" {
						r.Header.Set("Sec-Fetch-Site", tc.site)
					}
					if tc.origin != "" {
						r.Header.Set("Origin", tc.origin)
					}
				})
				if res.StatusCode != tc.want {
					t.Errorf("admin session POST cancel, %s, no token: %d %s, want %d", tc.name, res.StatusCode, body, tc.want)
				}
			}
			var actions int
			must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
				if e.Action == "river.action" && e.Actor == "admin" && e.Target == "POST "+RiverUIPath+"api/jobs/cancel" && e.Outcome == "ok" {
					actions++
				}
				return nil
			}))
			if actions != 3 {
				t.Errorf("%d audited River UI actions, want 3 (the one with the token, the two same-origin ones)", actions)
			}
		})
	}
}

// TestRiverUIInBrowser logs an admin in through the form in headless
// Chromium, goes on to River's UI and waits for its application to list
// the console's cancelled scan: its script and API calls pass the page's
// Content-Security-Policy and the session's checks.
func TestRiverUIInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	bin := chromium(t)
	c := newConsole(t, Options{})
	ts := httptest.NewServer(c.srv)
	defer ts.Close()
	ctx, stop := browser(context.Background(), bin, 1200, 60*time.Second)
	defer stop()

	next := url.QueryEscape(RiverUIPath + "jobs?state=cancelled")
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/login?next="+next),
		chromedp.SendKeys(chromedp.CSS(`input[name="user"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "admin long password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)))
	if err != nil {
		t.Fatalf("chromium: log in: %v", err)
	}
	// The log-in's redirect and the application's own routing replace the
	// page under a poll ("Cannot find context"): poll again until the
	// deadline.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.location.pathname.startsWith("`+RiverUIPath+`jobs") && document.body.innerText.includes("scan")`,
			chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.location.href + "\n" + document.body.innerText`))
		t.Fatalf("chromium: River UI listing the scan job: %v\n%.1000s", err, text)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("IOTWATCH_SCREENSHOT"); p != "" {
		os.WriteFile(strings.ReplaceAll(p, "PATH", "river"), shot, 0o644) // for a human to look at
	}
	checkNotBlank(t, shot)
}
