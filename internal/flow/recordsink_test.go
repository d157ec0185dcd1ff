package flow_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"iotwatch/internal/flow"
)

// dnsOrder is an observer that notes, for each DNS answer, how many records
// it saw before it.
type dnsOrder struct {
	recorder
	at []int
}

func (d *dnsOrder) ObserveDNS(a flow.DNSAnswer) {
	d.at = append(d.at, len(d.seq))
	d.recorder.ObserveDNS(a)
}

// TestPipelineRecordSink gives a pipeline the same records and DNS answers
// through Record (in place) and through Flow, with batches of several
// sizes and answers among the records: the observer sees the same records,
// in order, with the same relations, and each answer after the same
// records (the batches are the same), and the results hold the same.
func TestPipelineRecordSink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch int
		n     int
		every int // a DNS answer after every every-th record
	}{
		{"one record per batch", 1, 200, 3},
		{"answers at batch ends", 8, 1000, 8},
		{"small batches", 7, 1000, 5},
		{"default size", 0, 5000, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen [2]*dnsOrder
			var counts [2]flow.Counts
			for v, inPlace := range []bool{false, true} {
				obs := &dnsOrder{}
				p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{obs}, BatchSize: tc.batch})
				var sink flow.RecordSink = p
				for i := 1; i <= tc.n; i++ {
					if inPlace {
						*sink.Record() = seqRecord(i)
					} else {
						sink.Flow(seqRecord(i))
					}
					if i%tc.every == 0 {
						sink.DNS(flow.DNSAnswer{Time: t0, Name: fmt.Sprintf("n%d.example", i), Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 7)})})
					}
				}
				res, err := p.Close(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if err := res.Rollups.Close(); err != nil {
					t.Fatal(err)
				}
				seen[v], counts[v] = obs, res.Counts
			}
			f, r := seen[0], seen[1]
			if len(r.seq) != tc.n || fmt.Sprint(r.seq) != fmt.Sprint(f.seq) || fmt.Sprint(r.rels) != fmt.Sprint(f.rels) {
				t.Fatalf("in place: %d records, relations %v; by Flow: %d, %v", len(r.seq), r.rels, len(f.seq), f.rels)
			}
			if len(r.at) != tc.n/tc.every || fmt.Sprint(r.at) != fmt.Sprint(f.at) {
				t.Fatalf("answers seen after %v records in place, after %v by Flow", r.at, f.at)
			}
			if fmt.Sprint(counts[0]) != fmt.Sprint(counts[1]) || counts[1][flow.CountRecords] != int64(tc.n) {
				t.Fatalf("counts in place %v, by Flow %v", counts[1], counts[0])
			}
		})
	}
}
