package flow

import (
	"context"
	"errors"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store/backends"
)

// TestSaveInputIngestedMeanwhile: a result whose input another run recorded
// after this one read it is refused whole (nothing of it stored), naming
// that run; a result of other inputs is stored.
func TestSaveInputIngestedMeanwhile(t *testing.T) {
	ctx := context.Background()
	in := Input{Kind: "pcap", Path: "/captures/a.pcap", Size: 1234, SHA256: "5a6b", Time: time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)}
	other := in
	other.Path, other.SHA256 = "/captures/b.pcap", "7c8d"
	for name, st := range backends.Stores(t) {
		t.Run(name, func(t *testing.T) {
			save := func(ins ...Input) (int64, error) {
				run := &model.Run{Kind: RunKind}
				if err := st.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				return run.ID, Save(ctx, st, run.ID, &Result{Rollups: testRollups(t), Inputs: ins})
			}
			rows := func(run int64) (n int) {
				if err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT COUNT(*) FROM flow_devices WHERE run_id = ?`), run).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			first, err := save(in)
			if err != nil {
				t.Fatal(err)
			}
			if rows(first) == 0 {
				t.Fatal("the first result stored no row")
			}
			second, err := save(other, in)
			var taken *IngestedMeanwhileError
			if !errors.As(err, &taken) || taken.RunID != first || taken.Input.Path != in.Path {
				t.Fatalf("Save of an input recorded meanwhile: %v, want an IngestedMeanwhileError naming run %d and %s", err, first, in.Path)
			}
			if n := rows(second); n != 0 {
				t.Errorf("the refused result stored %d rows", n)
			}
			if got, err := IngestedInput(ctx, st, other.Kind, other.SHA256, other.Size); err != nil || got != nil {
				t.Errorf("the refused result's other input recorded: %+v, %v", got, err)
			}
			third, err := save(other)
			if err != nil || rows(third) == 0 {
				t.Errorf("a result of another input: %v, %d rows", err, rows(third))
			}
		})
	}
}
