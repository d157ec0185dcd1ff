package jobs

import (
	"context"

	"github.com/riverqueue/river"
)

// SetShardFault makes every attempt of a scan shard call f first; an error
// fails the attempt. Reset with nil.
func SetShardFault(f func(ctx context.Context, shard, attempt int) error) {
	if f == nil {
		shardFault = nil
		return
	}
	shardFault = func(ctx context.Context, job *river.Job[ScanArgs]) error {
		return f(ctx, job.Args.Shard, job.Attempt)
	}
}
