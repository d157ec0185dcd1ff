package stage_test

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// TestBatch: items commit in batches of Size, and what Flush commits with
// them lands in the same transaction or, with them, not at all.
func TestBatch(t *testing.T) {
	for name, newDB := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, newDB("batch"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			run, err := stage.Start(ctx, st, "scan", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := stage.NewBatch(st, func(ctx context.Context, tx *sql.Tx, svcs []model.Service) error {
				return st.SaveServicesTx(ctx, tx, run.ID, svcs)
			})
			b.Size = 100
			stored := func() int {
				svcs, err := st.Services(ctx, run.ID)
				if err != nil {
					t.Fatal(err)
				}
				return len(svcs)
			}
			for i := range 250 {
				s := model.Service{IP: netip.AddrFrom4([4]byte{127, 0, byte(i / 200), byte(i % 200)}), Port: 22, Transport: model.TCP, Status: model.StatusSuccess}
				if err := b.Add(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			if got := stored(); got != 200 || b.Saved() != 200 {
				t.Fatalf("after 250 adds: %d stored, %d saved; want 200 (two batches of 100)", got, b.Saved())
			}
			boom := errors.New("checkpoint refused")
			if err := b.Flush(ctx, func(context.Context, *sql.Tx) error { return boom }); !errors.Is(err, boom) {
				t.Fatalf("flush with a failing companion: %v", err)
			}
			if got := stored(); got != 200 {
				t.Errorf("a failed companion write let %d of the batch through; want none", got-200)
			}
			marked := false
			err = b.Flush(ctx, func(ctx context.Context, tx *sql.Tx) error {
				marked = true
				_, err := tx.ExecContext(ctx, st.Rebind(`UPDATE runs SET error = ? WHERE id = ?`), "flushed", run.ID)
				return err
			})
			if err != nil || !marked {
				t.Fatalf("flush: %v", err)
			}
			if got := stored(); got != 250 || b.Saved() != 250 {
				t.Errorf("after the retry: %d stored, %d saved; want 250", got, b.Saved())
			}
			if err := run.Finish(ctx, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}
