package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/firmware"
	"iotwatch/internal/firmware/fwtest"
	"iotwatch/internal/store"
)

func runFirmware(t *testing.T, db string, jsonOut bool, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{dbPath: db, json: jsonOut, out: &out, errOut: &errOut, log: slog.New(slog.DiscardHandler)}
	cmd := newFirmwareCmd(g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestFirmwareAnalyzeCmd(t *testing.T) {
	img := fwtest.Image(t, true, "gzip")
	t.Cleanup(fwtest.Cleanup)
	dir := t.TempDir()
	db := filepath.Join(dir, "iotwatch.db")
	sbom := filepath.Join(dir, "sbom.json")
	out, err := runFirmware(t, db, true, "analyze", img, "--sbom", sbom, "--crack-budget", "5s")
	if err != nil {
		t.Fatal(err)
	}
	var res firmware.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%.500s", err, out)
	}
	if len(res.Findings) == 0 || len(res.Components) == 0 {
		t.Fatalf("result has %d findings, %d components", len(res.Findings), len(res.Components))
	}
	if strings.Contains(out, "AKIAQ4XK7PLM2NB5ZR3T") {
		t.Error("raw token printed without --show-secrets")
	}
	// The seeded vulnerability database matches the real busybox.
	cves := map[string]bool{}
	for _, m := range res.Matches {
		cves[m.CVE] = true
	}
	if !cves["CVE-2022-48174"] {
		t.Errorf("busybox CVE-2022-48174 not matched: %v", cves)
	}
	b, err := os.ReadFile(sbom)
	if err != nil || !bytes.Contains(b, []byte(`"specVersion": "1.6"`)) {
		t.Errorf("sbom file: %v %.200s", err, b)
	}
	// The run and its findings are stored.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.LatestRun(context.Background(), "firmware", true)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := st.Findings(context.Background(), run.ID)
	if err != nil || len(fs) != len(res.Findings) {
		t.Errorf("stored %d findings (err %v), want %d", len(fs), err, len(res.Findings))
	}

	// Table output and bad input.
	if out, err := runFirmware(t, db, false, "analyze", img, "--no-vulns", "--crack-budget", "-1s"); err != nil || !strings.Contains(out, "SEVERITY") {
		t.Errorf("table output: %v\n%.300s", err, out)
	}
	if _, err := runFirmware(t, db, false, "analyze", filepath.Join(dir, "missing.bin")); err == nil {
		t.Error("missing image: no error")
	}
	var u usageError
	if _, err := runFirmware(t, db, false, "analyze", img, "--max-size", "-5"); !errors.As(err, &u) {
		t.Errorf("--max-size -5: got %v, want a usage error", err)
	}
}

// TestFirmwareAnalyzeNotFirmware: a file that is no firmware is analysed, warned about on
// stderr and recorded as a finding.
func TestFirmwareAnalyzeNotFirmware(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "LICENSE")
	os.WriteFile(img, bytes.Repeat([]byte("THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND.\n"), 40), 0o644)
	var out, errOut bytes.Buffer
	g := &globals{dbPath: filepath.Join(dir, "iotwatch.db"), out: &out, errOut: &errOut, log: slog.New(slog.DiscardHandler)}
	cmd := newFirmwareCmd(g)
	cmd.SetArgs([]string{"analyze", img, "--no-vulns", "--crack-budget", "-1s"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: "+img+": no firmware container recognised") {
		t.Errorf("stderr %q, want the not-firmware warning", errOut.String())
	}
	if !strings.Contains(out.String(), "no firmware container recognised") {
		t.Errorf("findings table lacks the not-firmware finding:\n%s", out.String())
	}
	// No component: said in words, not an empty table under its header.
	if strings.Contains(out.String(), "COMPONENT") || !strings.Contains(out.String(), "No software component identified") {
		t.Errorf("output with no component:\n%s", out.String())
	}
}
