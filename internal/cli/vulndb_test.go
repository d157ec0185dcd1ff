package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/model"
)

func runVulnDB(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{dbPath: db, out: &out, errOut: &errOut, log: slog.New(slog.DiscardHandler)}
	for _, a := range args {
		if a == "--json" {
			g.json = true
		}
	}
	var rest []string
	for _, a := range args {
		if a != "--json" {
			rest = append(rest, a)
		}
	}
	cmd := newVulnDBCmd(g)
	cmd.SetArgs(rest)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestVulnDBCmd(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/vuln/nvd/*.json")
	if len(files) == 0 {
		t.Skip("shared fixtures not present")
	}
	db := filepath.Join(t.TempDir(), "iotwatch.db")

	// match on an empty database uses the embedded seed.
	out, err := runVulnDB(t, db, "match", "--product", "OpenSSH", "--version", "9.2p1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ms []model.VulnMatch
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m model.VulnMatch
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("json line %q: %v", line, err)
		}
		ms = append(ms, m)
	}
	if len(ms) != 2 || ms[0].CVE != "CVE-2023-38408" || ms[1].CVE != "CVE-2024-6387" {
		t.Errorf("match = %+v", ms)
	}

	out, err = runVulnDB(t, db, append([]string{"import"}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "nvd-record") || !strings.Contains(out, "UNCHANGED") {
		t.Errorf("import table:\n%s", out)
	}

	out, err = runVulnDB(t, db, "match", "--cpe", `cpe:2.3:o:hikvision:ds-2cd2026g2-iu\/sl_firmware:-`)
	if err != nil || !strings.Contains(out, "CVE-2021-36260") || !strings.Contains(out, "2022-01-24") {
		t.Errorf("match --cpe: %v\n%s", err, out)
	}

	out, err = runVulnDB(t, db, "stats", "--since", "2021")
	if err != nil || !strings.Contains(out, "2023") || strings.Contains(out, "\n  2020") {
		t.Errorf("stats: %v\n%s", err, out)
	}
	out, err = runVulnDB(t, db, "stats", "--json")
	if err != nil || !strings.Contains(out, `"total": 30`) {
		t.Errorf("stats --json: %v\n%s", err, out)
	}

	out, err = runVulnDB(t, db, "show", "cve-2023-1389")
	if err != nil || !strings.Contains(out, "KEV: added 2023-05-01") || !strings.Contains(out, "(platform)") {
		t.Errorf("show: %v\n%s", err, out)
	}
	if _, err := runVulnDB(t, db, "show", "CVE-1999-0001"); err == nil {
		t.Error("show of an unknown CVE: no error")
	}
}

func TestVulnDBCmdUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	for _, args := range [][]string{
		{"match"},
		{"match", "--product", "openssh"},
		{"match", "--cpe", "cpe:2.3:a:x:y", "--product", "y", "--version", "1"},
		{"match", "--cpe", "not-a-cpe"},
		{"stats", "--since", "42"},
		{"update", "--source", "nvd"},
		{"update", "--source", "nvd=ftp://x"},
	} {
		_, err := runVulnDB(t, db, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
	if _, err := runVulnDB(t, db, "import", filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("import of a missing file: no error")
	}
}

func TestVulnDBUpdateCmd(t *testing.T) {
	kev, err := os.ReadFile("../../../shared/data/vuln/kev.json")
	if err != nil {
		t.Skip(err)
	}
	nvd, err := os.ReadFile("../../../shared/data/vuln/nvd/CVE-2024-6387.json")
	if err != nil {
		t.Skip(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kev.json":
			w.Write(kev)
		case "/cves":
			fmt.Fprintf(w, `{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":%s}]}`, nvd)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	out, err := runVulnDB(t, db, "update", "--source", "nvd="+srv.URL+"/cves", "--source", "kev="+srv.URL+"/kev.json", "--delay", "1ms")
	if err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if !strings.Contains(out, "nvd") || !strings.Contains(out, "1404") {
		t.Errorf("update table:\n%s", out)
	}
	out, err = runVulnDB(t, db, "stats", "--json")
	if err != nil || !strings.Contains(out, `"total": 1`) || !strings.Contains(out, "NVD CVE API 2.0 (synced") {
		t.Errorf("stats after update: %v\n%s", err, out)
	}
}
