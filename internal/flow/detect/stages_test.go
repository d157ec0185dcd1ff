package detect

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest/pcap"
	"iotwatch/internal/flow/synth"
)

// checkpointing passes records on to a pipeline and checkpoints it every
// `every` records (from the producer's goroutine, as a sink may), keeping
// each checkpoint's alerts.
type checkpointing struct {
	p      *flow.Pipeline
	every  int
	n      int
	alerts []flow.Alert
	err    error
}

func (c *checkpointing) Flow(r flow.Record) {
	c.p.Flow(r)
	if c.n++; c.every > 0 && c.n%c.every == 0 {
		res, err := c.p.Checkpoint(context.Background())
		if err != nil {
			c.err = err
			return
		}
		c.alerts = append(c.alerts, res.Alerts...)
		res.Rollups.Close()
	}
}

func (c *checkpointing) DNS(a flow.DNSAnswer) { c.p.DNS(a) }

// TestBeaconsThroughStages: beacons every 2 s, 60 s and 1 h with ±30%
// jitter and a tenth of the beats missed (as bench/detect generates them)
// are flagged when the detector runs in the pipeline's second stage, its
// state per relation under the IDs the aggregation stage gives, with small
// batches (the stages interleave) and with checkpoints every few records
// (the relations start afresh, the series are found again by their keys).
func TestBeaconsThroughStages(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	c2 := synth.Addr("203.0.113.66")
	pkts := synth.Normal(rng, synth.Addr("192.168.1.10"))
	var want []string
	for i, p := range []struct {
		period time.Duration
		n      int
	}{{2 * time.Second, 80}, {time.Minute, 60}, {time.Hour, 30}} {
		dev := synth.Addr(fmt.Sprintf("192.168.1.%d", 11+i))
		pkts = append(pkts, synth.BeaconMissing(rng, dev, c2, 443, p.period, 0.3, p.n)...)
		want = append(want, "c2-beaconing "+dev.String())
	}
	var raw bytes.Buffer
	if err := synth.WritePCAP(&raw, pkts); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		batch, every int
	}{
		{"default batches", 0, 0},
		{"batches of 3", 3, 0},
		{"checkpoint every 25 records", 3, 25},
		{"checkpoint every 7 records", 1, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{New(DefaultRules(), nil)}, BatchSize: tc.batch, Queue: 2})
			c := &checkpointing{p: p, every: tc.every}
			if _, err := pcap.Read(context.Background(), bytes.NewReader(raw.Bytes()), c, pcap.Options{}); err != nil {
				t.Fatal(err)
			}
			res, err := p.Close(context.Background())
			if err != nil || c.err != nil {
				t.Fatal(err, c.err)
			}
			if tc.every > 0 && c.n < 3*tc.every {
				t.Fatalf("%d records: fewer than three checkpoints", c.n)
			}
			var got []string
			for _, s := range summary(append(c.alerts, res.Alerts...)) {
				if s[:len(Beacon)] == Beacon {
					got = append(got, s)
				}
			}
			// Judged at checkpoints, a part of the normal host's HTTPS to one
			// CDN address (151.101.1.69, 20 beats every 1m25s) scores at the
			// threshold and is flagged too, as it was before the pipeline
			// had two stages: with checkpoints the beacons must be among
			// the flagged.
			ok := slices.Equal(got, want)
			if tc.every > 0 {
				ok = !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
			}
			if !ok {
				t.Errorf("beacon alerts %q, want %q", got, want)
				for _, a := range append(c.alerts, res.Alerts...) {
					t.Logf("%s %s: %s", a.Detector, a.Device, a.Reason)
				}
			}
		})
	}
}
