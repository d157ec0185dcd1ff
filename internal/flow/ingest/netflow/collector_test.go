package netflow

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/detect"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/testpeer"
)

// TestSoftflowdToCollector exports generated traffic with the real softflowd
// to the collector on loopback and checks that every exported record and
// packet arrives, and that the detectors see the scan and the flood.
func TestSoftflowdToCollector(t *testing.T) {
	for _, version := range []string{"9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			dev, other := synth.Addr("192.168.7.20"), synth.Addr("192.168.7.30")
			var pkts []synth.Packet
			pkts = append(pkts, synth.MiraiScan(rng, dev, 300, time.Minute)...)
			pkts = append(pkts, synth.DDoS(dev, synth.Addr("198.51.100.80"), 1500, 15*time.Second)...)
			pkts = append(pkts, synth.Normal(rng, other)...)
			path := filepath.Join(t.TempDir(), "gen.pcap")
			var buf bytes.Buffer
			if err := synth.WritePCAP(&buf, pkts); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			col, err := Listen("127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			eng := detect.New(detect.DefaultRules(), nil)
			p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{eng}, Policy: flow.Drop, Queue: 1 << 12})
			ctx, cancel := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			go func() { runErr <- col.Run(ctx, p) }()

			exported := testpeer.Softflowd(t, path, col.Addr().String(), version)
			cancel() // the collector drains what is queued, then returns
			if err := <-runErr; err != nil {
				t.Fatal(err)
			}
			res, err := p.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			st := col.Stats()
			var packets int64
			for _, r := range res.Rollups.Hourly {
				packets += int64(r.Packets)
			}
			if res.Counts[flow.CountRecords] != int64(exported) || res.Counts[flow.CountDropped] != 0 {
				t.Errorf("collector accepted %d records (dropped %d), softflowd exported %d; stats %+v", res.Counts[flow.CountRecords], res.Counts[flow.CountDropped], exported, st)
			}
			if packets != int64(len(pkts)) {
				t.Errorf("packets in roll-ups = %d, want %d (every packet of the pcap)", packets, len(pkts))
			}
			var got []string
			for _, a := range res.Alerts {
				got = append(got, a.Detector+" "+a.Device.String())
			}
			slices.Sort(got)
			got = slices.Compact(got)
			want := []string{"ddos-participation 192.168.7.20", "scanning 192.168.7.20"}
			if !slices.Equal(got, want) {
				t.Errorf("alerts %q, want %q", got, want)
				for _, a := range res.Alerts {
					t.Logf("  %s %s: %s", a.Detector, a.Device, a.Reason)
				}
			}
			t.Logf("softflowd v%s exported %d records; stats %+v", version, exported, st)
		})
	}
}

// TestCollectorStopsOnCancel checks that Run returns promptly when cancelled
// with nothing to read.
func TestCollectorStopsOnCancel(t *testing.T) {
	col, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, &collect{}) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("collector did not stop")
	}
}
