package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/scan"
)

// List returns jobs, newest first.
func (c *Client) List(ctx context.Context, o ListOptions) ([]Job, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = 100
	}
	p := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(min(limit, 10000))
	if len(o.Kinds) > 0 {
		p = p.Kinds(o.Kinds...)
	}
	if len(o.States) > 0 {
		states := make([]rivertype.JobState, len(o.States))
		for i, s := range o.States {
			states[i] = rivertype.JobState(s)
		}
		p = p.States(states...)
	}
	res, err := c.river.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]Job, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		j, err := c.view(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// Get returns job id (ErrNotFound when there is none).
func (c *Client) Get(ctx context.Context, id int64) (Job, error) {
	r, err := c.river.JobGet(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	return c.view(ctx, r)
}

// Cancel cancels job id: one not yet running never runs; a running one is
// cancelled on its worker (its results so far stay stored) and not retried.
func (c *Client) Cancel(ctx context.Context, id int64) (Job, error) {
	r, err := c.river.JobCancel(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("cancel job %d: %w", id, err)
	}
	return c.view(ctx, r)
}

func (c *Client) view(ctx context.Context, r *rivertype.JobRow) (Job, error) {
	j := Job{
		ID: r.ID, Kind: r.Kind, State: string(r.State), Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Args: json.RawMessage(r.EncodedArgs), CreatedAt: r.CreatedAt, AttemptedAt: r.AttemptedAt,
		FinalizedAt: r.FinalizedAt, ScheduledAt: r.ScheduledAt, AttemptedBy: r.AttemptedBy,
	}
	for _, e := range r.Errors {
		j.Errors = append(j.Errors, e.Error)
	}
	run, err := jobRun(ctx, c.st, r.ID)
	if err != nil {
		return j, err
	}
	j.Run = run
	if r.Kind == spec.KindScan {
		var a ScanArgs
		if err := json.Unmarshal(r.EncodedArgs, &a); err == nil && a.Group != 0 {
			if j.Lost, err = lostShards(ctx, c.st, a.Group); err != nil {
				return j, err
			}
		}
	}
	if run != 0 && r.Kind == spec.KindScan {
		if cp, err := scan.CheckpointOf(ctx, c.st, run); err == nil {
			j.Progress = &Progress{Done: cp.Checkpoint.Position - uint64(len(cp.Checkpoint.Pending)), Total: cp.Checkpoint.Steps}
		}
	}
	return j, nil
}
