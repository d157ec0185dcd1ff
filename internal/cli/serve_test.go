package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/web"
)

func TestServeCmd(t *testing.T) {
	url := startServe(t, reportFixture(t), "--listen", "127.0.0.1:0")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(url + "api/runs/1/report")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"devices": 2`) {
		t.Errorf("report over HTTP: %d %.200s", res.StatusCode, b)
	}
}

func TestServeCmdBadListen(t *testing.T) {
	g := &globals{dbPath: reportFixture(t), out: io.Discard, errOut: io.Discard, log: slog.New(slog.DiscardHandler)}
	cmd := newServeCmd(g)
	cmd.SetArgs([]string{"--listen", "nonsense"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var u usageError
	if err := cmd.ExecuteContext(context.Background()); !errors.As(err, &u) {
		t.Errorf("err = %v, want a usage error", err)
	}
}

// TestServeRefusesExposure: beyond loopback, serve refuses to start until an
// admin exists (decided before anything listens; 192.0.2.1 is TEST-NET-1 and
// never bound).
func TestServeRefusesExposure(t *testing.T) {
	db := reportFixture(t)
	for _, listen := range []string{"192.0.2.1:8080", "0.0.0.0:8080", ":8080"} {
		_, err := runCLI(t, "", "--db", db, "serve", "--listen", listen)
		if err == nil || !strings.Contains(err.Error(), "no admin user exists") || !strings.Contains(err.Error(), "iotwatch users add") || ExitCode(err) != 1 {
			t.Errorf("serve --listen %s without an admin: %v", listen, err)
		}
	}
	if _, err := runCLI(t, "", "--db", db, "serve", "--listen", "192.0.2.1:8080", "--tls-self-signed"); ExitCode(err) != 2 {
		t.Errorf("--tls-self-signed beyond loopback: %v, want a usage error", err)
	}
}

// startServe runs serve with args on db and returns its base URL.
func startServe(t *testing.T, db string, args ...string) string {
	t.Helper()
	pr, pw := io.Pipe()
	g := &globals{dbPath: db, out: pw, errOut: io.Discard, log: slog.New(slog.DiscardHandler)}
	cmd := newServeCmd(g)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no address line: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	})
	return strings.Fields(line)[2]
}

// TestServeWithUsers: once a user exists, serve asks for log-in (pages
// redirect, the API answers 401), takes API tokens, and over TLS sends HSTS
// with the self-signed certificate kept beside the database.
func TestServeWithUsers(t *testing.T) {
	db := reportFixture(t)
	if _, err := runCLI(t, "an analyst passphrase\n", "--db", db, "users", "add", "ana", "--role", "analyst"); err != nil {
		t.Fatal(err)
	}
	tok, err := runCLI(t, "", "--db", db, "tokens", "create", "ana")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	base := startServe(t, db, "--listen", "127.0.0.1:0", "--tls-self-signed")
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serve printed %q, want https", base)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the self-signed certificate
	get := func(path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+strings.TrimPrefix(path, "/"), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, tt := range []struct {
		path, token string
		code        int
	}{
		{"/healthz", "", 200}, {"/", "", 303}, {"/api/runs", "", 401}, {"/api/runs", tok, 200},
		{"/api/runs/1/report", tok, 200}, {"/admin/audit", tok, 403}, {"/api/runs", tok + "x", 401},
	} {
		res := get(tt.path, tt.token)
		if res.StatusCode != tt.code {
			t.Errorf("GET %s (token %v): %d, want %d", tt.path, tt.token != "", res.StatusCode, tt.code)
		}
		if res.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("GET %s: no HSTS over TLS", tt.path)
		}
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(db), web.SelfSignedKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("self-signed key beside the database: %v %v", fi, err)
	}
}
