package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runFlows(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(context.Background(), append([]string{"--db", db, "--log-level", "warn"}, args...), &out, &errOut)
	return out.String(), err
}

func TestFlowsCommands(t *testing.T) {
	pcap := "../../../shared/data/flows/ssh-bruteforce.pcap"
	mudFile := "../../../shared/data/mud/lightbulb2000-ietf-draft.mud.json"
	if _, err := os.Stat(pcap); err != nil {
		t.Skip(err)
	}
	db := filepath.Join(t.TempDir(), "f.db")
	out, err := runFlows(t, db, "flows", "ingest", "--pcap", pcap)
	if err != nil || !strings.Contains(out, "116 records") || !strings.Contains(out, "1 alerts") {
		t.Fatalf("ingest: %q, %v", out, err)
	}
	out, err = runFlows(t, db, "--json", "flows", "detect")
	if err != nil {
		t.Fatal(err)
	}
	var alerts, days int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("detect --json line %q: %v", l, err)
		}
		switch v.Type {
		case "alert":
			alerts++
		case "day":
			days++
		}
	}
	if alerts != 1 || days != 1 {
		t.Errorf("detect --json: %d alerts, %d days; want 1 and 1\n%s", alerts, days, out)
	}
	out, err = runFlows(t, db, "flows", "destinations", "--device", "147.32.80.40")
	if err != nil || !strings.Contains(out, "CZ") || !strings.Contains(out, "phuslu/iploc") {
		t.Errorf("destinations: %q, %v", out, err)
	}
	out, err = runFlows(t, db, "flows", "export", "--format", "shadowserver-csv")
	if err != nil || !strings.HasPrefix(out, "timestamp,ip,port,asn,geo") || !strings.Contains(out, "147.32.80.40") {
		t.Errorf("export csv: %q, %v", out, err)
	}
	// Declarations: the MUD file allows nothing of this traffic.
	if b, err := os.ReadFile(mudFile); err == nil {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "bulb.json"), b, 0o644)
		decl := filepath.Join(dir, "decl.yaml")
		os.WriteFile(decl, []byte("devices:\n  - device: 147.32.80.40\n    mud: bulb.json\n    countries: [DE]\n"), 0o644)
		out, err = runFlows(t, db, "flows", "detect", "--declarations", decl)
		if err != nil || !strings.Contains(out, "mud-undeclared-flow") || !strings.Contains(out, "undeclared-country") {
			t.Errorf("detect --declarations: %q, %v", out, err)
		}
	}
	for _, bad := range [][]string{
		{"flows", "ingest"},
		{"flows", "ingest", "--pcap", pcap, "--listen", "udp://127.0.0.1:0"},
		{"flows", "ingest", "--pcap", filepath.Join(t.TempDir(), "missing.pcap")},
		{"flows", "ingest", "--pcap", t.TempDir()}, // empty directory
		{"flows", "ingest", "--listen", "tcp://127.0.0.1:1"},
		{"flows", "export", "--format", "xml"},
		{"flows", "detect", "--since", "yesterday-ish"},
		{"flows", "destinations", "--device", "not-an-ip"},
	} {
		if _, err := runFlows(t, db, bad...); ExitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", bad, ExitCode(err), err)
		}
	}
	if _, err := runFlows(t, db, "flows", "ingest", "--zeek", pcap); err == nil {
		t.Error("a pcap accepted as a Zeek log")
	}
}
