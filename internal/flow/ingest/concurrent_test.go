package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
	"iotwatch/internal/testpeer"
)

// TestConcurrentIngestSameFile: two processes (two stores on one database)
// ingest the same file at the same time. Whichever stores it first, the
// file's records are stored once: the other run stores nothing from its
// read, and, when it had read the file before the first stored it, says
// so and reads again (skipping the file). Several rounds, so that both
// orders happen.
func TestConcurrentIngestSameFile(t *testing.T) {
	ctx := context.Background()
	csv := nfdumpCSV(20000)
	p := filepath.Join(t.TempDir(), "flows.csv")
	if err := os.WriteFile(p, csv, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dsn := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ref := backends.Open(t, dsn())
			if _, err := Run(ctx, ref, Source{NfdumpCSV, p}, Options{}); err != nil {
				t.Fatal(err)
			}
			want := storedTotals(t, ref)
			if want.flows == 0 {
				t.Fatal("nothing stored: the test tests nothing")
			}
			raced := 0
			for range 6 {
				d := dsn()
				sts := []*store.Store{backends.Open(t, d), backends.Open(t, d)}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, st := range sts {
					wg.Go(func() { _, errs[i] = Run(ctx, st, Source{NfdumpCSV, p}, Options{}) })
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("ingest %d: %v", i, err)
					}
				}
				if got := storedTotals(t, sts[0]); got != want {
					t.Fatalf("stored %+v, want %+v (one ingest's)", got, want)
				}
				runs, err := sts[0].Runs(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range runs {
					if r.Status == model.RunFailed {
						if !strings.Contains(r.Error, "ingested meanwhile by run") {
							t.Errorf("run %d failed: %s", r.ID, r.Error)
						}
						raced++
					}
				}
			}
			t.Logf("%d of 6 rounds read the file twice before either stored it", raced)
		})
	}
}
