package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iotwatch/internal/assess"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

func runCmd(t *testing.T, mk func(*globals) *cobra.Command, db string, jsonOut bool, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{dbPath: db, json: jsonOut, out: &out, errOut: &errOut, log: slog.New(slog.DiscardHandler)}
	cmd := mk(g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// assessDB stores two units of one camera that accept the same telnet password.
func assessDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := &model.Run{Kind: "demo", Status: model.RunComplete}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	var svcs []model.Service
	var creds []model.CredentialResult
	for _, a := range []string{"127.0.0.11", "127.0.0.12"} {
		ip := netip.MustParseAddr(a)
		svcs = append(svcs, model.Service{IP: ip, Port: 23, Transport: "tcp", Protocol: "telnet", Status: model.StatusSuccess,
			Fingerprint: &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2032", CPE: "cpe:2.3:h:hikvision:ds-2cd2032:-:*:*:*:*:*:*:*"}})
		creds = append(creds, model.CredentialResult{IP: ip, Port: 23, Protocol: "telnet", Username: "admin", Password: "12345", Kind: model.KindDefaultCredential})
	}
	if err := st.SaveServices(ctx, run.ID, svcs); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCredentials(ctx, run.ID, creds); err != nil {
		t.Fatal(err)
	}
	return db
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodDecl = `schema_version: "1"
product: {model: DS-2CD2032}
manufacturer: {name: "Hangzhou Hikvision Digital Technology Co., Ltd.", country: CN}
support: {end_date: 2030-01-01}
`

func TestAssessCmd(t *testing.T) {
	db := assessDB(t)
	decl := writeFile(t, "decl.yaml", goodDecl)
	ents := writeFile(t, "covered.csv", "name,date\nHikvision,2022-11-25\n")

	out, err := runCmd(t, newAssessCmd, db, false, "--declaration", decl, "--entities", ents)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.11", "E", "5.1-1", "universal default", "norm:foreign-affiliation", "covered"} {
		if !strings.Contains(out, want) {
			t.Errorf("assess output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "12345") {
		t.Error("password shown without --show-secrets")
	}
	// The assessment was stored as a run of kind "assess".
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.LatestRun(context.Background(), "assess", true)
	st.Close()
	if err != nil || r.Counts["fail"] == 0 {
		t.Errorf("stored assess run = %+v, %v", r, err)
	}

	out, err = runCmd(t, newAssessCmd, db, true, "--device", "127.0.0.12", "--baseline", "psti", "--no-save")
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Tier      string `json:"tier"`
		Baselines []struct {
			ID string `json:"id"`
		} `json:"baselines"`
	}
	if err := json.Unmarshal([]byte(out), &sr); err != nil || sr.Tier != "E" || len(sr.Baselines) != 1 || sr.Baselines[0].ID != "psti" {
		t.Errorf("assess --json = %+v, %v\n%s", sr, err, out)
	}
}

func TestAssessCmdUsage(t *testing.T) {
	db := assessDB(t)
	for _, args := range [][]string{
		{"--device", "not-an-ip"},
		{"--device", "127.0.0.11", "--product", "x"},
		{"--baseline", "iso-9001"},
	} {
		_, err := runCmd(t, newAssessCmd, db, false, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("assess %v: err = %v, want usage error", args, err)
		}
	}
	bad := writeFile(t, "bad.yaml", "schema_version: \"1\"\nproduct: {}\n")
	if _, err := runCmd(t, newAssessCmd, db, false, "--declaration", bad); err == nil || !strings.Contains(err.Error(), "/product") {
		t.Errorf("bad declaration: err = %v, want one naming /product", err)
	}
	if _, err := runCmd(t, newLabelCmd, db, false, "--format", "pdf"); err == nil {
		t.Error("label --format pdf accepted")
	}
}

func TestLabelCmd(t *testing.T) {
	db := assessDB(t)
	svg := filepath.Join(t.TempDir(), "label.svg")
	// One SVG is one label: several subjects need --device/--product or HTML.
	if _, err := runCmd(t, newLabelCmd, db, false, "--format", "svg", "-o", svg); ExitCode(err) != 2 {
		t.Errorf("svg of every subject: %v, want a usage error", err)
	}
	if _, err := os.Stat(svg); err == nil {
		t.Error("a refused label left a file behind")
	}
	if _, err := runCmd(t, newLabelCmd, db, false, "--format", "svg", "--product", "DS-2CD2032", "-o", svg, "--record-url", "https://cert.invalid/{id}"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) || bytes.Count(b, []byte(`class="label-card"`)) != 1 {
		t.Errorf("label.svg: %v, %.200s", err, b)
	}
	out, err := runCmd(t, newLabelCmd, db, false, "--detailed", "--format", "html", "--product", "DS-2CD2032")
	if err != nil || !strings.Contains(out, "<!DOCTYPE html>") || !strings.Contains(out, "5.13-1") {
		t.Errorf("record html: %v\n%.300s", err, out)
	}
	out, err = runCmd(t, newLabelCmd, db, true)
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"tier":"E"`) {
		t.Errorf("label --json: %v\n%s", err, out)
	}
}

func TestDeclareCmd(t *testing.T) {
	good := writeFile(t, "good.yaml", goodDecl)
	bad := writeFile(t, "bad.json", `{"schema_version":"1","product":{"model":"x"},"manufacturer":{"name":"m","country":"China"}}`)
	out, err := runCmd(t, newDeclareCmd, "", false, "validate", good)
	if err != nil || !strings.Contains(out, "valid (model DS-2CD2032)") {
		t.Errorf("validate good: %v\n%s", err, out)
	}
	out, err = runCmd(t, newDeclareCmd, "", false, "validate", good, bad)
	if err == nil || !strings.Contains(out, "/manufacturer/country") {
		t.Errorf("validate bad: %v\n%s", err, out)
	}
	out, err = runCmd(t, newDeclareCmd, "", true, "validate", bad)
	if err == nil || !strings.Contains(out, `"path":"/manufacturer/country"`) {
		t.Errorf("validate --json: %v\n%s", err, out)
	}
	out, err = runCmd(t, newDeclareCmd, "", false, "schema")
	if err != nil || !json.Valid([]byte(out)) {
		t.Errorf("schema: %v", err)
	}
	out, err = runCmd(t, newDeclareCmd, "", false, "example")
	if err != nil || !strings.Contains(out, "schema_version") {
		t.Errorf("example: %v", err)
	}
	out, err = runCmd(t, newDeclareCmd, "", false, "mapping")
	if err != nil || !strings.Contains(out, "/support/end_date") {
		t.Errorf("mapping: %v\n%s", err, out)
	}
}

func TestAssessCmdSBOM(t *testing.T) {
	db := assessDB(t)
	ents := writeFile(t, "list.csv", "name,date\nExample Chips Inc,2025-01-01\n")
	sbom := writeFile(t, "fw.cdx.json", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"soc-sdk","supplier":{"name":"Example Chips, Inc."}}]}`)
	out, err := runCmd(t, newAssessCmd, db, false, "--product", "DS-2CD2032", "--entities", ents, "--sbom", sbom, "--no-save", "--baseline", "norms")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `component-supplier "Example Chips, Inc." on list`) {
		t.Errorf("SBOM supplier not screened:\n%s", out)
	}
	if _, err := runCmd(t, newAssessCmd, db, false, "--sbom", ents, "--entities", ents); err == nil {
		t.Error("CSV accepted as SBOM")
	}
}

// TestBaselineFlagHelp: the help of assess and label (through the root,
// as a user asks for it) lists every baseline's id under --baseline,
// though the catalogue is parsed only when the help is shown.
func TestBaselineFlagHelp(t *testing.T) {
	for _, args := range [][]string{{"assess", "--help"}, {"help", "label"}} {
		var out, errOut bytes.Buffer
		if err := Execute(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var line string
		for l := range strings.Lines(out.String()) {
			if strings.Contains(l, "--baseline") {
				line = l
			}
		}
		for _, id := range assess.BaselineIDs() {
			if !strings.Contains(line, id) {
				t.Errorf("%v: --baseline's help %q lacks %s", args, line, id)
			}
		}
	}
}
