package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/auth"
	"iotwatch/internal/cryptopan"
	"iotwatch/internal/report"
)

// TestPublishedViewForViewers serves a measured fleet with the published
// view on and requests every route as a viewer (each run's dashboard and
// every report format included): no answer names a fleet address or the
// fleet's network, the viewer's report is the published one, and an
// analyst of the same console still sees the addresses (the check is not
// vacuous). It runs on both stores (PostgreSQL skipped without one).
func TestPublishedViewForViewers(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testPublishedView(t, backend) })
	}
}

func testPublishedView(t *testing.T, backend string) {
	st, f := fleetStore(t, backend)
	ctx := context.Background()
	a := auth.New(st)
	a.Hasher = auth.Hasher{Params: auth.Params{Memory: 1024, Time: 1, Threads: 1}}
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.Viewer, auth.Analyst} {
		name := "published-" + r.String()
		if _, err := a.AddUser(ctx, name, r, name+" long password", cliActor); err != nil && !errors.Is(err, auth.ErrExists) {
			t.Fatal(err)
		}
		tok, _, err := a.CreateToken(ctx, name, "test", time.Hour, cliActor)
		must(t, err)
		tokens[r] = tok
	}
	an, err := cryptopan.New([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	srv := New(st, Options{Auth: a, Publish: &report.PublishOptions{MinCell: 5, Pseudonym: an.Addr, PseudoPrefix: an.Prefix},
		APIRate: 100000, LoginRate: 100000})

	// The fleet's addresses as written anywhere: dotted, and the fleet's
	// /16 (every device is in it, and so is every /24 row's network).
	var addrs []netip.Addr
	for _, d := range f.Truth.Devices {
		addrs = append(addrs, netip.MustParseAddr(d.IP))
	}
	if len(addrs) < 50 {
		t.Fatalf("%d fleet devices", len(addrs))
	}
	fleetNet := regexp.MustCompile(`(^|[^0-9])` + regexp.QuoteMeta(fleetPrefix(backend)))
	leaks := func(body string) string {
		if m := fleetNet.FindString(body); m != "" {
			return m
		}
		if err := report.CheckPublished([]byte(body), addrs); err != nil {
			return err.Error()
		}
		return ""
	}

	runs, err := st.Runs(ctx, 100)
	must(t, err)
	targets := []string{"/report.html", "/report.md"}
	for _, r := range runs {
		targets = append(targets, "/?run="+strconv.FormatInt(r.ID, 10), "/report.md?run="+strconv.FormatInt(r.ID, 10))
	}
	for _, rc := range routeCases {
		path := strings.ReplaceAll(rc.path, "127.20.0.1", addrs[0].String())
		if rc.method == "GET" {
			targets = append(targets, path)
		}
	}
	served := 0
	for _, target := range targets {
		res, body := getAs(t, srv, "GET", target, bearer(tokens[auth.Viewer]))
		if res.StatusCode == 200 {
			served++
		}
		if res.StatusCode >= 500 {
			t.Errorf("viewer GET %s: %d %.200s", target, res.StatusCode, body)
		}
		if leak := leaks(body); leak != "" {
			i := fleetNet.FindStringIndex(body)
			if i != nil {
				t.Logf("context: %q", body[max(0, i[0]-300):min(len(body), i[1]+100)])
			}
			t.Errorf("viewer GET %s (%d) names the fleet: %s", target, res.StatusCode, leak)
		}
	}
	if served < 10 {
		t.Errorf("only %d of %d requests served to the viewer", served, len(targets))
	}
	// POSTs and the other methods answer without data either.
	for _, rc := range routeCases {
		if rc.method != "GET" {
			res, body := getAs(t, srv, rc.method, rc.path, bearer(tokens[auth.Viewer]))
			if leak := leaks(body); leak != "" {
				t.Errorf("viewer %s %s (%d) names the fleet: %s", rc.method, rc.path, res.StatusCode, leak)
			}
		}
	}
	_, md := getAs(t, srv, "GET", "/report.md", bearer(tokens[auth.Viewer]))
	if !strings.Contains(md, "published report: no device address") {
		t.Errorf("the viewer's report is not the published one:\n%.2000s", md)
	}
	// Pseudonymous networks are there (min cell 5 over 60 devices in a /16
	// of /24s): the view is not just empty.
	if !regexp.MustCompile(`\d+\.\d+\.\d+\.0/24`).MatchString(md) {
		t.Errorf("no pseudonymous network in the viewer's report:\n%.2000s", md)
	}
	if _, body := getAs(t, srv, "GET", "/report.md", bearer(tokens[auth.Analyst])); leaks(body) == "" {
		t.Error("the analyst's report names no fleet address: the leak check finds nothing anywhere")
	}
}

// getAs sends one request through h as setup says.
func getAs(t *testing.T, h http.Handler, method, target string, setup func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	setup(req)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}
