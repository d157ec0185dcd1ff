package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs"
	"iotwatch/internal/simulate"
)

// TestConsoleScope: an operator's scan outside their scopes is refused with
// the reason and logged; inside it is submitted and logged; a session's form
// with a forged CSRF token is refused.
func TestConsoleScope(t *testing.T) {
	c := newConsole(t, Options{})
	_, _, sc := c.logIn(t, "operator", "operator long password")
	withSession := func(r *http.Request) { r.AddCookie(sc) }
	res, body := c.do(t, "GET", "/jobs", nil, withSession)
	m := hiddenCSRF.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil || !strings.Contains(body, "127.20.0.0/30") {
		t.Fatalf("jobs page: %d, csrf %v", res.StatusCode, m)
	}
	csrf := m[1]
	for _, tt := range []struct {
		targets string
		code    int
		says    string
	}{
		{"127.20.0.0/29", http.StatusForbidden, "127.20.0.4"},
		{"127.20.0.1 10.1.2.3", http.StatusForbidden, "10.1.2.3"},
		{"camera.example", http.StatusForbidden, "host name"},
		{"", http.StatusBadRequest, "no targets"},
		{"127.20.0.1-3", http.StatusSeeOther, ""},
	} {
		res, body := c.do(t, "POST", "/jobs", url.Values{"csrf": {csrf}, "targets": {tt.targets}, "ports": {"23"}}, withSession)
		if res.StatusCode != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("submit %q: %d, want %d saying %q\n%.300s", tt.targets, res.StatusCode, tt.code, tt.says, body)
		}
	}
	if res, _ := c.do(t, "POST", "/jobs", url.Values{"csrf": {"forged"}, "targets": {"127.20.0.1"}}, withSession); res.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF: %d", res.StatusCode)
	}
	if res, _ := c.do(t, "POST", "/schedules", url.Values{"csrf": {csrf}, "targets": {"10.0.0.0/8"}, "name": {"n"}, "every": {"24h"}}, withSession); res.StatusCode != http.StatusForbidden {
		t.Errorf("schedule outside scope: %d", res.StatusCode)
	}
	var got []string
	must(t, c.a.Audit(context.Background(), auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Actor == "operator" && (strings.HasPrefix(e.Action, "job.") || strings.HasPrefix(e.Action, "schedule.")) {
			got = append(got, e.Action+" "+e.Outcome+" "+e.Target)
		}
		return nil
	}))
	want := []string{"job.submit refused 127.20.0.0/29", "job.submit refused 127.20.0.1 10.1.2.3", "job.submit refused camera.example",
		"job.submit ok 127.20.0.1-3", "schedule.add refused 10.0.0.0/8"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log:\n got %q\nwant %q", got, want)
	}
}

// TestConsoleInBrowser logs in as an operator in headless Chromium, submits
// a scan of a simulated fleet inside the operator's scope, watches it finish
// through the live page, and logs out.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	bin := chromium(t)
	fleet := netip.MustParsePrefix("127.84.0.0/29")
	ctx := context.Background()
	fctx, stopFleet := context.WithCancel(ctx)
	f, err := simulate.Start(fctx, simulate.Options{Prefix: fleet, Devices: 4, Seed: 79, Weak: 0.5})
	if err != nil {
		stopFleet()
		t.Fatalf("simulate: %v", err)
	}
	defer func() { stopFleet(); f.Close() }()

	c := newConsole(t, Options{PollEvery: 200 * time.Millisecond})
	must(t, c.a.AddScope(ctx, "operator", fleet, cliActor))
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.jobs.Work(wctx, jobs.WorkOptions{PollEvery: 100 * time.Millisecond, Grace: 5 * time.Second})
	}()
	defer func() {
		stopWorker()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	ts := httptest.NewServer(c.srv)
	defer ts.Close()

	bctx, stop := browser(ctx, bin, 1200, 90*time.Second)
	defer stop()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("chromium: text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	step("log in",
		chromedp.Navigate(ts.URL+"/jobs"), // redirected to the log-in page
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), "operator"),
		chromedp.SendKeys(chromedp.CSS("#password"), "operator long password"),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#submit-form")))
	step("submit a scan",
		chromedp.SendKeys(chromedp.CSS("#targets"), fleet.String()),
		chromedp.SendKeys(chromedp.CSS("#ports"), "21,22,23,80,554,1883,2323,8080"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#job")))
	step("watch it finish", chromedp.WaitVisible(chromedp.CSS(`#job[data-final="1"]`)))
	state, progress := text("#state"), text("#progress")
	if state != "completed" {
		t.Errorf("job state %q, want completed", state)
	}
	if p := strings.Fields(progress); len(p) < 3 || p[0] != p[2] || p[0] == "0" {
		t.Errorf("progress %q, want done = total > 0", progress)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	if p := os.Getenv("IOTWATCH_SCREENSHOT"); p != "" {
		_ = os.WriteFile(strings.ReplaceAll(p, "PATH", "console_job"), shot, 0o644) // for a human to look at
	}
	checkNotBlank(t, shot)
	step("log-out page", chromedp.Navigate(ts.URL+"/logout"), chromedp.WaitVisible(chromedp.CSS("#whoami")))
	whoami := text("#whoami")
	step("log out",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.Navigate(ts.URL+"/jobs"),
		chromedp.WaitVisible(chromedp.CSS("#login")))
	after, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if whoami != "operator" || !strings.Contains(after, "/login") {
		t.Errorf("log-out: was %q, then at %q", whoami, after)
	}
	// The audit log has the whole visit.
	var actions []string
	must(t, c.a.Audit(ctx, auth.AuditQuery{}, func(e auth.Entry) error {
		if e.Actor == "operator" {
			actions = append(actions, e.Action+" "+e.Outcome)
		}
		return nil
	}))
	if got := strings.Join(actions, "|"); got != "login ok|job.submit ok|logout ok" {
		t.Errorf("audit log of the visit: %s", got)
	}
}
