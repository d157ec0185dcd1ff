package flow

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"iotwatch/internal/model"
	"iotwatch/internal/store/backends"
)

// TestPipeDevices: the rows pipeDevices hands over, encoded in a goroutine
// of their own, are those encodeDevices makes, in order; an insert error,
// an encoder error or the context's end stop both sides, and the encoder
// goroutine is gone when pipeDevices returns.
func TestPipeDevices(t *testing.T) {
	var want []string
	if err := encodeDevices(testRollups(t), func(d *deviceRow) error {
		want = append(want, rowString(d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 5 {
		t.Fatalf("%d rows: the test tests too little", len(want))
	}
	errInsert := errors.New("insert failed")
	tests := []struct {
		name       string
		cancelled  bool   // the context has ended before
		spillGone  bool   // the spill file cannot be read
		failAt     int    // insert fails at this row (1-based)
		cancelAt   int    // the caller's context ends at this row
		wantErr    error  // or:
		wantText   string // in the error
		wantInsert int
	}{
		{name: "all rows", wantInsert: len(want)},
		{name: "insert fails", failAt: 3, wantErr: errInsert, wantInsert: 3},
		{name: "context ends", cancelAt: 3, wantErr: context.Canceled, wantInsert: 3},
		{name: "context ended before", cancelled: true, wantErr: context.Canceled},
		{name: "spill file unreadable", spillGone: true, wantText: "relation spill file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRollups(t)
			if tc.spillGone {
				r.rel4.spill.f.Close()
			}
			ignore := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			var got []string
			err := pipeDevices(ctx, r, func(_ context.Context, d *deviceRow) error {
				got = append(got, rowString(d))
				if len(got) == tc.cancelAt {
					cancel()
				}
				if len(got) == tc.failAt {
					return errInsert
				}
				return nil
			})
			switch {
			case tc.wantText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("error %v, want one with %q", err, tc.wantText)
				}
			case !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if len(got) != tc.wantInsert {
				t.Errorf("%d rows inserted, want %d", len(got), tc.wantInsert)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("row %d:\n%s\nwant\n%s", i, got[i], want[i])
				}
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}

func rowString(d *deviceRow) string {
	return fmt.Sprintf("%s %v %d %d %d %d %d %s %s %x", d.device, d.known, d.firstHour, d.lastHour, d.flows, d.packets, d.bytes, d.countryDB, d.ownerDB, d.packed)
}

// TestSaveInsertFails: when an INSERT fails midway, Save reports it, stores
// nothing, and leaves no goroutine behind.
func TestSaveInsertFails(t *testing.T) {
	ctx := context.Background()
	st := backends.Open(t, filepath.Join(t.TempDir(), "f.db"))
	if _, err := st.DB().ExecContext(ctx, `CREATE TRIGGER fail BEFORE INSERT ON flow_devices WHEN NEW.device = '192.168.1.3'
		BEGIN SELECT RAISE(ABORT, 'no room for 192.168.1.3'); END`); err != nil {
		t.Fatal(err)
	}
	run := &model.Run{Kind: RunKind}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	r := testRollups(t)
	ignore := goleak.IgnoreCurrent()
	err := Save(ctx, st, run.ID, &Result{Rollups: r})
	if err == nil || !strings.Contains(err.Error(), "no room for 192.168.1.3") {
		t.Errorf("Save: %v, want the trigger's error", err)
	}
	goleak.VerifyNone(t, ignore)
	var n int
	if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM flow_devices`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows stored (%v), want none", n, err)
	}
}
