package report

import (
	"context"
	"slices"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// TestResumedScanIsOneScan checks that the default report after a resumed
// scan covers the scan it continues too: 3 devices before the interruption
// and 4 after are 7 devices, not the resumed run's 4.
func TestResumedScanIsOneScan(t *testing.T) {
	stores := backends.Stores(t)
	for name, st := range stores {
		t.Run(name, func(t *testing.T) { resumedScanIsOneScan(t, st) })
	}
}

func resumedScanIsOneScan(t *testing.T, st *store.Store) {
	ctx := context.Background()
	open := func(i int) model.Service {
		return model.Service{IP: ip(i), Port: 23, Transport: model.TCP, Protocol: model.ProtoTelnet, Status: model.StatusSuccess, Time: at(i)}
	}
	parent := &model.Run{Kind: "scan", Targets: []string{"127.20.0.0/28"}, StartedAt: at(1)}
	must(t, st.StartRun(ctx, parent))
	must(t, st.SaveServices(ctx, parent.ID, []model.Service{open(1), open(2), open(3)}))
	parent.Status = model.RunInterrupted
	must(t, st.FinishRun(ctx, parent))
	resumed := &model.Run{Kind: "scan", Targets: parent.Targets, StartedAt: at(5)}
	must(t, st.StartRun(ctx, resumed))
	must(t, st.SetRunParent(ctx, resumed.ID, parent.ID))
	must(t, st.SaveServices(ctx, resumed.ID, []model.Service{open(3), open(4), open(5), open(6), open(7)}))
	resumed.Status = model.RunComplete
	must(t, st.FinishRun(ctx, resumed))

	for name, in := range map[string]Inputs{"default": {}, "resumed run": {RunIDs: []int64{resumed.ID}}, "parent run": {RunIDs: []int64{parent.ID}}} {
		r, err := Build(ctx, st, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Summary.Devices != 7 || r.Summary.Services != 7 || len(r.Runs) != 2 || r.Runs[1].Parent != parent.ID {
			t.Errorf("%s: %d devices, %d services, runs %+v; want 7, 7 and both runs", name, r.Summary.Devices, r.Summary.Services, r.Runs)
		}
	}
}

// TestFirmwareBeforeScanCovered checks that the default report covers the
// firmware analysed before the newest scan (the newest complete analysis of
// each image, as the demo and the jobs walk-through analyse images before
// their audit) and nothing older than the scan otherwise.
func TestFirmwareBeforeScanCovered(t *testing.T) {
	for name, st := range backends.Stores(t) {
		t.Run(name, func(t *testing.T) { firmwareBeforeScanCovered(t, st) })
	}
}

func firmwareBeforeScanCovered(t *testing.T, st *store.Store) {
	ctx := context.Background()
	run := func(kind, target, status string, i int) int64 {
		r := &model.Run{Kind: kind, Targets: []string{target}, StartedAt: at(i)}
		must(t, st.StartRun(ctx, r))
		if kind == "scan" {
			must(t, st.SaveServices(ctx, r.ID, []model.Service{{IP: ip(1), Port: 23, Transport: model.TCP,
				Protocol: model.ProtoTelnet, Status: model.StatusSuccess, Time: at(i)}}))
		}
		r.Status = status
		must(t, st.FinishRun(ctx, r))
		return r.ID
	}
	oldScan := run("scan", "127.20.0.0/28", model.RunComplete, 1)
	_ = run("firmware", "a.bin", model.RunComplete, 2) // superseded by the next analysis of a.bin
	fwA := run("firmware", "a.bin", model.RunComplete, 3)
	fwB := run("firmware", "b.bin", model.RunComplete, 4)
	_ = run("firmware", "c.bin", model.RunFailed, 5)
	scan := run("scan", "127.20.0.0/28", model.RunComplete, 6)
	audit := run("audit", "127.20.0.0/28", model.RunComplete, 7)
	runs, err := ResolveRuns(ctx, st, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if want := []int64{fwA, fwB, scan, audit}; !slices.Equal(got, want) {
		t.Errorf("default report covers runs %v, want %v (not the old scan %d, the superseded or the failed analysis)", got, want, oldScan)
	}
}
