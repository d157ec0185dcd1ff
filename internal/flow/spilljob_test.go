package flow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// relObserver keeps each record's relation ID.
type relObserver struct{ rels []uint32 }

func (o *relObserver) Observe(_ *Record, or Orientation) { o.rels = append(o.rels, or.Rel) }
func (o *relObserver) ObserveDNS(DNSAnswer)              {}
func (o *relObserver) Alerts() []Alert                   { return nil }

// checkpoint takes a pipeline's result: Close's when last, else a
// checkpoint's.
func checkpoint(t *testing.T, p *Pipeline, last bool) *Result {
	t.Helper()
	var res *Result
	var err error
	if last {
		res, err = p.Close(context.Background())
	} else {
		p.Flush()
		res, err = p.Checkpoint(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPipelineSpillJobs runs the same records through a pipeline that keeps
// every relation in memory and through pipelines that spill a few hundred at
// a time (each run written while the aggregation goes on, see spillJob),
// with checkpoints among the evictions: every record gets the same relation
// ID, and each checkpoint's relations (summed across the runs) are the same.
func TestPipelineSpillJobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]Record, 20000)
	for i := range recs {
		peer := netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(40)), byte(rng.IntN(250))})
		if rng.IntN(3) == 0 {
			peer = netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(20))}) // comes back
		}
		recs[i] = Record{Start: t0.Add(time.Duration(i) * time.Second), Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + rng.IntN(20))}), Dst: peer,
			SrcPort: 40000, DstPort: 443, Proto: ProtoTCP, Packets: 1, Bytes: uint64(60 + rng.IntN(900))}
	}
	run := func(t *testing.T, active, batch int, ckpts []int) ([][]Relation, []uint32, int64) {
		ob := &relObserver{}
		p := NewPipeline(PipelineConfig{Observers: []Observer{ob}, ActiveRelations: active, SpillDir: t.TempDir(), BatchSize: batch})
		var segs [][]Relation
		var spilled int64
		from := 0
		for _, to := range append(ckpts, len(recs)) {
			for i := from; i < to; i++ {
				p.Flow(recs[i])
			}
			from = to
			res := checkpoint(t, p, to == len(recs))
			rels, err := res.Rollups.all()
			if err != nil {
				t.Fatal(err)
			}
			segs = append(segs, canonical(t, Rollups{Relations: rels}).Relations)
			spilled += res.Rollups.Spilled
			if err := res.Rollups.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return segs, ob.rels, spilled
	}
	for _, tc := range []struct {
		active, batch int
		ckpts         []int
	}{
		{256, 1024, []int{7000, 7001, 15000}},
		{100, 7, []int{3000}},
		{1000, 1, nil},
	} {
		t.Run(fmt.Sprintf("active %d batch %d", tc.active, tc.batch), func(t *testing.T) {
			wantSegs, wantRels, _ := run(t, -1, tc.batch, tc.ckpts)
			segs, rels, spilled := run(t, tc.active, tc.batch, tc.ckpts)
			if spilled == 0 {
				t.Fatal("nothing spilled: the case tests nothing")
			}
			if !reflect.DeepEqual(rels, wantRels) {
				t.Fatal("relation IDs differ with spilling")
			}
			for i := range wantSegs {
				if len(wantSegs[i]) == 0 || !reflect.DeepEqual(segs[i], wantSegs[i]) {
					t.Fatalf("segment %d: %d relations with spilling, want %d, the same", i, len(segs[i]), len(wantSegs[i]))
				}
			}
		})
	}
}
