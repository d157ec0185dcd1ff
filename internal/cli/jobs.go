package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iotwatch/internal/audit"
	"iotwatch/internal/jobs"
	"iotwatch/internal/scan"
)

// scanRequestFlags are the flags of a scan submitted as jobs (`jobs submit
// scan`, `schedule add … -- scan`): the scan command's, plus shards and the
// audit of what each shard finds.
type scanRequestFlags struct {
	req                             jobs.ScanRequest
	communities                     string
	audit                           bool
	maxAttempts, perHost, auditConc int
	auditDelay, auditTimeout        time.Duration
	auditAll                        bool
	rateSet                         func() bool
	rate                            int
}

func (f *scanRequestFlags) register(fl *pflag.FlagSet) {
	r := &f.req
	fl.StringVarP(&r.Ports, "ports", "p", "", "ports to scan, or demo: the simulated fleet's, as make demo scans (default: built-in IoT list)")
	fl.IntVar(&r.Shards, "shards", 1, "split the scan into N shard jobs (zmap-style shards of the permuted space)")
	fl.IntVar(&f.rate, "rate", scan.DefaultRate, "new probes per second of each shard (0: unlimited; a worker's --rate caps its shards)")
	fl.BoolVar(&r.AllowLarge, "allow-large", false, "allow a scan of more than a /8 of public addresses (also needs --rate)")
	fl.IntVar(&r.Concurrency, "concurrency", 1000, "simultaneous probes of each shard")
	fl.DurationVar(&r.Timeout, "timeout", 5*time.Second, "per-probe handshake timeout")
	fl.StringSliceVar(&r.Blocklist, "blocklist", nil, "extra blocklist file(s) in zmap format (paths on the workers)")
	fl.StringSliceVar(&r.Allowlist, "allowlist", nil, "allowlist file(s) in zmap format (paths on the workers)")
	fl.BoolVar(&r.NoDefaultBlocklist, "no-default-blocklist", false, "do not apply the built-in never-valid blocklist")
	fl.Uint64Var(&r.Seed, "seed", 0, "seed of the random order (0: random, shared by the shards)")
	fl.StringVar(&f.communities, "communities", "public", "SNMP communities to try, comma-separated")
	fl.BoolVar(&r.DiscoveryOnly, "discovery-only", false, "connect scan only: open ports, no handshakes")
	fl.BoolVar(&f.audit, "audit", false, "audit the login surfaces each shard finds (a job per finished shard)")
	fl.IntVar(&f.maxAttempts, "max-attempts", audit.DefaultMaxAttempts, "audit: login attempts per service at most")
	fl.IntVar(&f.perHost, "per-host", audit.DefaultPerHost, "audit: concurrent attempts per host (kept across workers)")
	fl.IntVar(&f.auditConc, "audit-concurrency", audit.DefaultConcurrency, "audit: hosts audited at once by one batch")
	fl.DurationVar(&f.auditDelay, "delay", 0, "audit: pause between attempts on one service")
	fl.DurationVar(&f.auditTimeout, "audit-timeout", 10*time.Second, "audit: timeout of one attempt")
	fl.BoolVar(&f.auditAll, "all", false, "audit: keep trying after the first accepted credential")
	f.rateSet = func() bool { return fl.Changed("rate") }
}

// request returns the scan request of the flags and targets.
func (f *scanRequestFlags) request(targets []string) (jobs.ScanRequest, error) {
	r := f.req
	r.Targets = targets
	ports, err := namedPorts(r.Ports)
	if err != nil {
		return r, err
	}
	r.Ports = ports
	if r.Shards < 1 || f.rate < 0 || r.Concurrency < 0 || r.Timeout < 0 {
		return r, usageError{errors.New("--shards must be positive; --rate, --concurrency and --timeout not negative")}
	}
	switch {
	case !f.rateSet():
		r.Rate = 0 // the default, not a deliberate choice
	case f.rate == 0:
		r.Rate = -1 // unlimited
	default:
		r.Rate = f.rate
	}
	if f.communities != "" {
		r.Communities = strings.Split(f.communities, ",")
	}
	if f.audit {
		if f.maxAttempts <= 0 || f.perHost <= 0 || f.auditConc <= 0 || f.auditDelay < 0 || f.auditTimeout <= 0 {
			return r, usageError{errors.New("--max-attempts, --per-host, --audit-concurrency and --audit-timeout must be positive, --delay not negative")}
		}
		r.Audit = &jobs.AuditRequest{MaxAttempts: f.maxAttempts, PerHost: f.perHost, Concurrency: f.auditConc,
			Delay: f.auditDelay, Timeout: f.auditTimeout, All: f.auditAll}
	}
	return r, nil
}

// withJobs opens the store and a jobs client on it, runs do and closes them.
func (g *globals) withJobs(ctx context.Context, do func(*jobs.Client) error) error {
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := jobs.New(ctx, st)
	if err != nil {
		return err
	}
	c.SetLogger(g.log)
	return do(c)
}

// printJobsList prints a list as JSON Lines, or as a table of header and
// one row per element.
func printJobsList[T any](g *globals, list []T, header string, row func(T) string) error {
	if g.json {
		return printJSONLines(g.out, list)
	}
	tw := newTable(g.out)
	fmt.Fprintln(tw, header)
	for _, x := range list {
		fmt.Fprintln(tw, row(x))
	}
	return tw.Flush()
}

// registerReportFlags adds the flags of a report build (jobs submit report,
// schedule add … -- report).
func registerReportFlags(fl *pflag.FlagSet, ra *jobs.ReportArgs) {
	fl.StringVar(&ra.Dir, "dir", "", "directory to write the report into (on the worker)")
	fl.StringSliceVar(&ra.Formats, "formats", nil, "report formats (default html,json)")
	fl.StringVar(&ra.Title, "title", "", "report title")
}

// jobsError maps the jobs package's request errors to usage errors.
func jobsError(err error) error {
	if errors.Is(err, jobs.ErrBadRequest) || errors.Is(err, jobs.ErrExists) {
		return usageError{err}
	}
	return err
}

func newJobsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Submit, list, show and cancel jobs run by `iotwatch worker` processes",
		Example: `  iotwatch jobs submit scan 10.0.0.0/16 --shards 64 --rate 5000 --audit --db postgres://…
  iotwatch jobs list --db postgres://…
  iotwatch jobs show 42 --json`,
		Long: `Jobs run iotwatch's stages on any number of worker processes (iotwatch worker) sharing one
database; River (riverqueue.com) keeps the jobs in that database. A sharded scan becomes one job
per shard; each finished shard enqueues the vulnerability match of what it found and, with
--audit, the last one the audit of the login surfaces split by host into a batch per shard. States are River's: available, scheduled,
running, retryable (failed, will retry), completed, cancelled, discarded (out of attempts).`,
	}
	cmd.AddCommand(newJobsSubmitCmd(g), newJobsListCmd(g), newJobsShowCmd(g), newJobsCancelCmd(g))
	return cmd
}

func newJobsSubmitCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit a scan, a vulnerability rematch, a firmware analysis, a report build or a flows ingest",
		Example: `  iotwatch jobs submit scan 127.20.0.0/24 --shards 8 --audit -p 22,23,80
  iotwatch jobs submit vulns
  iotwatch jobs submit firmware /srv/images/fw.bin
  iotwatch jobs submit report --dir /srv/reports/today
  iotwatch jobs submit flows --pcap /srv/captures/`,
	}
	var (
		sf     scanRequestFlags
		asUser string
	)
	scanCmd := &cobra.Command{
		Use:   "scan TARGET...",
		Short: "Submit a scan split into --shards jobs (and their audits with --audit)",
		Example: `  iotwatch jobs submit scan 10.0.0.0/16 --shards 64 --rate 2000 --audit
  iotwatch jobs submit scan 10.20.0.0/24 --as bob`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := sf.request(args)
			if err != nil {
				return err
			}
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
				done, err := actAs(cmd.Context(), c.Store(), asUser, "job.submit", req.Targets)
				if err != nil {
					return err
				}
				sub, err := c.SubmitScan(cmd.Context(), req)
				if err != nil {
					return jobsError(err)
				}
				if err := done(fmt.Sprintf("scan run %d, jobs %s", sub.Group, joinIDs(sub.Jobs))); err != nil {
					return err
				}
				if g.json {
					return printJSONLines(g.out, []jobs.Submitted{sub})
				}
				fmt.Fprintf(g.out, "submitted scan (run %d) as %d shard jobs: %s\n", sub.Group, len(sub.Jobs), joinIDs(sub.Jobs))
				return nil
			})
		},
	}
	sf.register(scanCmd.Flags())
	scanCmd.Flags().StringVar(&asUser, "as", "", "submit as this console user: refused (and audit-logged) unless an operator whose scopes hold every target")
	one := func(use, short, example string, args cobra.PositionalArgs, submit func(ctx context.Context, c *jobs.Client, args []string) (int64, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Example: example, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
					id, err := submit(cmd.Context(), c, args)
					if err != nil {
						return jobsError(err)
					}
					if g.json {
						return printJSONLines(g.out, []map[string]int64{{"id": id}})
					}
					fmt.Fprintf(g.out, "submitted job %d\n", id)
					return nil
				})
			},
		}
	}
	vulnsCmd := one("vulns", "Submit a match of the stored inventory against the vulnerability database",
		"  iotwatch jobs submit vulns", cobra.NoArgs,
		func(ctx context.Context, c *jobs.Client, _ []string) (int64, error) { return c.SubmitVulns(ctx) })
	var noVulns bool
	fwCmd := one("firmware IMAGE", "Submit the analysis of a firmware image (a path on the workers)",
		"  iotwatch jobs submit firmware /srv/images/fw.bin", cobra.ExactArgs(1),
		func(ctx context.Context, c *jobs.Client, args []string) (int64, error) {
			return c.SubmitFirmware(ctx, args[0], !noVulns)
		})
	fwCmd.Flags().BoolVar(&noVulns, "no-vulns", false, "do not match the components against the vulnerability database")
	var ra jobs.ReportArgs
	reportCmd := one("report", "Submit a report build into a directory (on the worker)",
		"  iotwatch jobs submit report --dir /srv/reports/today --formats html,json", cobra.NoArgs,
		func(ctx context.Context, c *jobs.Client, _ []string) (int64, error) {
			if ra.Dir == "" {
				return 0, usageError{errors.New("report: --dir is required")}
			}
			return c.SubmitReport(ctx, ra)
		})
	registerReportFlags(reportCmd.Flags(), &ra)
	var (
		fa     jobs.FlowsArgs
		inputs = map[string]*[]string{}
	)
	flowsCmd := one("flows (--pcap FILE | --zeek FILE | --nfdump-csv FILE | --netflow-pcap FILE)...",
		"Submit the ingest of flow telemetry files as one stream (paths on the worker; see flows ingest)",
		"  iotwatch jobs submit flows --pcap demo-out/telemetry-day0.pcap\n  iotwatch jobs submit flows --nfdump-csv /srv/flows/today/ --continue edge-1", cobra.NoArgs,
		func(ctx context.Context, c *jobs.Client, _ []string) (int64, error) {
			a := fa
			for _, k := range []string{"pcap", "zeek", "nfdump-csv", "netflow-pcap"} {
				for _, p := range *inputs[k] {
					a.Sources = append(a.Sources, jobs.FlowSource{Kind: k, Path: p})
				}
			}
			if len(a.Sources) == 0 {
				return 0, usageError{errors.New("flows: give --pcap, --zeek, --nfdump-csv or --netflow-pcap (repeatable)")}
			}
			return c.SubmitFlows(ctx, a)
		})
	for _, k := range []string{"pcap", "zeek", "nfdump-csv", "netflow-pcap"} {
		inputs[k] = flowsCmd.Flags().StringArray(k, nil, k+" file or directory to ingest (repeatable; in order, one stream)")
	}
	flowsCmd.Flags().StringSliceVar(&fa.Networks, "networks", nil, "monitored networks (CIDRs) whose addresses are devices (default: private, CGNAT and link-local ranges)")
	flowsCmd.Flags().StringVar(&fa.Continue, "continue", "", "carry the detectors' state over from the last ingest of this stream name, and on to the next")
	cmd.AddCommand(scanCmd, vulnsCmd, fwCmd, reportCmd, flowsCmd)
	return cmd
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, " ")
}

func newJobsListCmd(g *globals) *cobra.Command {
	var o jobs.ListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List jobs, newest first",
		Example: "  iotwatch jobs list --state running,retryable\n  iotwatch jobs list --kind scan --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
				list, err := c.List(cmd.Context(), o)
				if err != nil {
					return err
				}
				return printJobsList(g, list, "ID\tKIND\tSTATE\tATTEMPT\tRUN\tPROGRESS\tCREATED\tARGS", func(j jobs.Job) string {
					return fmt.Sprintf("%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s", j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts,
						dash(j.Run), progress(j.Progress), j.CreatedAt.Local().Format("2006-01-02 15:04:05"), brief(j))
				})
			})
		},
	}
	cmd.Flags().StringSliceVar(&o.Kinds, "kind", nil, "only jobs of these kinds ("+strings.Join(jobs.Kinds, ", ")+")")
	cmd.Flags().StringSliceVar(&o.States, "state", nil, "only jobs in these states")
	cmd.Flags().IntVar(&o.Limit, "limit", 100, "how many jobs to list")
	return cmd
}

func dash(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func progress(p *jobs.Progress) string {
	if p == nil || p.Total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(p.Done)/float64(p.Total))
}

// brief summarises a job's arguments for the table.
func brief(j jobs.Job) string {
	s := string(j.Args)
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	return s
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("job id %q: want a positive number", s)}
	}
	return id, nil
}

func newJobsShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show one job: state, attempts, errors, run and progress",
		Example: "  iotwatch jobs show 42 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return jobAction(cmd, g, args[0], (*jobs.Client).Get)
		},
	}
}

func newJobsCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "cancel ID",
		Short:   "Cancel a job (a running one stops on its worker, keeping what it stored)",
		Example: "  iotwatch jobs cancel 42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return jobAction(cmd, g, args[0], (*jobs.Client).Cancel)
		},
	}
}

func jobAction(cmd *cobra.Command, g *globals, arg string, do func(*jobs.Client, context.Context, int64) (jobs.Job, error)) error {
	id, err := parseJobID(arg)
	if err != nil {
		return err
	}
	var j jobs.Job
	if err := g.withJobs(cmd.Context(), func(c *jobs.Client) (err error) {
		j, err = do(c, cmd.Context(), id)
		return err
	}); err != nil {
		return err
	}
	if g.json {
		return printJSONLines(g.out, []jobs.Job{j})
	}
	tw := newTable(g.out)
	fmt.Fprintf(tw, "id\t%d\nkind\t%s\nstate\t%s\nattempt\t%d of %d\nrun\t%s\nprogress\t%s\ncreated\t%s\n",
		j.ID, j.Kind, j.State, j.Attempt, j.MaxAttempts, dash(j.Run), progress(j.Progress), j.CreatedAt.Local().Format(time.RFC3339))
	if j.FinalizedAt != nil {
		fmt.Fprintf(tw, "finalized\t%s\n", j.FinalizedAt.Local().Format(time.RFC3339))
	}
	if len(j.AttemptedBy) > 0 {
		fmt.Fprintf(tw, "workers\t%s\n", strings.Join(j.AttemptedBy, " "))
	}
	fmt.Fprintf(tw, "args\t%s\n", j.Args)
	for _, l := range j.Lost {
		fmt.Fprintf(tw, "lost shard\t%d (job %d, %s): the scan's audit and run cover the other shards\n", l.Shard, l.Job, l.State)
	}
	for _, e := range j.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	return tw.Flush()
}
