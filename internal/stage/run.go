package stage

import (
	"context"
	"fmt"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// Run is one recorded invocation of one or more stages. A Run with no store
// (the caller asked not to record) runs the same and records nothing.
type Run struct {
	model.Run
	st *store.Store
	// shift moves every time recorded for the run (StartAt): zero for a
	// run recorded as it happens.
	shift time.Duration
}

// Start records the start of a run of kind on targets with the stages it
// will run. st may be nil: nothing is recorded and ID is 0.
func Start(ctx context.Context, st *store.Store, kind string, targets, stages []string) (*Run, error) {
	return start(ctx, &Run{Run: model.Run{Kind: kind, Targets: targets, Stages: stages}, st: st})
}

// StartAt is Start for a run recorded as started at at rather than now: a
// simulation of earlier days (the demo's rescans, one a simulated day).
// Every time the stages record for the run (the services' times, its end)
// moves by the same offset, so the store's series by day (trends, patch
// uptake, day partitions) put its evidence on at's day.
func StartAt(ctx context.Context, st *store.Store, kind string, targets, stages []string, at time.Time) (*Run, error) {
	return start(ctx, &Run{Run: model.Run{Kind: kind, Targets: targets, Stages: stages, StartedAt: at}, st: st, shift: time.Until(at)})
}

func start(ctx context.Context, r *Run) (*Run, error) {
	if r.st == nil {
		r.Status = model.RunRunning
		return r, nil
	}
	if err := r.st.StartRun(ctx, &r.Run); err != nil {
		return nil, err
	}
	return r, nil
}

// At is t on the run's clock: t itself, or t moved like the run's start
// (StartAt).
func (r *Run) At(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(r.shift)
}

// Resume returns the Run of r, a run recorded in st that this process
// carries on (reopened with store.ReopenRun: a job's retried attempt).
func Resume(st *store.Store, r model.Run) *Run { return &Run{Run: r, st: st} }

// Store returns the store the run is recorded in (nil: not recorded).
func (r *Run) Store() *store.Store { return r.st }

// Recorded reports whether the run is stored.
func (r *Run) Recorded() bool { return r.st != nil && r.ID != 0 }

// Count sets one of the run's counts.
func (r *Run) Count(name string, v int64) {
	if r.Counts == nil {
		r.Counts = map[string]int64{}
	}
	r.Counts[name] = v
}

// Finish records how the run ended: complete when err is nil, interrupted
// when its context was cancelled, failed otherwise (with err); see
// store.EndRun. It returns err joined with any error of its own.
func (r *Run) Finish(ctx context.Context, err error) error {
	if r.shift != 0 && r.EndedAt.IsZero() {
		r.EndedAt = r.At(time.Now())
	}
	if r.st == nil {
		r.Status = store.RunStatus(err)
		return err
	}
	return r.st.EndRun(ctx, &r.Run, err)
}

// String names the run for messages: "run 7, complete".
func (r *Run) String() string {
	if !r.Recorded() {
		return "not recorded"
	}
	return fmt.Sprintf("run %d, %s", r.ID, r.Status)
}
