package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

func runAuditCmd(t *testing.T, db string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), append([]string{"--db", db, "--log-level", "warn", "audit"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAuditCmd(t *testing.T) {
	broker := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Users: map[string]string{"admin": "admin", "sensor": "Str0ng-Sensor-Pass"}})
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{BasicAuth: map[string]string{"root": "root"}})
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	ports := strconv.Itoa(broker.Port) + "/mqtt," + strconv.Itoa(web.Port) + "/http"

	out, errOut, err := runAuditCmd(t, db, "127.0.0.1", "--ports", ports, "--http-path", testpeer.LighttpdBasicPath, "--json", "--summary")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	got := map[string]model.CredentialResult{}
	var summary bool
	for _, l := range lines {
		if strings.HasPrefix(l, `{"summary"`) {
			summary = true
			var s struct {
				Summary struct {
					Overall struct{ Weak, Devices int }
				}
			}
			if err := json.Unmarshal([]byte(l), &s); err != nil || s.Summary.Overall.Weak != 1 || s.Summary.Overall.Devices != 1 {
				t.Errorf("summary %s (%v), want 1 of 1 device", l, err)
			}
			continue
		}
		var r model.CredentialResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[r.Protocol] = r
	}
	if !summary {
		t.Errorf("no summary line in\n%s", out)
	}
	if r := got[model.ProtoMQTT]; r.Username != "admin" || r.Password != "ad***" || r.Kind != model.KindDefaultCredential {
		t.Errorf("mqtt result %+v, want admin with a redacted password", r)
	}
	if r := got[model.ProtoHTTP]; r.Username != "root" || r.Password != "ro***" {
		t.Errorf("http result %+v, want root:ro***", r)
	}

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.LatestRun(context.Background(), "audit", true)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := st.Credentials(context.Background(), run.ID)
	if err != nil || len(creds) != 2 {
		t.Fatalf("stored %d credentials (%v), want 2", len(creds), err)
	}
	for _, c := range creds {
		if c.Password != "admin" && c.Password != "root" {
			t.Errorf("stored %+v: the store keeps the raw secret for the report", c)
		}
	}

	// Table output with --show-secrets, --no-scan.
	out, errOut, err = runAuditCmd(t, db, "127.0.0.1", "--no-scan", "--ports", strconv.Itoa(broker.Port)+"/mqtt", "--show-secrets", "--no-store")
	if err != nil {
		t.Fatalf("audit --no-scan: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "PASSWORD") || !strings.Contains(out, " admin ") {
		t.Errorf("table output:\n%s", out)
	}
}

func TestAuditCmdCredsFile(t *testing.T) {
	broker := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Users: map[string]string{"operator": "Summer2024"}})
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte("# site list\nadmin:admin\noperator:Summer2024\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runAuditCmd(t, filepath.Join(dir, "db"), "127.0.0.1", "--no-scan", "--ports", strconv.Itoa(broker.Port)+"/mqtt",
		"--creds", list, "--json", "--no-store")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var r model.CredentialResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if r.Username != "operator" || r.Kind != model.KindWeakPassword || r.Source != list || r.Attempts != 3 {
		t.Errorf("result %+v, want operator as a weak password from %s on attempt 3 (anonymous, admin, operator)", r, list)
	}
}

func TestAuditCmdUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	for _, args := range [][]string{
		{"127.0.0.1", "--max-attempts", "0"},
		{"127.0.0.1", "--ports", "nonsense"},
		{},
	} {
		_, _, err := runAuditCmd(t, db, args...)
		if ExitCode(err) != 2 {
			t.Errorf("audit %v: exit %d (%v), want 2", args, ExitCode(err), err)
		}
	}
}
