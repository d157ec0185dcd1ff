package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/fsutil"
	"iotwatch/internal/report"
	"iotwatch/internal/stage"
)

func newReportCmd(g *globals) *cobra.Command {
	var (
		runIDs      []int64
		from, to    string
		formats     string
		out         string
		title       string
		showSecrets bool
		pub         publishFlags
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the quantitative threat-assessment report from the stored evidence",
		Long: `report builds the threat assessment a national CERT publishes from the evidence database:
headline numbers (devices, weak-credential share with its 95% Wilson interval, vulnerable and
KEV-affected devices, devices under unauthorized control per day, vulnerabilities archived and their
growth), breakdowns by vendor, device type, protocol, subnet and region, inventory, vulnerabilities,
firmware findings, conformance with baselines and trends across runs. Sections without evidence say so.

Without --run it covers the newest run that stored services and every run after it (its audit,
assessment or firmware runs), or the runs started within --from/--to. --output DIR writes
report.html, report.md, report.json and report.csv (or those named by --format) into DIR; --output FILE
(a path with an extension) writes one format, taken from --format or the extension; without --output one format goes to
standard output (Markdown, or JSON with --json). Found passwords are redacted unless --show-secrets,
which needs the database's secret key (DB.key beside it, or $IOTWATCH_SECRET_KEY[_FILE]) and writes
files only their owner may read (0600).

--publish writes a report fit for the public: no device address in any format (scan targets withheld,
addresses in any text replaced), per-network and per-region rows only where they count --min-cell devices
or more (smaller ones suppressed, with the next smallest too where the suppressed total would be
recoverable, and said so in the method notes), networks named by their Crypto-PAn pseudonyms (keyed and
prefix-preserving: the same key, kept in --pseudonym-key, keeps them comparable across reports), and
per-device rows only with --publish-devices, keyed by pseudonym. --notify DIR --networks FILE writes one
Shadowserver-style CSV per network owner (lines CIDR,owner[,ASN]) with that owner's devices only, and says on
standard error which files it wrote; the report itself is written too only with --output, --format or
--json. A vulnerable row's severity is critical for a CVE in CISA's KEV catalogue, else its CVSS v3 rating
(9.0 critical, 7.0 high, 4.0 medium, else low; medium when unscored); a weak credential is high and a
device under unauthorized control critical.`,
		Example: `  iotwatch report --output reports/
  iotwatch report --publish --min-cell 10 --output public/
  iotwatch report --publish --publish-devices --pseudonym-key /etc/iotwatch/pan.key --format csv --output devices.csv
  iotwatch report --notify notices/ --networks owners.csv
  iotwatch report --run 3 --format html --output report.html
  iotwatch report --from 2026-01-01 --to 2026-12-31 --format json,csv --output 2026/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			in := report.Inputs{RunIDs: runIDs, Title: title, ShowSecrets: showSecrets}
			var err error
			if in.From, err = parseWhen(from, false); err != nil {
				return usageError{fmt.Errorf("--from: %w", err)}
			}
			if in.To, err = parseWhen(to, true); err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			fs, dir, err := reportTargets(formats, out, g.json)
			if err != nil {
				return usageError{err}
			}
			if err := pub.check(showSecrets); err != nil {
				return usageError{err}
			}
			st, err := g.openStoreReadOnly(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if showSecrets && !st.CanReveal() {
				return fmt.Errorf("--show-secrets needs the database's secret key (%s); without it found secrets are sealed and show redacted", st.KeySource())
			}
			g.log.Info("building report", "runs", in.RunIDs)
			r, err := stage.BuildReport(ctx, st, in, nil)
			if errors.Is(err, report.ErrNoRuns) {
				return fmt.Errorf("%w: %s", err, report.NoRunsHint)
			}
			if err != nil {
				return err
			}
			if pub.notify != "" {
				if err := pub.notifyOwners(g, r); err != nil {
					return err
				}
				// The notification files are the output: a report too
				// only when asked for (--output, --format or --json).
				if out == "" && formats == "" && !g.json {
					return nil
				}
			}
			write := r.Write
			if pub.publish {
				if r, write, err = pub.publishReport(ctx, g, st, r); err != nil {
					return err
				}
			}
			if out == "" {
				return write(g.out, fs[0])
			}
			// A report with raw secrets is its owner's alone.
			dirMode, fileMode := os.FileMode(0o755), os.FileMode(0o644)
			if showSecrets {
				dirMode, fileMode = 0o700, 0o600
			}
			if dir {
				if err := os.MkdirAll(out, dirMode); err != nil {
					return fmt.Errorf("report output directory: %w", err)
				}
			}
			for _, f := range fs {
				path := out
				if dir {
					path = filepath.Join(out, "report."+f)
				}
				if err := fsutil.WriteFileAtomic(path, fileMode, func(w io.Writer) error { return write(w, f) }); err != nil {
					return err
				}
				g.log.Info("report written", "format", f, "path", path)
			}
			if !r.Audited() {
				fmt.Fprintf(g.errOut, "devices %d, services %d, weak credentials not audited (iotwatch audit TARGET...)\n",
					r.Summary.Devices, r.Summary.Services)
				return nil
			}
			fmt.Fprintf(g.errOut, "devices %d, services %d, weak credentials on %d (%.1f%%, 95%% CI %.1f–%.1f%%)\n",
				r.Summary.Devices, r.Summary.Services, r.Summary.DevicesWithWeakCredentials,
				r.Summary.WeakPasswordShare*100, r.Summary.WeakPasswordCI95.Low*100, r.Summary.WeakPasswordCI95.High*100)
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64SliceVar(&runIDs, "run", nil, "run id to cover (repeatable; default: the newest scan and every run after it, with the newest analysis of each firmware image)")
	f.StringVar(&from, "from", "", "cover runs started at or after this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&to, "to", "", "cover runs started at or before this time (RFC 3339 or YYYY-MM-DD, inclusive day)")
	f.StringVar(&formats, "format", "", "comma-separated formats: html, md, json, csv (default: all four for a directory)")
	f.StringVarP(&out, "output", "o", "", "output directory, or a file for one format (default: standard output)")
	deprecatedAlias(g, f, "out", "output")
	f.StringVar(&title, "title", "", "report title")
	f.BoolVar(&showSecrets, "show-secrets", false, "print found passwords in full instead of redacted")
	pub.register(f)
	return cmd
}

// reportTargets resolves --format and --output: the formats to write and whether
// out is a directory.
func reportTargets(formats, out string, jsonFlag bool) ([]string, bool, error) {
	var fs []string
	for _, f := range strings.Split(formats, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "markdown" {
			f = "md"
		}
		if f == "" {
			continue
		}
		if !slices.Contains(report.Formats, f) {
			return nil, false, fmt.Errorf("--format %q: want html, md, json or csv", f)
		}
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
	if ext == "markdown" {
		ext = "md"
	}
	// A path with an extension is a file unless it is an existing directory.
	isFile := out != "" && ext != ""
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		isFile = false
	}
	switch {
	case out == "":
		if len(fs) == 0 {
			fs = []string{"md"}
			if jsonFlag {
				fs = []string{"json"}
			}
		}
		if len(fs) > 1 {
			return nil, false, fmt.Errorf("--format %s: several formats need --output DIR", formats)
		}
		return fs, false, nil
	case isFile:
		if len(fs) == 0 {
			if !slices.Contains(report.Formats, ext) {
				return nil, false, fmt.Errorf("--output %s: give --format (html, md, json or csv) for this extension", out)
			}
			fs = []string{ext}
		}
		if len(fs) > 1 {
			return nil, false, fmt.Errorf("--output %s is a file: give one --format or a directory", out)
		}
		return fs, false, nil
	default:
		if len(fs) == 0 {
			fs = slices.Clone(report.Formats)
		}
		return fs, true, nil
	}
}

// parseWhen parses RFC 3339 or YYYY-MM-DD; a date as an end bound means the
// end of that day.
func parseWhen(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	if end {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return t, nil
}
