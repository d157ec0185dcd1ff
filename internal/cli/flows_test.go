package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
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
	// Both ends of this capture are public addresses: without the monitored
	// network nothing in it is a device.
	out, err := runFlows(t, db, "flows", "ingest", "--pcap", pcap, "--networks", "147.32.0.0/16")
	if err != nil || !strings.Contains(out, "116 records") || !strings.Contains(out, "1 alerts") {
		t.Fatalf("ingest: %q, %v", out, err)
	}
	out, err = runFlows(t, db, "--json", "flows", "detect")
	if err != nil {
		t.Fatal(err)
	}
	// Bare alerts, exactly as flows export gives them; --daily the day counts.
	export, err := runFlows(t, db, "flows", "export", "--format", "jsonl")
	if err != nil || out != export || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"detector":"brute-force"`) {
		t.Errorf("detect --json:\n%s\nwant one bare alert as flows export gives it:\n%s", out, export)
	}
	out, err = runFlows(t, db, "--json", "flows", "detect", "--daily")
	var day flow.DayCount
	if err != nil || json.Unmarshal([]byte(out), &day) != nil || day.Devices != 1 || strings.Count(out, "\n") != 1 {
		t.Errorf("detect --daily --json: %q, %v; want one day with one device", out, err)
	}
	out, err = runFlows(t, db, "flows", "destinations", "--device", "147.32.80.40")
	if err != nil || !strings.Contains(out, "CZ") || !strings.Contains(out, "phuslu/iploc") {
		t.Errorf("destinations: %q, %v", out, err)
	}
	out, err = runFlows(t, db, "flows", "export", "--format", "shadowserver-csv")
	if err != nil || !strings.HasPrefix(out, "timestamp,ip,port,asn,geo") || !strings.Contains(out, "147.32.80.40") {
		t.Errorf("export csv: %q, %v", out, err)
	}
	// The port and protocol columns are filled: the brute force was on 902/tcp.
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(rows) != 2 ||
		rows[1][14] != "902" || rows[1][17] != "tcp" || rows[1][2] == "" || rows[1][2] != rows[1][12] {
		t.Errorf("export csv rows %q (%v): want dst_port 902, protocol tcp and the source port", rows, err)
	}
	// Declarations: the MUD file allows nothing of this traffic.
	if b, err := os.ReadFile(mudFile); err == nil {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "bulb.json"), b, 0o644)
		decl := filepath.Join(dir, "decl.yaml")
		os.WriteFile(decl, []byte("schema_version: \"1\"\nproduct: {model: LB-2000}\nmanufacturer: {name: Bulbs, country: DE}\n"+
			"mud_file: bulb.json\ndata:\n  recipients:\n    - {name: Bulbs Cloud, country: DE, hosts: [cloud.bulbs.example]}\n"), 0o644)
		out, err = runFlows(t, db, "flows", "detect", "--declarations", "147.32.80.40="+decl)
		if err != nil || !strings.Contains(out, "mud-undeclared-flow") || !strings.Contains(out, "undeclared-country") {
			t.Errorf("detect --declarations: %q, %v", out, err)
		}
		// The retired flows-only format is refused with a usage error that says what to write.
		old := filepath.Join(dir, "old.yaml")
		os.WriteFile(old, []byte("devices:\n  - device: 147.32.80.40\n    mud: bulb.json\n"), 0o644)
		if _, err := runFlows(t, db, "flows", "detect", "--declarations", old); ExitCode(err) != 2 || !strings.Contains(err.Error(), "maker declaration") {
			t.Errorf("old declarations format: %v, want a usage error naming the maker declaration", err)
		}
	}
	for _, bad := range [][]string{
		{"flows", "ingest"},
		{"flows", "ingest", "--pcap", pcap, "--listen", "udp://127.0.0.1:0"},
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
	garbage := filepath.Join(t.TempDir(), "indicators.txt")
	os.WriteFile(garbage, []byte("# feed\n203.0.113.9\nroot:x:0:0:root:/root:/bin/bash\n"), 0o644)
	if _, err := runFlows(t, db, "flows", "ingest", "--pcap", pcap, "--indicators", garbage); ExitCode(err) != 2 ||
		!strings.Contains(err.Error(), garbage+": line 3:") {
		t.Errorf("garbage indicators: exit %d (%v), want 2 naming the file and line 3", ExitCode(err), err)
	}
	if _, err := runFlows(t, db, "flows", "ingest", "--zeek", pcap); err == nil {
		t.Error("a pcap accepted as a Zeek log")
	}
}

// TestFlowsIngestStream: --continue without a name uses the "default"
// stream and the second ingest reports the run it continued from; a
// directory input and repeated flags make one run with all inputs.
func TestFlowsIngestStream(t *testing.T) {
	pcap := "../../../shared/data/flows/ssh-bruteforce.pcap"
	raw, err := os.ReadFile(pcap)
	if err != nil {
		t.Skip(err)
	}
	db := filepath.Join(t.TempDir(), "f.db")
	type summary struct {
		RunID  int64            `json:"run_id"`
		Counts map[string]int64 `json:"counts"`
	}
	ingest := func(args ...string) summary {
		t.Helper()
		out, err := runFlows(t, db, append([]string{"--json", "flows", "ingest"}, args...)...)
		if err != nil {
			t.Fatalf("ingest %v: %v", args, err)
		}
		var s summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("ingest %v: %q: %v", args, out, err)
		}
		return s
	}
	first := ingest("--pcap", pcap, "--networks", "147.32.80.40/32", "--continue", "default")
	second := ingest("--pcap", pcap, "--networks", "147.32.80.40/32", "--continue", "default")
	if first.Counts["state_series"] < 1 || second.Counts["state_from_run"] != first.RunID {
		t.Errorf("continue: first %v, second %v", first.Counts, second.Counts)
	}
	other := ingest("--pcap", pcap, "--networks", "147.32.80.40/32", "--continue=other")
	if _, ok := other.Counts["state_from_run"]; ok {
		t.Errorf("stream other continued from %d", other.Counts["state_from_run"])
	}
	dir := t.TempDir()
	for _, n := range []string{"a.pcap", "b.pcap"} {
		os.WriteFile(filepath.Join(dir, n), raw, 0o644)
	}
	// Three inputs with the same bytes, into a fresh database: read once.
	db = filepath.Join(t.TempDir(), "g.db")
	all := ingest("--pcap", dir, "--pcap", pcap)
	if all.Counts["inputs"] != 3 || all.Counts["records"] != 116 || all.Counts["inputs_skipped"] != 2 {
		t.Errorf("directory + file: %v, want 3 inputs, 116 records, 2 inputs skipped", all.Counts)
	}
}

// TestFlowsIngestDirectoryWithOtherFiles: `flows ingest --pcap DIR` skips
// and counts a file of DIR that is not a capture, as the README says (the
// command listed the directory itself, so a LICENSE or the demo's database
// beside its captures failed the whole ingest).
func TestFlowsIngestDirectoryWithOtherFiles(t *testing.T) {
	dir := t.TempDir()
	dev, peer := netip.MustParseAddr("192.168.7.20"), netip.MustParseAddr("203.0.113.66")
	pkts := synth.Beacon(rand.New(rand.NewPCG(1, 2)), dev, peer, 8443, time.Minute, 0.1, 20)
	var buf bytes.Buffer
	if err := synth.WritePCAP(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "day0.pcap"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "LICENSE"), []byte("licence text\n"), 0o644)
	db := filepath.Join(t.TempDir(), "f.db")
	out, err := runFlows(t, db, "--json", "flows", "ingest", "--pcap", dir)
	if err != nil {
		t.Fatalf("ingest of a directory with a licence beside its capture: %v", err)
	}
	var sum ingest.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if sum.Counts["inputs_not_recognised"] != 1 || sum.Counts["records"] == 0 || sum.Status != "complete" {
		t.Errorf("summary %s %v, want complete with records and 1 input not recognised", sum.Status, sum.Counts)
	}
	if _, err := runFlows(t, db, "flows", "ingest", "--pcap", filepath.Join(dir, "LICENSE")); err == nil {
		t.Error("a licence named as a capture: no error")
	}
}

// TestFlowsExportDeviceColumns: the Shadowserver CSV's device_vendor,
// device_type and device_model come from the inventory's identity of a
// device the scans identified, and stay empty for one they did not.
func TestFlowsExportDeviceColumns(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "f.db")
	known, unknown := netip.MustParseAddr("192.168.7.20"), netip.MustParseAddr("192.168.7.21")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	run := &model.Run{Kind: "scan"}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveServices(ctx, run.ID, []model.Service{{IP: known, Port: 80, Transport: model.TCP, Protocol: model.ProtoHTTP,
		Status: model.StatusSuccess, Fingerprint: &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2032-I", DeviceType: "ip-camera", Confidence: 0.9}}}); err != nil {
		t.Fatal(err)
	}
	run.Status = model.RunComplete
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	st.Close()
	dir := t.TempDir()
	for i, dev := range []netip.Addr{known, unknown} {
		var buf bytes.Buffer
		pkts := synth.Beacon(rand.New(rand.NewPCG(1, uint64(i))), dev, netip.MustParseAddr("203.0.113.66"), 8443, time.Minute, 0.1, 30)
		if err := synth.WritePCAP(&buf, pkts); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("dev%d.pcap", i)), buf.Bytes(), 0o644)
	}
	if out, err := runFlows(t, db, "flows", "ingest", "--pcap", dir); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}
	out, err := runFlows(t, db, "flows", "export", "--format", "shadowserver-csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 3 {
		t.Fatalf("export: %d rows (%v), want alerts of both devices:\n%s", len(rows), err, out)
	}
	want := map[string][]string{known.String(): {"Hikvision", "ip-camera", "DS-2CD2032-I"}, unknown.String(): {"", "", ""}}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		w, ok := want[r[1]]
		if !ok {
			continue
		}
		seen[r[1]] = true
		if got := r[18:21]; !slices.Equal(got, w) {
			t.Errorf("%s: device_vendor, device_type, device_model %q, want %q", r[1], got, w)
		}
	}
	if len(seen) != 2 {
		t.Errorf("alerts of %v only, want both devices:\n%s", seen, out)
	}
}
