package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/scan"
	"iotwatch/internal/store"
)

// WorkOptions tune a worker.
type WorkOptions struct {
	// Concurrency bounds the jobs of each kind run at once (missing kinds:
	// DefaultConcurrency; 0 turns a kind off on this worker).
	Concurrency map[string]int
	// Rate is this worker's share of the global probe rate (probes per
	// second over all its scan shards, split evenly among its scan slots);
	// 0: each shard runs at its request's rate. The cluster's rate is the
	// sum of its workers' Rate.
	Rate int
	// JobTimeout is how long a job may run before its context is cancelled
	// and it is retried (0: DefaultJobTimeout).
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before River's leader
	// takes its worker for dead (killed, cut off) and retries the job
	// elsewhere; it must exceed JobTimeout (0: JobTimeout + RescueMargin).
	RescueAfter time.Duration
	// Grace is how long in-flight jobs may take to finish when the worker
	// stops (ctx ends); then they are cancelled and released for retry
	// (0: 30 s).
	Grace time.Duration
	// ScheduleEvery is how often the worker reloads the schedules from the
	// database and settles the scans whose last shard was discarded or
	// cancelled (0: 5 s).
	ScheduleEvery time.Duration
	// PollEvery is how often River looks for new jobs without a
	// notification (SQLite has none; 0: River's 1 s).
	PollEvery time.Duration
	// ID names the worker in River (a job's attempted_by); empty: host name
	// and start time.
	ID string
	// Started, when set, is called once the worker is working.
	Started func()
}

type worker struct {
	c    *Client
	opts WorkOptions
	// engine is built once and shared by the worker's scan shards (Recog's
	// fingerprints take most of a second to load).
	engine func() (*fingerprint.Engine, error)
}

// scanRate is the rate of one scan shard on this worker: the request's
// (per shard, as `scan --shard`), at most this worker's share.
func (w *worker) scanRate(req int) int {
	slots := w.opts.Concurrency[spec.KindScan]
	if w.opts.Rate <= 0 || slots <= 0 {
		return req
	}
	share := max(w.opts.Rate/slots, 1)
	switch {
	case req == 0 && share < scan.DefaultRate, req < 0, req > share:
		return share
	}
	return req
}

// Work runs jobs until ctx ends, then stops: jobs in flight get
// opts.Grace to finish, then are cancelled and released for retry.
func (c *Client) Work(ctx context.Context, opts WorkOptions) error {
	conc := maps.Clone(DefaultConcurrency)
	maps.Copy(conc, opts.Concurrency)
	opts.Concurrency = conc
	w := &worker{c: c, opts: opts}
	w.engine = sync.OnceValues(func() (*fingerprint.Engine, error) {
		return fingerprint.New(fingerprint.Options{Logger: c.log})
	})

	workers := river.NewWorkers()
	river.AddWorker(workers, &scanWorker{c: c, w: w})
	river.AddWorker(workers, &auditWorker{c: c, w: w})
	river.AddWorker(workers, &vulnsWorker{c: c})
	river.AddWorker(workers, &firmwareWorker{c: c})
	river.AddWorker(workers, &reportWorker{c: c})
	river.AddWorker(workers, &scheduleWorker{c: c})
	river.AddWorker(workers, &flowsWorker{c: c})
	queues := map[string]river.QueueConfig{}
	for k, n := range conc {
		if n > 0 {
			queues[k] = river.QueueConfig{MaxWorkers: n}
		}
	}
	if len(queues) == 0 {
		return errors.New("worker: every kind has concurrency 0")
	}

	var pool *pgxpool.Pool
	if c.st.Dialect() == store.Postgres {
		cfg, err := pgxpool.ParseConfig(c.st.DSN())
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		cfg.MinConns, cfg.MaxConns = 0, 1 // LISTEN only (riverdatabasesql.NewWithPgxListener)
		if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		defer pool.Close()
	}
	timeout := cmp.Or(opts.JobTimeout, DefaultJobTimeout)
	rescue := cmp.Or(opts.RescueAfter, timeout+RescueMargin)
	if rescue <= timeout {
		return fmt.Errorf("worker: the rescue delay (%s) must exceed the job timeout (%s)", rescue, timeout)
	}
	client, err := river.NewClient(c.driver(pool), &river.Config{
		ID:                   opts.ID,
		Logger:               c.riverLog(),
		Queues:               queues,
		Workers:              workers,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: rescue,
		FetchPollInterval:    opts.PollEvery,
		FetchCooldown:        min(opts.PollEvery, river.FetchCooldownDefault),
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// River's own context is not ctx: a signal stops it through Stop, so
	// that jobs in flight get their grace period.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	if err := client.Start(runCtx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	sched := newSchedules(c, client)
	if err := sched.sync(ctx); err != nil {
		c.log.Warn("schedules not loaded", "err", err)
	}
	if opts.Started != nil {
		opts.Started()
	}
	every := opts.ScheduleEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if err := sched.sync(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("schedules not reloaded", "err", err)
			}
			if err := c.sweep(ctx, client); err != nil && ctx.Err() == nil {
				c.log.Warn("scans not settled", "err", err)
			}
		}
	}
	grace := opts.Grace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := client.Stop(stopCtx); err == nil {
		return nil
	}
	c.log.Warn("jobs still running after the grace period: cancelled, released for retry", "grace", grace)
	hard, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelHard()
	if err := client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("worker stop: %w", err)
	}
	return nil
}
