package web

import (
	"context"
	"strings"
	"testing"

	"iotwatch/internal/jobs/spec"
)

// lostQueue is the console's job queue with one scan shard job whose scan
// lost two shards.
type lostQueue struct{ JobQueue }

func (q lostQueue) Get(ctx context.Context, id int64) (spec.Job, error) {
	if id != 7 {
		return q.JobQueue.Get(ctx, id)
	}
	return spec.Job{ID: 7, Kind: spec.KindScan, State: "completed", Args: []byte(`{"request":{"targets":["127.78.1.0/26"]}}`),
		Lost: []spec.LostShard{{Shard: 1, Job: 8, State: "discarded"}, {Shard: 2, Job: 9, State: "cancelled"}}}, nil
}

// TestJobPageLostShards checks that a scan job's page names the shards the
// scan lost, each with its job and how it ended, and says the audit and the
// run cover the others; a job with none shows no such line.
func TestJobPageLostShards(t *testing.T) {
	c := newConsole(t, Options{})
	c.srv.opts.Jobs = lostQueue{c.srv.opts.Jobs}
	op := bearer(c.tokens["operator"])
	res, body := c.do(t, "GET", "/jobs/7", nil, op)
	if res.StatusCode != 200 {
		t.Fatalf("GET /jobs/7: %d %s", res.StatusCode, body)
	}
	for _, want := range []string{
		`<dt>lost shard</dt><dd>1 (<a href="/jobs/8">#8</a>, discarded)`,
		`<dt>lost shard</dt><dd>2 (<a href="/jobs/9">#9</a>, cancelled)`,
		"the scan's audit and run cover the other shards",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %q:\n%s", want, body)
		}
	}
	res, body = c.do(t, "GET", "/jobs/1", nil, op)
	if res.StatusCode != 200 || strings.Contains(body, "lost shard") {
		t.Errorf("GET /jobs/1 (no lost shard): %d, names a lost shard: %v", res.StatusCode, strings.Contains(body, "lost shard"))
	}
}
