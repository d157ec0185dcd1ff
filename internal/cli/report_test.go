package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// reportFixture stores one run with two devices, one with a default password.
func reportFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := &model.Run{Kind: "scan"}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("127.20.0.1"), netip.MustParseAddr("127.20.0.2")
	err = st.SaveServices(ctx, run.ID, []model.Service{
		{IP: a, Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusSuccess},
		{IP: b, Port: 22, Transport: model.TCP, Protocol: model.ProtoSSH, Status: model.StatusSuccess},
		{IP: b, Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP, Status: model.StatusSuccess},
	})
	if err == nil {
		err = st.SaveCredentials(ctx, run.ID, []model.CredentialResult{{IP: a, Port: 23, Protocol: model.ProtoTelnet,
			Username: "root", Password: "xc3511", Kind: model.KindDefaultCredential}})
	}
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func runReportCmd(t *testing.T, db string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{dbPath: db, out: &out, errOut: &errOut, log: slog.New(slog.DiscardHandler)}
	cmd := newReportCmd(g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestReportCmdDirectory(t *testing.T) {
	db := reportFixture(t)
	dir := filepath.Join(t.TempDir(), "out")
	if _, _, err := runReportCmd(t, db, "--out", dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.html", "report.md", "report.json", "report.csv"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if bytes.Contains(b, []byte("xc3511")) {
			t.Errorf("%s shows the password without --show-secrets", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var got struct {
		Summary struct {
			Devices                    int     `json:"devices"`
			Services                   int     `json:"services"`
			DevicesWithWeakCredentials int     `json:"devices_with_weak_credentials"`
			WeakPasswordShare          float64 `json:"weak_password_share"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if s := got.Summary; s.Devices != 2 || s.Services != 3 || s.DevicesWithWeakCredentials != 1 || s.WeakPasswordShare != 0.5 {
		t.Errorf("summary = %+v, want 2 devices, 3 services, 1 weak, share 0.5", s)
	}
}

func TestReportCmdOutputs(t *testing.T) {
	db := reportFixture(t)
	tmp := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		file  string // expected file, else stdout
		want  string
		usage bool
	}{
		{"markdown to stdout", nil, "", "# IoT threat assessment", false},
		{"json to stdout", []string{"--format", "json"}, "", `"weak_password_share": 0.5`, false},
		{"show secrets", []string{"--format", "csv", "--show-secrets"}, "", "root:xc3511", false},
		{"file by extension", []string{"--out", filepath.Join(tmp, "r.html")}, "r.html", "<svg class=\"chart\"", false},
		{"file with format", []string{"--out", filepath.Join(tmp, "r.txt"), "--format", "md"}, "r.txt", "## Headline numbers", false},
		{"run id", []string{"--run", "1", "--format", "md"}, "", "#1 scan", false},
		{"bad format", []string{"--format", "pdf"}, "", "", true},
		{"several formats to stdout", []string{"--format", "html,md"}, "", "", true},
		{"several formats to a file", []string{"--format", "html,md", "--out", filepath.Join(tmp, "x.html")}, "", "", true},
		{"bad time", []string{"--from", "yesterday"}, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runReportCmd(t, db, tc.args...)
			var u usageError
			if tc.usage {
				if !errors.As(err, &u) {
					t.Errorf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join(tmp, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				out = string(b)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%.400s", tc.want, out)
			}
		})
	}
}

func TestReportCmdErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.db")
	st, err := store.Open(context.Background(), empty)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, _, err = runReportCmd(t, empty)
	if err == nil || !strings.Contains(err.Error(), "no runs recorded") {
		t.Errorf("empty database: err = %v, want 'no runs recorded'", err)
	}
	db := reportFixture(t)
	if _, _, err := runReportCmd(t, db, "--run", "42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: err = %v, want not found", err)
	}
	if _, _, err := runReportCmd(t, db, "--out", filepath.Join(t.TempDir(), "missing", "dir", "r.html")); err == nil {
		t.Errorf("unwritable output: no error")
	}
}

// TestReportCmdNotAudited checks the line report prints after a scan with
// no audit: "weak credentials on 0 (0.0%, 95% CI 0.0–7.1%)" read as a
// measured share; it says the audit did not run. After an audit that found
// nothing, the 0% stands.
func TestReportCmdNotAudited(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	record := func(kind string, stages []string, creds []model.CredentialResult) {
		run := &model.Run{Kind: kind, Stages: stages}
		if err := st.StartRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		a := netip.MustParseAddr("127.20.0.1")
		if err := st.SaveServices(ctx, run.ID, []model.Service{{IP: a, Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusSuccess}}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveCredentials(ctx, run.ID, creds); err != nil {
			t.Fatal(err)
		}
		run.Status = model.RunComplete
		if err := st.FinishRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	record("scan", []string{"discovery", "handshake", "fingerprint"}, nil)
	_, errOut, err := runReportCmd(t, db, "-o", filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "devices 1, services 1, weak credentials not audited") {
		t.Errorf("after a scan alone: %q, want the weak credentials said not audited", errOut)
	}
	record("audit", []string{"discovery", "handshake", "fingerprint", "audit"}, nil)
	st.Close()
	_, errOut, err = runReportCmd(t, db, "-o", filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "weak credentials on 0 (0.0%") {
		t.Errorf("after a clean audit: %q, want the measured 0%%", errOut)
	}
}
