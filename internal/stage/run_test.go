package stage

import (
	"context"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// TestStartAt: a run recorded as started days ago (the demo's simulated
// days) keeps that start, moves the times of its evidence and its end by
// the same offset, is not taken for abandoned by another process's store
// while it runs, and finishes complete.
func TestStartAt(t *testing.T) {
	for name, newDB := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := newDB()
			st, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			at := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
			run, err := StartAt(ctx, st, "demo", []string{"127.20.0.0/24"}, nil, at)
			if err != nil {
				t.Fatal(err)
			}
			if got := run.At(time.Now()); got.Before(at) || got.After(at.Add(time.Minute)) {
				t.Errorf("At(now) = %s, want just after %s", got, at)
			}
			if !run.At(time.Time{}).IsZero() {
				t.Error("At(zero) is not zero")
			}
			// Another store on the same database marks abandoned runs.
			other, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			n, err := other.MarkAbandoned(ctx)
			other.Close()
			if err != nil || n != 0 {
				t.Fatalf("MarkAbandoned = %d, %v: the run started at %s was taken for abandoned", n, err, at)
			}
			if err := run.Finish(ctx, nil); err != nil {
				t.Fatal(err)
			}
			got, err := st.Run(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != model.RunComplete || !got.StartedAt.Equal(at) || got.EndedAt.Before(at) || got.EndedAt.After(at.Add(time.Minute)) {
				t.Errorf("stored run: status %s, %s – %s; want complete, started %s and ended within a minute", got.Status, got.StartedAt, got.EndedAt, at)
			}
		})
	}
}
