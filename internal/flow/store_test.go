package flow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"iotwatch/internal/model"
	"iotwatch/internal/store/backends"
)

// TestPipeDevices: the rows pipeDevices hands over, encoded in goroutines
// of their own (one, or two each with a part of the devices), are those
// encodeDevices makes, each part's in order; an insert error, an encoder
// error or the context's end stop all sides, and the encoder goroutines
// are gone when pipeDevices returns.
func TestPipeDevices(t *testing.T) {
	var want []string
	var devs []netip.Addr
	if err := encodeDevices(testRollups(t), func(d *deviceRow) error {
		want = append(want, rowString(d))
		devs = append(devs, d.device)
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
	for _, parts := range []int{1, 2} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%d parts/%s", parts, tc.name), func(t *testing.T) {
				if parts > 1 {
					defer func(n int) { splitMin = n }(splitMin)
					splitMin = 0
				}
				split := splitDevices(testRollups(t))
				if len(split) != parts {
					t.Fatalf("%d parts, want %d", len(split), parts)
				}
				// The rows of the first part are want[:first].
				first := len(want)
				if parts > 1 {
					last := slices.MaxFunc(split[0].hours, func(a, b Hourly) int { return a.Device.Compare(b.Device) }).Device
					first = slices.IndexFunc(devs, func(d netip.Addr) bool { return d.Compare(last) > 0 })
					if first <= 0 {
						t.Fatalf("first part ends at row %d", first)
					}
				}
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
				// Each part's rows come in want's order.
				prev := [2]int{-1, first - 1}
				for _, row := range got {
					i := slices.Index(want, row)
					if i < 0 {
						t.Fatalf("row not encoded by encodeDevices:\n%s", row)
					}
					p := 0
					if i >= first {
						p = 1
					}
					if i <= prev[p] {
						t.Errorf("row %d (part %d) after row %d", i, p+1, prev[p])
					}
					prev[p] = i
				}
				if len(got) == len(want) {
					slices.Sort(got)
					w := slices.Sorted(slices.Values(want))
					if !slices.Equal(got, w) {
						t.Errorf("rows differ from encodeDevices'")
					}
				}
				goleak.VerifyNone(t, ignore)
			})
		}
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
