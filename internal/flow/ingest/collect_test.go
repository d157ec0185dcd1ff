package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/detect"
	"iotwatch/internal/flow/ingest/pcap"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// exporterCaptures writes the traffic two routers see: each carries its own
// devices (a /24 each), some of them scanning like Mirai or flooding a
// target, the others normal.
func exporterCaptures(t *testing.T) [2]string {
	t.Helper()
	rng := rand.New(rand.NewPCG(15, 2))
	var out [2]string
	for i, net := range []string{"192.168.7.", "192.168.8."} {
		var pkts []synth.Packet
		pkts = append(pkts, synth.MiraiScan(rng, synth.Addr(net+"20"), 300, time.Minute)...)
		pkts = append(pkts, synth.DDoS(synth.Addr(net+"21"), synth.Addr("198.51.100.80"), 1500, 15*time.Second)...)
		for _, d := range []string{"30", "31", "32"} {
			pkts = append(pkts, synth.Normal(rng, synth.Addr(net+d))...)
		}
		slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
		var buf bytes.Buffer
		if err := synth.WritePCAP(&buf, pkts); err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.Join(t.TempDir(), "exporter.pcap")
		if err := os.WriteFile(out[i], buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

type collector struct {
	addr   string
	cancel context.CancelFunc
	done   chan *Summary
}

func startCollector(t *testing.T, st *store.Store, every time.Duration) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	c := &collector{cancel: cancel, done: make(chan *Summary, 1)}
	go func() {
		sum, err := Collect(ctx, st, "127.0.0.1:0", every, Options{Queue: 1 << 12, Ready: func(a string) { ready <- a }})
		if err != nil {
			t.Error(err)
		}
		c.done <- sum
	}()
	select {
	case c.addr = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("collector did not start")
	}
	return c
}

func (c *collector) stop(t *testing.T) *Summary {
	t.Helper()
	c.cancel()
	select {
	case sum := <-c.done:
		if sum == nil {
			t.Fatal("collector returned no summary")
		}
		return sum
	case <-time.After(20 * time.Second):
		t.Fatal("collector did not stop")
	}
	return nil
}

// storedRecords sums the flows of the stored roll-ups.
func storedRecords(t *testing.T, st *store.Store) int64 {
	t.Helper()
	var n int64
	if err := st.DB().QueryRowContext(context.Background(), `SELECT COALESCE(SUM(flows), 0) FROM flow_devices`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCollectorsShareStore runs two collectors, each fed by its own exporter
// (the real softflowd replaying a router's traffic) at the same time, into
// one store, and one collector fed both streams into another: the daily
// count of devices under unauthorized control is the same, and it is
// stored while the collectors still run (periodic flushes), on SQLite and
// PostgreSQL.
func TestCollectorsShareStore(t *testing.T) {
	caps := exporterCaptures(t)
	const every = 150 * time.Millisecond
	for name, dsn := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := func() *store.Store {
				st, err := store.Open(ctx, dsn())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
			shared, single := open(), open()

			cols := []*collector{startCollector(t, shared, every), startCollector(t, shared, every)}
			one := startCollector(t, single, every)
			var wg sync.WaitGroup
			exported := make([]int, 4)
			for i, dst := range []string{cols[0].addr, cols[1].addr, one.addr, one.addr} {
				wg.Go(func() { exported[i] = testpeer.Softflowd(t, caps[i%2], dst, "9") })
			}
			wg.Wait()
			// The collectors are still running: their flushes must bring
			// every exported record into the store.
			deadline := time.Now().Add(15 * time.Second)
			for storedRecords(t, shared) < int64(exported[0]+exported[1]) || storedRecords(t, single) < int64(exported[2]+exported[3]) {
				if time.Now().After(deadline) {
					t.Fatalf("records stored while running: shared %d, single %d; exported %v", storedRecords(t, shared), storedRecords(t, single), exported)
				}
				time.Sleep(every)
			}
			var records int64
			for _, c := range cols {
				sum := c.stop(t)
				if sum.Status != model.RunComplete || sum.Counts[flow.CountDropped] != 0 {
					t.Errorf("collector %s: status %s, counts %v", c.addr, sum.Status, sum.Counts)
				}
				records += sum.Counts[flow.CountRecords]
			}
			oneSum := one.stop(t)
			if records != int64(exported[0]+exported[1]) || oneSum.Counts[flow.CountRecords] != int64(exported[2]+exported[3]) {
				t.Errorf("records: two collectors %d, one collector %d; exported %v", records, oneSum.Counts[flow.CountRecords], exported)
			}

			got, err := flow.DailyCompromised(ctx, shared, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := flow.DailyCompromised(ctx, single, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("daily count over two collectors %v, one collector fed both %v", got, want)
			}
			if len(got) == 0 {
				t.Fatal("no devices under unauthorized control counted")
			}
			alerted := map[string]bool{}
			as, err := flow.Alerts(ctx, shared, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				alerted[a.Device.String()] = true
			}
			for _, d := range []string{"192.168.7.20", "192.168.7.21", "192.168.8.20", "192.168.8.21"} {
				if !alerted[d] {
					t.Errorf("no stored alert for %s", d)
				}
			}
			runs, err := shared.Runs(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) < 2 {
				t.Errorf("%d runs in the shared store, want one per collector and stored interval", len(runs))
			}
		})
	}
}

// checkpointing is a sink that takes a pipeline checkpoint every n records,
// as a collector's flushes do, and keeps the checkpoints' results.
type checkpointing struct {
	t       *testing.T
	p       *flow.Pipeline
	n, seen int
	results []*flow.Result
}

func (c *checkpointing) Flow(r flow.Record) {
	c.p.Flow(r)
	if c.seen++; c.seen%c.n == 0 {
		c.p.Flush()
		res, err := c.p.Checkpoint(context.Background())
		if err != nil {
			c.t.Fatal(err)
		}
		c.results = append(c.results, res)
	}
}

func (c *checkpointing) DNS(a flow.DNSAnswer) { c.p.DNS(a) }

// TestCheckpointsKeepDetections runs the same traffic through a pipeline
// once whole and once with a checkpoint every few records (a beacon much
// slower than the checkpoints, a scan and a flood spread over many): the
// alerts and the roll-ups' totals are the same, so a collector's periodic
// flushes change nothing in what it finds.
func TestCheckpointsKeepDetections(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dev, bot, c2 := synth.Addr("192.168.9.10"), synth.Addr("192.168.9.11"), synth.Addr("203.0.113.9")
	var pkts []synth.Packet
	pkts = append(pkts, synth.Beacon(rng, dev, c2, 8443, 10*time.Minute, 0.02, 40)...)
	pkts = append(pkts, synth.MiraiScan(rng, bot, 300, time.Minute)...)
	pkts = append(pkts, synth.DDoS(bot, synth.Addr("198.51.100.80"), 1500, 15*time.Second)...)
	pkts = append(pkts, synth.Normal(rng, synth.Addr("192.168.9.12"))...)
	slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
	var capture bytes.Buffer
	if err := synth.WritePCAP(&capture, pkts); err != nil {
		t.Fatal(err)
	}
	run := func(every int) (alerts []string, flows uint64, checkpoints int) {
		eng := detect.New(detect.DefaultRules(), nil)
		p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{eng}})
		var sink flow.Sink = p
		cp := &checkpointing{t: t, p: p, n: every}
		if every > 0 {
			sink = cp
		}
		if _, err := pcap.Read(context.Background(), bytes.NewReader(capture.Bytes()), sink, pcap.Options{}); err != nil {
			t.Fatal(err)
		}
		last, err := p.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range append(cp.results, last) {
			for _, a := range res.Alerts {
				alerts = append(alerts, a.Detector+" "+a.Device.String()+" "+a.Peer.String())
			}
			for _, h := range res.Rollups.Hourly {
				flows += h.Flows
			}
		}
		slices.Sort(alerts)
		return alerts, flows, len(cp.results)
	}
	want, wantFlows, _ := run(0)
	got, gotFlows, n := run(7)
	if n < 10 {
		t.Fatalf("only %d checkpoints taken", n)
	}
	if !slices.Contains(want, "c2-beaconing 192.168.9.10 203.0.113.9") {
		t.Fatalf("the whole run misses the beacon: %q", want)
	}
	if !slices.Equal(got, want) || gotFlows != wantFlows {
		t.Errorf("with %d checkpoints: alerts %q, %d flows; whole: %q, %d flows", n, got, gotFlows, want, wantFlows)
	}
}

// TestCollectorKilled runs a collector in a child process, feeds it one
// exporter's datagrams, waits for a flush and kills it with SIGKILL: what
// it received before the flush is in the store, in a complete run.
func TestCollectorKilled(t *testing.T) {
	if dsn := os.Getenv("IOTWATCH_COLLECT_CHILD"); dsn != "" {
		_, err := Collect(context.Background(), openAt(t, dsn), "127.0.0.1:0", 100*time.Millisecond,
			Options{Ready: func(a string) { fmt.Println("ready", a) }})
		t.Fatal("collector returned", err)
	}
	caps := exporterCaptures(t)
	dsn := filepath.Join(t.TempDir(), "killed.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCollectorKilled$")
	cmd.Env = append(os.Environ(), "IOTWATCH_COLLECT_CHILD="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var addr string
	if _, err := fmt.Fscanf(bufio.NewReader(out), "ready %s\n", &addr); err != nil {
		t.Fatalf("child collector: %v", err)
	}
	exported := testpeer.Softflowd(t, caps[0], addr, "9")
	st := openAt(t, dsn)
	deadline := time.Now().Add(15 * time.Second)
	for storedRecords(t, st) < int64(exported) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := storedRecords(t, st); got != int64(exported) {
		t.Errorf("stored %d records before the kill, softflowd exported %d", got, exported)
	}
	runs, err := st.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Status != model.RunComplete {
			t.Errorf("run %d: status %s, want every stored interval complete", r.ID, r.Status)
		}
	}
	if len(runs) == 0 {
		t.Error("no run stored")
	}
}

func openAt(t *testing.T, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
