package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/jobs"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		conc                         string
		opts                         jobs.WorkOptions
		timeout, rescue, grace, poll time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run jobs (scan shards, audit batches, matches, firmware, reports, schedules) from the database",
		Example: `  iotwatch worker --db postgres://iotwatch@db/iotwatch --concurrency scan=2,audit=4 --rate 20000
  iotwatch worker --db /tmp/iotwatch.db`,
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
by every worker; River's elected leader enqueues each once per period.`,
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
			c, closeDB, err := g.openJobs(cmd.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			opts.Started = func() {
				g.log.Info("worker started", "db", c.Store().Dialect(), "concurrency", conc, "rate", opts.Rate)
			}
			if err := c.Work(cmd.Context(), opts); err != nil {
				return err
			}
			g.log.Info("worker stopped")
			return nil
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
