package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServeCmd(t *testing.T) {
	db := reportFixture(t)
	pr, pw := io.Pipe()
	g := &globals{dbPath: db, out: pw, errOut: io.Discard, log: slog.New(slog.DiscardHandler)}
	cmd := newServeCmd(g)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(line)[2]
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
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after cancel: %v", err)
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
