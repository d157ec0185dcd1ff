package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iotwatch/internal/jobs"
)

func newScheduleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Add, list and remove recurring jobs (run by the workers once per period)",
		Example: `  iotwatch schedule add daily-scan --every 24h -- scan 10.0.0.0/16 --shards 64 --audit
  iotwatch schedule add nightly-report --every 24h -- report --dir /srv/reports
  iotwatch schedule list
  iotwatch schedule remove daily-scan`,
		Long: `Schedules are stored in the database; every worker loads them, and River's elected leader
enqueues each once per period (unique per period), however many workers are alive. What follows
"--" is what the schedule runs: "scan TARGET... [the flags of jobs submit scan]", "vulns" (the
stored inventory matched again) or "report --dir DIR [--formats F,…] [--title T]".`,
	}
	var (
		every  time.Duration
		asUser string
	)
	add := &cobra.Command{
		Use:     "add NAME --every DURATION -- scan|vulns|report ...",
		Short:   "Add a schedule",
		Example: "  iotwatch schedule add daily-scan --every 24h -- scan 10.0.0.0/16 --shards 64",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 1 {
				return usageError{errors.New("schedule add: NAME, then -- and what to run")}
			}
			s, err := parseScheduled(args[0], every, args[1:])
			if err != nil {
				return err
			}
			var targets []string
			if s.Scan != nil {
				targets = s.Scan.Targets
			} else if asUser != "" {
				return usageError{errors.New("--as applies to scan schedules")}
			}
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
				done, err := actAs(cmd.Context(), c.Store(), asUser, "schedule.add", targets)
				if err != nil {
					return err
				}
				if err := c.AddSchedule(cmd.Context(), s); err != nil {
					return jobsError(err)
				}
				if err := done(fmt.Sprintf("schedule %s every %s", s.Name, s.Every)); err != nil {
					return err
				}
				fmt.Fprintf(g.errOut, "schedule %s: %s every %s\n", s.Name, s.Kind(), s.Every)
				return nil
			})
		},
	}
	add.Flags().DurationVar(&every, "every", 0, "period (at least 1s)")
	add.Flags().StringVar(&asUser, "as", "", "add as this console user: refused (and audit-logged) unless an operator whose scopes hold every target")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the schedules",
		Example: "  iotwatch schedule list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error {
				ss, err := c.ListSchedules(cmd.Context())
				if err != nil {
					return err
				}
				return printJobsList(g, ss, "NAME\tEVERY\tRUNS\tWHAT", func(s jobs.Schedule) string {
					what := ""
					switch {
					case s.Scan != nil:
						what = fmt.Sprintf("%s (%d shards)", strings.Join(s.Scan.Targets, " "), s.Scan.Shards)
					case s.Report != nil:
						what = s.Report.Dir
					}
					return fmt.Sprintf("%s\t%s\t%s\t%s", s.Name, s.Every, s.Kind(), what)
				})
			})
		},
	}
	remove := &cobra.Command{
		Use:     "remove NAME",
		Short:   "Remove a schedule",
		Example: "  iotwatch schedule remove daily-scan",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withJobs(cmd.Context(), func(c *jobs.Client) error { return c.RemoveSchedule(cmd.Context(), args[0]) })
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

// parseScheduled reads what a schedule runs: the words after "--".
func parseScheduled(name string, every time.Duration, words []string) (jobs.Schedule, error) {
	s := jobs.Schedule{Name: name, Every: every}
	if every < jobs.MinEvery {
		return s, usageError{fmt.Errorf("--every %s: at least %s", every, jobs.MinEvery)}
	}
	if len(words) == 0 {
		return s, usageError{errors.New("schedule add: what to run after --: scan, vulns or report")}
	}
	fl := pflag.NewFlagSet(words[0], pflag.ContinueOnError)
	fl.SetOutput(io.Discard)
	switch words[0] {
	case "scan":
		var sf scanRequestFlags
		sf.register(fl)
		if err := fl.Parse(words[1:]); err != nil {
			return s, usageError{fmt.Errorf("schedule scan: %w", err)}
		}
		if fl.NArg() == 0 {
			return s, usageError{errors.New("schedule scan: at least one TARGET")}
		}
		req, err := sf.request(fl.Args())
		if err != nil {
			return s, err
		}
		s.Scan = &req
	case "vulns":
		if len(words) > 1 {
			return s, usageError{errors.New("schedule vulns: no arguments")}
		}
		s.Vulns = true
	case "report":
		var ra jobs.ReportArgs
		registerReportFlags(fl, &ra)
		if err := fl.Parse(words[1:]); err != nil || ra.Dir == "" || fl.NArg() > 0 {
			return s, usageError{fmt.Errorf("schedule report: want --dir DIR [--formats F,…] [--title T] (%v)", err)}
		}
		s.Report = &ra
	default:
		return s, usageError{fmt.Errorf("schedule add: %q: want scan, vulns or report after --", words[0])}
	}
	return s, nil
}
