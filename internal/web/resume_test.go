package web

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// TestResumedScanAPI checks that the API serves a resumed scan and the scan
// it continues as one logical scan, whichever of the two is asked for.
func TestResumedScanAPI(t *testing.T) {
	stores := backends.Stores(t)
	for name, st := range stores {
		t.Run(name, func(t *testing.T) { resumedScanAPI(t, st) })
	}
}

func resumedScanAPI(t *testing.T, st *store.Store) {
	ctx := context.Background()
	svc := func(i int) model.Service {
		return model.Service{IP: netip.AddrFrom4([4]byte{127, 21, 0, byte(i)}), Port: 23, Transport: model.TCP,
			Protocol: model.ProtoTelnet, Status: model.StatusSuccess}
	}
	parent := &model.Run{Kind: "scan"}
	must(t, st.StartRun(ctx, parent))
	must(t, st.SaveServices(ctx, parent.ID, []model.Service{svc(1), svc(2)}))
	parent.Status = model.RunInterrupted
	must(t, st.FinishRun(ctx, parent))
	resumed := &model.Run{Kind: "scan"}
	must(t, st.StartRun(ctx, resumed))
	must(t, st.SetRunParent(ctx, resumed.ID, parent.ID))
	must(t, st.SaveServices(ctx, resumed.ID, []model.Service{svc(3), svc(4), svc(5)}))
	resumed.Status = model.RunComplete
	must(t, st.FinishRun(ctx, resumed))

	srv := New(st, Options{})
	for _, id := range []int64{parent.ID, resumed.ID} {
		var svcs []model.Service
		decode(t, srv, fmt.Sprintf("/api/runs/%d/services", id), &svcs)
		if len(svcs) != 5 {
			t.Errorf("services of run %d: %d, want 5 (the logical scan)", id, len(svcs))
		}
		var rep struct {
			Summary struct{ Devices int } `json:"summary"`
		}
		decode(t, srv, fmt.Sprintf("/api/runs/%d/report", id), &rep)
		if rep.Summary.Devices != 5 {
			t.Errorf("report of run %d: %d devices, want 5", id, rep.Summary.Devices)
		}
	}
	if _, page := get(t, srv, "GET", "/runs"); !strings.Contains(page, fmt.Sprintf("(resumes #%d)", parent.ID)) {
		t.Errorf("runs page does not show run %d resuming run %d", resumed.ID, parent.ID)
	}
	var run model.Run
	decode(t, srv, fmt.Sprintf("/api/runs/%d", resumed.ID), &run)
	if run.Parent != parent.ID {
		t.Errorf("run %d parent = %d, want %d", resumed.ID, run.Parent, parent.ID)
	}
}
