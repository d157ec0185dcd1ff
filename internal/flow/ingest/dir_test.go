package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"iotwatch/internal/flow"
)

// TestDirectorySkipsOtherFiles: a capture directory that also holds a licence
// text and a binary nfdump file is ingested; the two are skipped and counted.
// Named on their own they are errors.
func TestDirectorySkipsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"ssh-bruteforce.pcap", "LICENSE.GPL-2.0.txt", "test1-malicious.nfdump"} {
		b, err := os.ReadFile(filepath.Join(data, n))
		if err != nil {
			t.Skip(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	for _, tc := range []struct {
		kind    Kind
		records int64
		skipped int64
	}{
		{PCAP, 116, 2},
		{NetflowPCAP, 0, 2}, // the brute-force capture holds no exporter datagrams, but is a pcap
		{Zeek, 0, 3},
		{NfdumpCSV, 0, 3},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			sum, err := RunAll(context.Background(), openStore(t), []Source{{tc.kind, dir}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Counts[flow.CountRecords] != tc.records || sum.Counts["inputs_not_recognised"] != tc.skipped || sum.Counts["inputs"] != 3 {
				t.Errorf("counts %v, want %d records, %d inputs not recognised of 3", sum.Counts, tc.records, tc.skipped)
			}
		})
	}
	if _, err := Run(context.Background(), openStore(t), Source{PCAP, filepath.Join(dir, "LICENSE.GPL-2.0.txt")}, Options{}); err == nil {
		t.Error("a licence named as a capture: no error")
	}
}
