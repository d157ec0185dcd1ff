package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"iotwatch/internal/store"
)

// BenchmarkRunNetflowPCAP ingests the capture named by $FLOWBENCH_PCAP
// (written by bench/flows) end to end into a fresh SQLite store.
func BenchmarkRunNetflowPCAP(b *testing.B) {
	benchRun(b, NetflowPCAP, os.Getenv("FLOWBENCH_PCAP"))
}

// BenchmarkRunPCAP ingests the packet capture named by $FLOWBENCH_RAWPCAP
// (bench/flows/pcapgen) end to end: flow assembly from packets.
func BenchmarkRunPCAP(b *testing.B) {
	benchRun(b, PCAP, os.Getenv("FLOWBENCH_RAWPCAP"))
}

func benchRun(b *testing.B, kind Kind, path string) {
	if path == "" {
		b.Skip("set FLOWBENCH_PCAP or FLOWBENCH_RAWPCAP (see bench/flows)")
	}
	b.ReportAllocs()
	var recs int64
	for b.Loop() {
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
		if err != nil {
			b.Fatal(err)
		}
		sum, err := Run(context.Background(), st, Source{kind, path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		recs += sum.Counts["records"]
		st.Close()
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}
