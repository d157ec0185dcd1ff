package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/vuln"
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
	if err != nil || !strings.Contains(out, `"total":30`) {
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
		{"import", "--batch", "0", "x.json"},
		{"import", "--batch", "-1", "x.json"},
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
	if err != nil || !strings.Contains(out, `"total":1`) || strings.Count(out, "\n") != 1 || !strings.Contains(out, "NVD CVE API 2.0 (synced") {
		t.Errorf("stats after update: %v\n%s", err, out)
	}
}

// TestVulnDBUpdateOffline: an update that cannot reach its servers fails at
// once with one line that names `vulndb import`: against a loopback port that
// refuses, and with the official endpoints inside a network namespace with no
// network (unshare -n), where the names do not resolve.
func TestVulnDBUpdateOffline(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil || !errors.Is(err, vuln.ErrUnreachable) || !strings.Contains(err.Error(), "iotwatch vulndb import FILE|DIR") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("err %v, want one line naming vulndb import", err)
		}
	}
	if os.Getenv("IOTWATCH_OFFLINE_CHILD") == "1" {
		_, err := runVulnDB(t, db, "update")
		check(t, err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	_, err = runVulnDB(t, db, "update", "--source", "nvd="+refused+"/cves", "--source", "kev="+refused+"/kev.json")
	check(t, err)

	unshare, lerr := exec.LookPath("unshare")
	if lerr == nil {
		lerr = exec.Command(unshare, "-n", "true").Run()
	}
	if lerr != nil {
		if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
			t.Fatalf("unshare -n: %v", lerr)
		}
		t.Skipf("unshare -n: %v", lerr)
	}
	cmd := exec.Command(unshare, "-n", os.Args[0], "-test.run=^TestVulnDBUpdateOffline$", "-test.v")
	cmd.Env = append(os.Environ(), "IOTWATCH_OFFLINE_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("offline update inside unshare -n: %v\n%s", err, out)
	}
}

// TestVulnDBImportDir: a directory is imported file by file in name order; a
// licence text in it is skipped and counted, a hidden file left out.
func TestVulnDBImportDir(t *testing.T) {
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"../../../shared/data/vuln/nvd/CVE-2014-8361.json": "b-record.json",
		"../../../shared/data/vuln/kev.json":               "a-kev.json",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Skip(err)
		}
		os.WriteFile(filepath.Join(dir, dst), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "LICENSE.txt"), []byte("Permission is hereby granted, free of charge, to any person.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.json"), []byte("{"), 0o644)
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	out, err := runVulnDB(t, db, "--json", "import", dir)
	if err != nil {
		t.Fatalf("import DIR: %v\n%s", err, out)
	}
	var files []string
	var skipped []string
	var records int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			File    string `json:"file"`
			Records int    `json:"records"`
			KEVs    int    `json:"kevs"`
			Skipped bool   `json:"skipped"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		files = append(files, filepath.Base(r.File))
		if r.Skipped {
			skipped = append(skipped, filepath.Base(r.File))
		}
		records += r.Records + r.KEVs
	}
	if want := []string{"LICENSE.txt", "a-kev.json", "b-record.json"}; strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("files %v, want %v in name order", files, want)
	}
	if len(skipped) != 1 || skipped[0] != "LICENSE.txt" || records < 2 {
		t.Errorf("skipped %v, %d records and KEV entries; want the licence skipped and the rest imported", skipped, records)
	}
	// Named explicitly, a file that is no vulnerability data is an error.
	if _, err := runVulnDB(t, db, "import", filepath.Join(dir, "LICENSE.txt")); err == nil {
		t.Error("import LICENSE.txt: no error")
	}
}
