package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/scan"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

func runScanCmd(t *testing.T, db string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), append([]string{"--db", db, "--log-level", "warn", "scan"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestScanCmd(t *testing.T) {
	web := testpeer.Lighttpd(t, testpeer.LighttpdOptions{})
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	ports := strconv.Itoa(web.Port) + "/http," + strconv.Itoa(testpeer.FreePort(t, "tcp"))

	out, _, err := runScanCmd(t, db, "127.0.0.1", "--ports", ports, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d JSON lines, want 1:\n%s", len(lines), out)
	}
	var rec struct {
		IP          string            `json:"ip"`
		Port        int               `json:"port"`
		Protocol    string            `json:"protocol"`
		Status      string            `json:"status"`
		Data        map[string]any    `json:"data"`
		Fingerprint model.Fingerprint `json:"fingerprint"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Port != web.Port || rec.Protocol != "http" || rec.Status != "success" || rec.Fingerprint.Product != "lighttpd" ||
		rec.Fingerprint.CPE == "" || rec.Data["server"] == nil {
		t.Errorf("record = %+v", rec)
	}

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.LatestRun(context.Background(), "scan", true)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := st.Services(context.Background(), run.ID)
	if err != nil || len(svcs) != 1 || run.Counts["refused"] != 1 || run.Counts["open"] != 1 {
		t.Errorf("stored run %+v, services %d, err %v", run, len(svcs), err)
	}

	for _, format := range []string{"table", "csv", "nmap-xml"} {
		out, _, err := runScanCmd(t, db, "127.0.0.1", "--ports", ports, "--format", format, "--no-store")
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(out, "lighttpd") {
			t.Errorf("%s output lacks lighttpd:\n%s", format, out)
		}
		if format == "nmap-xml" {
			var x struct {
				Hosts []struct {
					Ports []struct {
						PortID  int `xml:"portid,attr"`
						Service struct {
							Product string `xml:"product,attr"`
							CPE     string `xml:"cpe"`
						} `xml:"service"`
					} `xml:"ports>port"`
				} `xml:"host"`
			}
			if err := xml.Unmarshal([]byte(out), &x); err != nil || len(x.Hosts) != 1 || len(x.Hosts[0].Ports) != 1 ||
				!strings.HasPrefix(x.Hosts[0].Ports[0].Service.CPE, "cpe:/a:lighttpd:lighttpd:") {
				t.Errorf("nmap xml %+v, err %v:\n%s", x, err, out)
			}
		}
	}
}

func TestScanCmdResume(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	ctx := context.Background()
	if _, _, err := runScanCmd(t, db, "--resume"); err == nil || !strings.Contains(err.Error(), "no interrupted scan") {
		t.Fatalf("resume with nothing to resume: err = %v", err)
	}
	// Fake an interrupted scan of 127.0.5.0/28 × 2 ports with a checkpoint half way.
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	run := &model.Run{Kind: "scan", Targets: []string{"127.0.5.0/28"}}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Status = model.RunInterrupted
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	err = st.Tx(ctx, func(tx *sql.Tx) error {
		return scan.SaveCheckpoint(ctx, st, tx, scan.Resumable{RunID: run.ID, Targets: []string{"127.0.5.0/28"}, Ports: "1,2",
			Checkpoint: scan.Checkpoint{Seed: 3, Shard: 0, Shards: 1, Position: 16, Steps: 33}})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runScanCmd(t, db, "--resume", "--discovery-only")
	if err != nil {
		t.Fatal(err)
	}
	// 32 items over a walk of 36 steps (prime 37): from step 16 on, about half remain.
	if !strings.Contains(errOut, "scanned ") || strings.Contains(errOut, "scanned 32 ") || strings.Contains(errOut, "scanned 0 ") {
		t.Errorf("resumed scan summary: %s", errOut)
	}
	// The resumed scan records the scan it continues: one logical scan.
	if st, err = store.Open(ctx, db); err != nil {
		t.Fatal(err)
	}
	resumed, err := st.LatestRun(ctx, "scan", false)
	st.Close()
	if err != nil || resumed.ID == run.ID || resumed.Parent != run.ID {
		t.Errorf("resumed run %+v (%v): want a new run whose parent is %d", resumed, err, run.ID)
	}
	var runsOut, runsErr bytes.Buffer
	if err := Execute(ctx, []string{"--db", db, "runs"}, &runsOut, &runsErr); err != nil || !strings.Contains(runsOut.String(), fmt.Sprintf("scan (resumes %d)", run.ID)) {
		t.Errorf("runs (%v):\n%s\nwant the resumed scan shown with its parent %d", err, runsOut.String(), run.ID)
	}
	if _, _, err := runScanCmd(t, db, "10.0.0.1", "--resume"); err == nil {
		t.Error("resume with different targets: want error")
	}
}

func TestScanCmdUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	for _, args := range [][]string{
		{},
		{"127.0.0.1", "--ports", "0"},
		{"127.0.0.1", "--shard", "3/2"},
		{"127.0.0.1", "--format", "yaml"},
		{"not a target!"},
	} {
		_, _, err := runScanCmd(t, db, args...)
		if ExitCode(err) != 2 {
			t.Errorf("scan %v: err %v (exit %d), want usage error", args, err, ExitCode(err))
		}
	}
}
