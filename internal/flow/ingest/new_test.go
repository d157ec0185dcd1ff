package ingest

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"iotwatch/internal/flow"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// stored is what an ingest left in a store, in a comparable form.
func stored(t *testing.T, st *store.Store) ([]flow.Destination, []flow.PeerUse, []flow.StoredAlert) {
	t.Helper()
	ctx := context.Background()
	dst, err := flow.Destinations(ctx, st, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	uses, err := flow.PeerUses(ctx, st, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(uses, func(a, b flow.PeerUse) int {
		if c := a.Device.Compare(b.Device); c != 0 {
			return c
		}
		if c := a.Peer.Compare(b.Peer); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	alerts, err := flow.Alerts(ctx, st, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return dst, uses, alerts
}

// TestRunAllNew: an ingest into a new store that is created while the
// files are read stores what RunAll stores into a store opened first (the
// same run counts, relations, destinations and alerts), and a second one
// into the now filled store, which RunAllNew was told is new, sees that it
// is not and skips the input already ingested, as RunAll does.
func TestRunAllNew(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files, _, _ := splitBeacon(t, dir)
	srcs := []Source{{PCAP, dir}}

	want, err := RunAll(ctx, openStore(t), srcs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Alerts) == 0 {
		t.Fatal("the reference ingest raised no alert: nothing to compare")
	}
	path := filepath.Join(t.TempDir(), "new.db")
	opened := 0
	open := func(ctx context.Context) (*store.Store, error) {
		opened++
		return store.Open(ctx, path)
	}
	sum, st, err := RunAllNew(ctx, open, srcs, Options{})
	if st == nil {
		t.Fatalf("no store returned (%v)", err)
	}
	defer st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if opened != 1 {
		t.Errorf("store opened %d times, want once", opened)
	}
	if sum.Status != model.RunComplete || sum.Counts[flow.CountRecords] != want.Counts[flow.CountRecords] ||
		sum.Counts[flow.CountRollups] != want.Counts[flow.CountRollups] || len(sum.Alerts) != len(want.Alerts) {
		t.Errorf("new store: %s %v, %d alerts; want %s %v, %d alerts", sum.Status, sum.Counts, len(sum.Alerts), want.Status, want.Counts, len(want.Alerts))
	}
	ref := openStore(t)
	if _, err := RunAll(ctx, ref, srcs, Options{}); err != nil {
		t.Fatal(err)
	}
	d1, u1, a1 := stored(t, ref)
	d2, u2, a2 := stored(t, st)
	if len(u1) == 0 || !slices.Equal(d1, d2) || !slices.EqualFunc(u1, u2, func(a, b flow.PeerUse) bool {
		return a.Device == b.Device && a.Peer == b.Peer && a.Port == b.Port && a.Proto == b.Proto && a.Outbound == b.Outbound &&
			a.Flows == b.Flows && a.Bytes == b.Bytes && a.First.Equal(b.First) && a.Last.Equal(b.Last)
	}) || len(a1) != len(a2) {
		t.Errorf("stored: %d destinations, %d relations, %d alerts; want %d, %d, %d (the same)", len(d2), len(u2), len(a2), len(d1), len(u1), len(a1))
	}
	run, err := st.Run(ctx, sum.RunID)
	if err != nil || run.Status != model.RunComplete || len(run.Targets) != len(files) {
		t.Errorf("run %+v (%v)", run, err)
	}

	// The store is not new: what was read is dropped and read again
	// against what the store holds.
	again, st2, err := RunAllNew(ctx, func(context.Context) (*store.Store, error) { return st, nil }, srcs, Options{})
	if err != nil || st2 != st {
		t.Fatalf("second ingest: %v (store %p, want %p)", err, st2, st)
	}
	if again.Counts["inputs_skipped"] != int64(len(files)) || again.Counts[flow.CountRecords] != 0 {
		t.Errorf("second ingest into a store not new: counts %v, want %d inputs skipped and no record", again.Counts, len(files))
	}
	if _, u3, _ := stored(t, st); len(u3) != len(u2) {
		t.Errorf("after the second ingest: %d relations, want %d", len(u3), len(u2))
	}
}

// TestRunAllNewOpenFails: a store that cannot be opened stops the ingest
// with the open's error, stores nothing and leaves no goroutine behind.
func TestRunAllNewOpenFails(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	splitBeacon(t, dir)
	errOpen := errors.New("cannot open")
	sum, st, err := RunAllNew(context.Background(), func(context.Context) (*store.Store, error) { return nil, errOpen }, []Source{{PCAP, dir}}, Options{})
	if !errors.Is(err, errOpen) || st != nil || sum != nil {
		t.Errorf("RunAllNew = %v, %v, %v; want the open's error alone", sum, st, err)
	}
	if _, _, err := RunAllNew(context.Background(), nil, []Source{{Listen, "127.0.0.1:0"}}, Options{}); err == nil {
		t.Error("a listener into a new store: no error")
	}
	goleak.VerifyNone(t, ignore)
}
