package flow_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/geo"
)

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// seqRecord is the pipeline test's record number i (from 1): Packets holds
// i, and its relation is (device i%5, peer i%7), so that relations recur.
func seqRecord(i int) flow.Record {
	return flow.Record{Start: t0.Add(time.Duration(i) * time.Second), Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%5)}),
		Dst: netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%7)}), SrcPort: 40000, DstPort: 443, Proto: flow.ProtoTCP, Packets: uint64(i), Bytes: 100}
}

// recorder is an observer (and Checkpointer) that keeps what it saw, in
// order, raises an alert every tenth record, and can be made to panic.
type recorder struct {
	seq     []int    // Packets of each record seen
	rels    []uint32 // its Orientation.Rel
	devs    []netip.Addr
	dns     []string
	alerts  []flow.Alert
	atCkpt  []int // len(seq) at each Checkpoint
	panicAt int   // panic when seeing this record (0: never)
	onCkpt  func()
}

func (r *recorder) Observe(rec *flow.Record, o flow.Orientation) {
	i := int(rec.Packets)
	if i == r.panicAt {
		panic(fmt.Sprintf("observer fails at record %d", i))
	}
	r.seq, r.rels, r.devs = append(r.seq, i), append(r.rels, o.Rel), append(r.devs, o.Device)
	if i%10 == 0 {
		r.alerts = append(r.alerts, flow.Alert{Detector: "test", Device: o.Device, Time: rec.Start, Reason: fmt.Sprint(i)})
	}
}

func (r *recorder) ObserveDNS(a flow.DNSAnswer) { r.dns = append(r.dns, a.Name) }
func (r *recorder) Alerts() []flow.Alert        { return r.alerts }

func (r *recorder) Checkpoint() {
	r.atCkpt = append(r.atCkpt, len(r.seq))
	r.alerts = nil
	if r.onCkpt != nil {
		r.onCkpt()
	}
}

// wantRels returns the relation IDs an aggregator gives records from..to:
// dense from 1 in order of first appearance.
func wantRels(from, to int) []uint32 {
	ids := map[[2]int]uint32{}
	var out []uint32
	for i := from; i <= to; i++ {
		k := [2]int{i % 5, i % 7}
		if ids[k] == 0 {
			ids[k] = uint32(len(ids) + 1)
		}
		out = append(out, ids[k])
	}
	return out
}

// TestPipelineStages runs records and DNS answers through the two stages
// with batches and queues of several sizes, with checkpoints among them: the
// observer sees every record once, in order, with its device and its
// relation's ID (dense from 1, the same for a relation's records, afresh
// after a checkpoint); each checkpoint's result holds exactly the records,
// relations, hourly roll-ups and alerts before it, and Close the rest.
func TestPipelineStages(t *testing.T) {
	tests := []struct {
		name         string
		batch, queue int
		n            int
		ckpts        []int // checkpoint after these records
	}{
		{"one record per batch", 1, 1, 300, []int{100, 101, 250}},
		{"small batches", 7, 2, 1000, []int{333}},
		{"default sizes", 0, 0, 5000, []int{1024, 4000}},
		{"no checkpoint", 64, 64, 2000, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &recorder{}
			p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{rec}, BatchSize: tc.batch, Queue: tc.queue})
			var results []*flow.Result
			from := 1
			for _, to := range append(tc.ckpts, tc.n) {
				for i := from; i <= to; i++ {
					p.Flow(seqRecord(i))
					if i%50 == 0 {
						p.DNS(flow.DNSAnswer{Time: t0, Name: fmt.Sprintf("n%d.example", i), Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 7)})})
					}
				}
				from = to + 1
				var res *flow.Result
				var err error
				if to == tc.n {
					res, err = p.Close(ctx)
				} else {
					p.Flush()
					res, err = p.Checkpoint(ctx)
				}
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, res)
			}
			if len(rec.seq) != tc.n {
				t.Fatalf("observer saw %d records, want %d", len(rec.seq), tc.n)
			}
			for i, s := range rec.seq {
				if s != i+1 {
					t.Fatalf("observer's record %d is record %d: out of order", i+1, s)
				}
				if want := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + s%5)}); rec.devs[i] != want {
					t.Fatalf("record %d oriented to device %s, want %s", s, rec.devs[i], want)
				}
			}
			if len(rec.dns) != tc.n/50 || (len(rec.dns) > 0 && rec.dns[len(rec.dns)-1] != fmt.Sprintf("n%d.example", tc.n/50*50)) {
				t.Fatalf("observer saw DNS answers %v", rec.dns)
			}
			if fmt.Sprint(rec.atCkpt) != fmt.Sprint(tc.ckpts) {
				t.Fatalf("observer checkpointed after %v records, want %v", rec.atCkpt, tc.ckpts)
			}
			from = 1
			for j, to := range append(tc.ckpts, tc.n) {
				res := results[j]
				if got := rec.rels[from-1 : to]; fmt.Sprint(got) != fmt.Sprint(wantRels(from, to)) {
					t.Fatalf("segment %d-%d: relation IDs %v, want %v", from, to, got, wantRels(from, to))
				}
				wantAlerts := to/10 - (from-1)/10
				if res.Counts[flow.CountRecords] != int64(to-from+1) || len(res.Alerts) != wantAlerts || res.Counts[flow.CountAlerts] != int64(wantAlerts) {
					t.Fatalf("segment %d-%d: result has %d records and %d alerts, want %d and %d", from, to, res.Counts[flow.CountRecords], len(res.Alerts), to-from+1, wantAlerts)
				}
				if len(res.Alerts) > 0 && res.Alerts[0].Reason != fmt.Sprint((from+9)/10*10) {
					t.Fatalf("segment %d-%d: first alert is record %s's", from, to, res.Alerts[0].Reason)
				}
				if rels := min(to-from+1, 35); res.Counts[flow.CountRelations] != int64(rels) {
					t.Fatalf("segment %d-%d: %d relations, want %d", from, to, res.Counts[flow.CountRelations], rels)
				}
				// Hourly roll-ups (summed in the second stage): one per hour
				// and device, holding the segment's records.
				hours, flows := map[[2]int]bool{}, uint64(0)
				for i := from; i <= to; i++ {
					hours[[2]int{i / 3600, i % 5}] = true
				}
				for _, h := range res.Rollups.Hourly {
					flows += h.Flows
				}
				if len(res.Rollups.Hourly) != len(hours) || res.Counts[flow.CountRollups] != int64(len(hours)) || flows != uint64(to-from+1) {
					t.Fatalf("segment %d-%d: %d hourly roll-ups of %d flows, want %d of %d", from, to, len(res.Rollups.Hourly), flows, len(hours), to-from+1)
				}
				if err := res.Rollups.Close(); err != nil {
					t.Fatal(err)
				}
				from = to + 1
			}
		})
	}
}

// TestPipelinePanics makes each stage panic in turn: the producer never
// blocks (it goes on sending far more than the queues hold), a checkpoint
// after the failure and Close both report the panic with its stage, and
// Close returns, so that neither stage is left running.
func TestPipelinePanics(t *testing.T) {
	const failAt, n = 57, 3000
	bad := netip.MustParseAddr("203.0.113.99") // record failAt's peer
	tests := []struct {
		name  string
		stage string
		cfg   func(rec *recorder) flow.PipelineConfig
	}{
		{"aggregation", "aggregation", func(rec *recorder) flow.PipelineConfig {
			return flow.PipelineConfig{Observers: []flow.Observer{rec}, BatchSize: 4, Queue: 2,
				Attribute: func(a netip.Addr) geo.Attribution {
					if a == bad {
						panic("attribution fails")
					}
					return geo.Attribution{}
				}}
		}},
		{"observers", "observers", func(rec *recorder) flow.PipelineConfig {
			rec.panicAt = failAt
			return flow.PipelineConfig{Observers: []flow.Observer{rec}, BatchSize: 4, Queue: 2}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			p := flow.NewPipeline(tc.cfg(rec))
			for i := 1; i <= n; i++ {
				r := seqRecord(i)
				if i == failAt {
					r.Dst = bad
				}
				p.Flow(r)
			}
			p.Flush()
			_, err := p.Checkpoint(context.Background())
			if err == nil || !strings.Contains(err.Error(), "flow pipeline: "+tc.stage+": panic") {
				t.Fatalf("Checkpoint after the panic: %v, want the %s stage's panic", err, tc.stage)
			}
			for i := n + 1; i <= 2*n; i++ {
				p.Flow(seqRecord(i))
			}
			res, err := p.Close(context.Background())
			if err == nil || res != nil || !strings.Contains(err.Error(), tc.stage+": panic") {
				t.Fatalf("Close: %v %v, want the %s stage's panic", res, err, tc.stage)
			}
			// Batches of 4: the one holding record failAt fails whole.
			if len(rec.seq) != failAt-1 {
				t.Fatalf("observer saw %d records, want the %d before the panic", len(rec.seq), failAt-1)
			}
		})
	}
}

// TestPipelineCheckpointContext: a checkpoint whose context is cancelled
// before it is queued takes nothing; one cancelled while it waits for its
// result (here from the observer's Checkpoint, once the checkpoint is on
// its way) still returns the result, which would otherwise be lost. Every
// record is in exactly one result.
func TestPipelineCheckpointContext(t *testing.T) {
	rec := &recorder{}
	p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{rec}, BatchSize: 8})
	for i := 1; i <= 100; i++ {
		p.Flow(seqRecord(i))
	}
	p.Flush()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := p.Checkpoint(ctx); !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Checkpoint with a cancelled context: %v %v", res, err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	rec.onCkpt = cancel
	res, err := p.Checkpoint(ctx)
	if err != nil || ctx.Err() == nil {
		t.Fatalf("Checkpoint cancelled on its way: %v (context %v), want its result", err, ctx.Err())
	}
	got := res.Counts[flow.CountRecords]
	for i := 101; i <= 250; i++ {
		p.Flow(seqRecord(i))
	}
	last, err := p.Close(ctx) // cancelled: Close still drains
	if err != nil {
		t.Fatal(err)
	}
	if got != 100 || last.Counts[flow.CountRecords] != 150 || len(rec.atCkpt) != 1 {
		t.Fatalf("checkpoint %d + close %d records (checkpoints %v), want 100 + 150 and one", got, last.Counts[flow.CountRecords], rec.atCkpt)
	}
}
