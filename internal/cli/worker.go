package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/jobs"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		conc                         string
		opts                         jobs.WorkOptions
		timeout, rescue, grace, poll time.Duration
		collect, networks            []string
		flush                        time.Duration
		retain                       string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run jobs (scan shards, audit batches, matches, firmware, reports, schedules) from the database",
		Example: `  iotwatch worker --db postgres://iotwatch@db/iotwatch --concurrency scan=2,audit=4 --rate 20000
  iotwatch worker --db /tmp/iotwatch.db
  iotwatch worker --db postgres://iotwatch@db/iotwatch --collect udp://0.0.0.0:2055 --networks 100.64.0.0/10
  iotwatch worker --db postgres://iotwatch@db/iotwatch --retain 400d`,
		Long: `worker runs the jobs submitted with "iotwatch jobs submit" and "iotwatch schedule" until
SIGTERM or SIGINT; start one on each machine that shares the database. Each kind of job has a
queue, worked by at most --concurrency KIND=N jobs at once here (default scan=1, audit=2,
vulns=1, firmware=1, report=1, schedule=1; 0 leaves a kind to other workers). --rate is this
worker's share of the global probe rate, split evenly among its scan slots: the cluster probes
at most the sum of its workers' --rate. On SIGTERM the jobs in flight get --grace to finish;
then they are cancelled and released for retry (a retried scan shard continues from its
checkpoint). A job running longer than --job-timeout is cancelled and retried (a shard carries on
from its checkpoint). A worker killed outright leaves its jobs running until River's leader
rescues them, --rescue-after after they started (checked every 30 s), and retries them elsewhere. Schedules are loaded from the database
by every worker; River's elected leader enqueues each once per period.

--collect udp://ADDR:PORT also runs a flow collector (NetFlow v5/v9, IPFIX, sFlow) in this worker, as
"flows ingest --listen" does: point one router (exporter) at one collector, as nfcapd is deployed; the
detectors keep each device's state in that collector, and every --flush it stores roll-ups, relations
and new alerts in the shared database, so the daily count of devices under unauthorized control is one
query over all collectors. --retain 400d prunes the day tables (see "iotwatch store prune") at start
and every 24 hours.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Concurrency, err = parseConcurrency(conc); err != nil {
				return usageError{err}
			}
			if opts.Rate < 0 || timeout < 0 || rescue < 0 || grace < 0 || poll < 0 {
				return usageError{errors.New("--rate, --job-timeout, --rescue-after, --grace and --poll must not be negative")}
			}
			if rescue == 0 {
				rescue = timeout + jobs.RescueMargin
			}
			if rescue <= timeout {
				return usageError{fmt.Errorf("--rescue-after %s must exceed --job-timeout %s", rescue, timeout)}
			}
			opts.JobTimeout, opts.RescueAfter, opts.Grace, opts.PollEvery = timeout, rescue, grace, poll
			var addrs []string
			for _, c := range collect {
				a, ok := strings.CutPrefix(c, "udp://")
				if !ok {
					return usageError{fmt.Errorf("--collect: want udp://ADDR:PORT, got %q", c)}
				}
				addrs = append(addrs, a)
			}
			var keep time.Duration
			if retain != "" {
				if keep, err = store.ParseRetention(retain); err != nil {
					return usageError{fmt.Errorf("--retain: %w", err)}
				}
			}
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
				opts.Started = func() {
					g.log.Info("worker started", "db", c.Store().Dialect(), "concurrency", conc, "rate", opts.Rate)
				}
				// Collectors and retention run beside the jobs; the first to
				// fail stops the worker.
				ctx, cancel := context.WithCancelCause(cmd.Context())
				defer cancel(nil)
				var wg sync.WaitGroup
				for _, a := range addrs {
					wg.Go(func() {
						_, err := stage.Collect(ctx, c.Store(), a, flush, ingest.Options{Networks: networks, Log: g.log.With("collector", a)})
						if err != nil && ctx.Err() == nil {
							cancel(fmt.Errorf("collector %s: %w", a, err))
						}
					})
				}
				if keep > 0 {
					wg.Go(func() { pruneDaily(ctx, g, c.Store(), keep) })
				}
				err := c.Work(ctx, opts)
				cancel(nil)
				wg.Wait()
				if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
					return cause
				}
				if err != nil {
					return err
				}
				g.log.Info("worker stopped")
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&conc, "concurrency", "", "jobs of each kind run at once: KIND=N,… (kinds: "+strings.Join(jobs.Kinds, ", ")+")")
	fl.IntVar(&opts.Rate, "rate", 0, "this worker's probes per second over all its scan shards (0: each shard's own rate)")
	fl.DurationVar(&timeout, "job-timeout", jobs.DefaultJobTimeout, "cancel and retry a job that has run this long (a scan shard resumes from its checkpoint)")
	fl.DurationVar(&rescue, "rescue-after", 0, "retry a job elsewhere when it has run this long, its worker presumed dead (default: --job-timeout + 15m)")
	fl.DurationVar(&grace, "grace", 30*time.Second, "on SIGTERM, how long jobs in flight may take to finish before they are released")
	fl.StringVar(&opts.ID, "id", "", "name of this worker in the jobs it runs (default: host name and start time)")
	fl.DurationVar(&poll, "poll", 0, "how often to look for jobs without a notification (default 1s; SQLite has no notifications)")
	fl.StringArrayVar(&collect, "collect", nil, "also run a flow collector on udp://ADDR:PORT (repeatable; one exporter per collector)")
	fl.DurationVar(&flush, "flush", ingest.DefaultFlushEvery, "with --collect: store roll-ups and alerts this often")
	fl.StringSliceVar(&networks, "networks", nil, "with --collect: monitored networks, CIDRs (default: private, CGNAT and link-local ranges)")
	fl.StringVar(&retain, "retain", "", "prune services, credentials and flow roll-ups older than this (400d) at start and daily")
	return cmd
}

// parseConcurrency reads KIND=N,… into a map.
func parseConcurrency(s string) (map[string]int, error) {
	out := map[string]int{}
	if s == "" {
		return out, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("--concurrency %q: want KIND=N with N >= 0", item)
		}
		if _, known := jobs.DefaultConcurrency[k]; !known {
			return nil, fmt.Errorf("--concurrency: unknown kind %q (kinds: %s)", k, strings.Join(jobs.Kinds, ", "))
		}
		out[k] = n
	}
	return out, nil
}

// pruneDaily applies retention now and every 24 hours until ctx ends; a
// failed prune is logged and tried again the next day.
func pruneDaily(ctx context.Context, g *globals, st *store.Store, keep time.Duration) {
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		res, err := st.Prune(ctx, time.Now(), keep)
		if err != nil {
			g.log.Error("retention", "err", err)
		} else {
			g.log.Info("retention", "kept_from", res.Before, "partitions_dropped", len(res.Dropped), "rows_deleted", res.Deleted)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
