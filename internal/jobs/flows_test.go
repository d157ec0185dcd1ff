package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/jobs"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// telemetryCaptures writes three days of a fleet's traffic, one capture a
// day as the demo writes them: ordinary devices, and a botnet that
// recruits more of them each day (scanning like Mirai, flooding, beaconing).
func telemetryCaptures(t *testing.T) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(15, 3))
	dir := t.TempDir()
	var out []string
	for d := range 3 {
		var pkts []synth.Packet
		for i := range 12 {
			pkts = append(pkts, synth.Normal(rng, synth.Addr(fmt.Sprintf("192.168.9.%d", 30+i)))...)
		}
		for k := range d + 1 {
			dev := synth.Addr(fmt.Sprintf("192.168.9.%d", 30+k*3))
			switch k % 3 {
			case 0:
				pkts = append(pkts, synth.MiraiScan(rng, dev, 120, 2*time.Minute)...)
			case 1:
				pkts = append(pkts, synth.DDoS(dev, synth.Addr("198.51.100.80"), 100, time.Minute)...)
			case 2:
				pkts = append(pkts, synth.Beacon(rng, dev, synth.Addr("203.0.113.66"), 8443, 2*time.Minute, 0.15, 30)...)
			}
		}
		shift := time.Duration(d-3) * 24 * time.Hour
		for i := range pkts {
			pkts[i].Time = pkts[i].Time.Add(shift)
		}
		slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
		var buf bytes.Buffer
		if err := synth.WritePCAP(&buf, pkts); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("telemetry-day%d.pcap", d))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestFlowsJobs ingests the days' captures as flows jobs worked
// in-process, on riversqlite and on PostgreSQL, and in-process through the
// stage as the demo does: the daily count of devices under unauthorized
// control is the same. A job submitted again counts nothing twice.
func TestFlowsJobs(t *testing.T) {
	caps := telemetryCaptures(t)
	ctx := context.Background()
	ref, err := store.Open(ctx, filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	for _, p := range caps {
		if _, err := stage.Flows(ctx, ref, []ingest.Source{{Kind: ingest.PCAP, Path: p}}, ingest.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := flow.DailyCompromised(ctx, ref, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || slices.ContainsFunc(want, func(d flow.DayCount) bool { return d.Devices == 0 }) {
		t.Fatalf("in-process daily count %v, want devices on each of three days", want)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st, c := openClient(t, b.dsn(t))
			var ids []int64
			for _, p := range append(slices.Clone(caps), caps[0]) { // the first day again
				id, err := c.SubmitFlows(ctx, jobs.FlowsArgs{Sources: []jobs.FlowSource{{Kind: "pcap", Path: p}}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if _, err := c.SubmitFlows(ctx, jobs.FlowsArgs{Sources: []jobs.FlowSource{{Kind: "listen", Path: "127.0.0.1:0"}}}); err == nil {
				t.Error("a flows job of a listener was accepted")
			}
			list := workAll(t, c, jobs.WorkOptions{}, settle)
			if k := byKind(list); k["flows"] != len(ids) || len(k) != 1 {
				t.Errorf("jobs by kind %v, want %d flows jobs completed", k, len(ids))
			}
			for _, id := range ids {
				if j, err := c.Get(ctx, id); err != nil || j.Run == 0 {
					t.Errorf("job %d: run %d, %v; want the run of its ingest", id, j.Run, err)
				}
			}
			got, err := flow.DailyCompromised(ctx, st, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("daily count through jobs %v, in-process %v", got, want)
			}
			for _, q := range []string{`SELECT SUM(flows) FROM flow_devices`, `SELECT COUNT(*) FROM findings`} {
				if g, w := rows(t, st.DB(), q), rows(t, ref.DB(), q); !slices.Equal(g, w) {
					t.Errorf("%s: jobs %v, in-process %v", q, g, w)
				}
			}
		})
	}
}
