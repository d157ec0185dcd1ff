package http

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func target(addr, path string) login.Target {
	return login.Target{Addr: netip.MustParseAddrPort(addr), Protocol: model.ProtoHTTP, Path: path, Timeout: 5 * time.Second}
}

func TestHTTPRealPeer(t *testing.T) {
	t.Parallel()
	p := testpeer.Lighttpd(t, testpeer.LighttpdOptions{
		BasicAuth:  map[string]string{"admin": "admin", "operator": "V3ry-Str0ng-0p"},
		DigestAuth: map[string]string{"admin": "12345", "operator": "V3ry-Str0ng-0p"},
	})
	for _, path := range []string{testpeer.LighttpdBasicPath, testpeer.LighttpdDigestPath} {
		t.Run(strings.Trim(path, "/"), func(t *testing.T) {
			sess, err := Module{}.Open(context.Background(), target(p.Addr, path))
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			weak := map[string]string{testpeer.LighttpdBasicPath: "admin", testpeer.LighttpdDigestPath: "12345"}[path]
			tests := []struct {
				user, pass string
				want       model.Status
			}{
				{"admin", "wrong", model.StatusAuthFailed},
				{"operator", "admin", model.StatusAuthFailed},
				{"admin", weak, model.StatusSuccess},
				{"admin", "password", model.StatusAuthFailed},
				{"operator", "V3ry-Str0ng-0p", model.StatusSuccess},
			}
			for _, tt := range tests {
				r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
				if r.Status != tt.want {
					t.Errorf("%s:%s: %s (%v %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
				}
			}
		})
	}
	t.Run("open page", func(t *testing.T) {
		if _, err := (Module{}).Open(context.Background(), target(p.Addr, "/")); !errors.Is(err, login.ErrNoAuth) {
			t.Errorf("Open(/) error %v, want ErrNoAuth", err)
		}
	})
}

// formDevice is a device UI with a session-cookie form login.
func formDevice(user, pass string) nethttp.Handler {
	mux := nethttp.NewServeMux()
	page := `<html><body><form method="post" action="/login.cgi"><input type="hidden" name="csrf" value="t0k">
<input type="text" name="username"><input type="password" name="pwd"><input type="submit"></form></body></html>`
	mux.HandleFunc("/", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if c, err := r.Cookie("sid"); err == nil && c.Value == "ok" {
			fmt.Fprint(w, "<html><body>Dashboard</body></html>")
			return
		}
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("/login.cgi", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		_ = r.ParseForm()
		if r.Form.Get("csrf") == "t0k" && r.Form.Get("username") == user && r.Form.Get("pwd") == pass {
			nethttp.SetCookie(w, &nethttp.Cookie{Name: "sid", Value: "ok", Path: "/"})
			nethttp.Redirect(w, r, "/", nethttp.StatusFound)
			return
		}
		fmt.Fprint(w, strings.Replace(page, "<form", "<p>Invalid password</p><form", 1))
	})
	return mux
}

func TestHTTPForm(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(formDevice("admin", "1234"))
	defer srv.Close()
	sess, err := Module{}.Open(context.Background(), target(strings.TrimPrefix(srv.URL, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, tt := range []struct {
		user, pass string
		want       model.Status
	}{
		{"admin", "admin", model.StatusAuthFailed},
		{"admin", "1234", model.StatusSuccess},
		{"root", "1234", model.StatusAuthFailed},
	} {
		r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
		if r.Status != tt.want {
			t.Errorf("%s:%s: %s (%v %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
		}
	}
}

// luci is an OpenWrt LuCI login (a template from forms.yaml, not the generic form).
func luci(user, pass string) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		page := `<form method="post" action="/cgi-bin/luci"><input name="luci_username"><input type="password" name="luci_password"></form>`
		if r.Method == nethttp.MethodPost && r.URL.Path == "/cgi-bin/luci" {
			_ = r.ParseForm()
			if r.Form.Get("luci_username") == user && r.Form.Get("luci_password") == pass {
				nethttp.SetCookie(w, &nethttp.Cookie{Name: "sysauth_http", Value: "0123abcd", Path: "/cgi-bin/luci"})
				fmt.Fprint(w, "<html>Status</html>")
				return
			}
			w.WriteHeader(nethttp.StatusForbidden)
			fmt.Fprint(w, "<p>Invalid username and/or password! Please try again.</p>"+page)
			return
		}
		fmt.Fprint(w, page)
	})
}

func TestHTTPFormTemplate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(luci("root", "admin"))
	defer srv.Close()
	sess, err := Module{}.Open(context.Background(), target(strings.TrimPrefix(srv.URL, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	if name := sess.(*session).form.tmpl.Name; name != "openwrt-luci" {
		t.Errorf("template %q, want openwrt-luci", name)
	}
	for _, tt := range []struct {
		user, pass string
		want       model.Status
	}{
		{"root", "root", model.StatusAuthFailed},
		{"root", "admin", model.StatusSuccess},
	} {
		r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
		if r.Status != tt.want {
			t.Errorf("%s:%s: %s (%v %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
		}
		if r.Success() && (strings.Contains(r.Evidence, "0123abcd") || !strings.Contains(r.Evidence, "sysauth_http=01***")) {
			t.Errorf("evidence %q: the session cookie must be redacted", r.Evidence)
		}
	}
}

func TestHTTPThrottle(t *testing.T) {
	t.Parallel()
	n := 0
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n++
		if n > 2 {
			w.WriteHeader(nethttp.StatusTooManyRequests)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
		w.WriteHeader(nethttp.StatusUnauthorized)
	}))
	defer srv.Close()
	sess, err := Module{}.Open(context.Background(), target(strings.TrimPrefix(srv.URL, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	r1 := sess.Try(context.Background(), login.Credential{Username: "a", Password: "b"})
	r2 := sess.Try(context.Background(), login.Credential{Username: "a", Password: "c"})
	if r1.Status != model.StatusAuthFailed || r1.Throttled || !r2.Throttled {
		t.Errorf("got %+v then %+v; want a refusal then throttling", r1, r2)
	}
}

func FuzzParseLoginForm(f *testing.F) {
	f.Add([]byte(`<form action="/l"><input name="user"><input type="password" name="p"></form>`))
	f.Add([]byte(`<form><input type=password></form><form>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseLoginForm(b)
	})
}

func TestTemplatesParse(t *testing.T) {
	ts, err := ParseTemplates(formsYAML)
	if err != nil || len(ts) < 2 {
		t.Fatalf("embedded templates: %d, %v", len(ts), err)
	}
	if _, err := ParseTemplates([]byte("templates:\n  - name: x\n    match: '('\n")); err == nil {
		t.Errorf("bad regexp accepted")
	}
}
