package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/model"
	"iotwatch/internal/stage"
	"iotwatch/internal/vuln"
)

func newVulnDBCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "vulndb",
		Short:   "Offline vulnerability database: import, update, statistics, matching",
		Example: `  iotwatch vulndb update && iotwatch vulndb stats --since 2020`,
		Long: `The vulnerability database lives in the evidence store. It holds NVD CVE records (API 2.0 pages,
yearly feeds, single records), CVE JSON 5 records, OSV advisories (Debian, Ubuntu and Alpine ones
apply to packages with a distribution revision: backports), the CISA Known Exploited
Vulnerabilities catalogue, FIRST EPSS scores (matches rank KEV > EPSS > CVSS), national archives
(CNVD XML, JVN iPedia, EUVD; "stats --source") and VEX statements ("vex"). A fresh database is
seeded with 30 embedded NVD records and the KEV catalogue so that matching works offline; "update"
fetches the full feeds and re-matches the stored evidence when a source changed ("rematch").`,
	}
	cmd.AddCommand(newVulnImportCmd(g), newVulnUpdateCmd(g), newVulnStatsCmd(g), newVulnMatchCmd(g), newVulnShowCmd(g), newVulnVEXCmd(g), newVulnRematchCmd(g))
	return cmd
}

// openVulnDB opens the store and the vulnerability database; close the store when done.
func openVulnDB(cmd *cobra.Command, g *globals, seed bool) (*vuln.DB, func(), error) {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	d, err := vuln.Open(cmd.Context(), st)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if seed {
		if err := d.EnsureSeed(cmd.Context()); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	return d, func() { st.Close() }, nil
}

// progress returns an import progress callback: a spinner with a count on a
// terminal, a log line every 50,000 records otherwise.
func (g *globals) vulnProgress(what string) (func(int), func()) {
	if isTerminal(g.errOut) {
		bar := stage.NewBar(g.errOut, true, what, "records", -1)
		return func(n int) { bar.Set(int64(n), 0, "") }, bar.Finish
	}
	next := 50000
	return func(n int) {
		if n >= next {
			g.log.Info("importing", "what", what, "records", n)
			next = n + 50000
		}
	}, func() {}
}

func newVulnImportCmd(g *globals) *cobra.Command {
	var batch int
	cmd := &cobra.Command{
		Use:     "import FILE|DIR...",
		Short:   "Import vulnerability files (NVD 2.0, CVE 5, KEV JSON/CSV, OSV, EPSS CSV, CNVD/JVN XML, EUVD JSON; plain, gzip, xz or zip)",
		Example: `  iotwatch vulndb import nvdcve-2.0-2024.json.gz known_exploited_vulnerabilities.json`,
		Long: `import reads each FILE, and every file of each DIR in name order (hidden files and subdirectories
left out; a file of a directory whose format is not recognised, such as a licence text, is skipped
with a warning and counted). Records are committed in batches of --batch.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 {
				return usageError{fmt.Errorf("--batch %d: want at least 1 record per transaction", batch)}
			}
			files, err := importFiles(args)
			if err != nil {
				return err
			}
			d, done, err := openVulnDB(cmd, g, false)
			if err != nil {
				return err
			}
			defer done()
			type fileResult struct {
				File string `json:"file"`
				vuln.ImportResult
				Seconds float64 `json:"seconds"`
				Skipped bool    `json:"skipped,omitempty"`
				Error   string  `json:"error,omitempty"`
			}
			var results []fileResult
			var errs []error
			for _, in := range files {
				f := in.path
				prog, finish := g.vulnProgress(f)
				start := time.Now()
				res, err := d.ImportFile(cmd.Context(), f, vuln.ImportOptions{BatchSize: batch, Progress: prog})
				finish()
				fr := fileResult{File: f, ImportResult: res, Seconds: time.Since(start).Seconds()}
				switch {
				case err != nil && in.fromDir && errors.Is(err, vuln.ErrUnknownFormat) && res.Records == 0:
					fr.Skipped = true
					g.log.Warn("not a vulnerability file, skipped", "file", f, "err", err)
				case err != nil:
					fr.Error = err.Error()
					errs = append(errs, err)
				}
				results = append(results, fr)
				if cmd.Context().Err() != nil {
					break
				}
			}
			if g.json {
				if err := printJSONLines(g.out, results); err != nil {
					return err
				}
			} else {
				tw := newTable(g.out)
				fmt.Fprintln(tw, "FILE\tFORMAT\tRECORDS\tNEW\tUPDATED\tUNCHANGED\tREJECTED\tKEV\tSECONDS")
				skipped := 0
				for _, r := range results {
					if r.Skipped {
						skipped++
						fmt.Fprintf(tw, "%s\tskipped: not a vulnerability file\t\t\t\t\t\t\t\n", r.File)
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\n", r.File, cmp.Or(r.Format, "-"), r.Records, r.Inserted,
						r.Updated, r.Unchanged, r.Rejected, r.KEVs, r.Seconds)
				}
				tw.Flush()
				if skipped > 0 {
					fmt.Fprintf(g.out, "%d of %d files skipped: not a vulnerability file\n", skipped, len(results))
				}
			}
			if len(errs) == 0 {
				imported := make([]vuln.ImportResult, len(results))
				for i, r := range results {
					imported[i] = r.ImportResult
				}
				return rematchAfterImport(cmd.Context(), g.errOut, d, imported)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().IntVar(&batch, "batch", 1000, "records per transaction")
	return cmd
}

func newVulnUpdateCmd(g *globals) *cobra.Command {
	var sources []string
	var apiKey string
	var full bool
	var delay time.Duration
	cmd := &cobra.Command{
		Use:     "update",
		Short:   "Download NVD (incrementally) and the CISA KEV catalogue from the official endpoints",
		Example: `  iotwatch vulndb update --api-key "$NVD_API_KEY"`,
		Long: `update fetches NVD CVE API 2.0 pages changed since the last sync (all of them the first time; an
interrupted sync resumes where it stopped) and the CISA KEV catalogue when it changed. Without an
API key NVD allows 5 requests per 30 s, so a full first sync takes about an hour; with a key
(--api-key or NVD_API_KEY) about ten minutes. --source NAME=URL replaces an endpoint (names nvd,
kev) or adds a feed file of any importable format (e.g. osv=https://…/all.zip); --source NAME alone adds
a known source: epss (FIRST's daily scores), osv-debian, osv-ubuntu, osv-alpine (distribution advisories,
applied to packages that carry a distribution revision).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srcs := map[string]string{}
			for k, v := range vuln.DefaultSources {
				srcs[k] = v
			}
			for _, s := range sources {
				name, u, ok := strings.Cut(s, "=")
				if known, isKnown := vuln.KnownSources[name]; !ok && isKnown && vuln.DefaultSources[name] == "" {
					u, ok = known, true // a source known by name (epss, osv-debian, …)
				}
				if !ok || name == "" || !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
					return usageError{fmt.Errorf("--source %q: want NAME=http(s)://URL", s)}
				}
				srcs[name] = u
			}
			if apiKey == "" {
				apiKey = os.Getenv("NVD_API_KEY")
			}
			d, done, err := openVulnDB(cmd, g, false)
			if err != nil {
				return err
			}
			defer done()
			opt := vuln.UpdateOptions{Sources: srcs, APIKey: apiKey, Full: full, Delay: delay, Log: g.log}
			if isTerminal(g.errOut) {
				var bar *stage.Bar
				last := ""
				opt.Progress = func(src string, n, total int) {
					if bar == nil || src != last {
						bar.Finish()
						bar, last = stage.NewBar(g.errOut, true, src, "records", int64(total)), src
					}
					bar.Set(int64(n), int64(total), "")
				}
			}
			res, err := d.Update(cmd.Context(), opt)
			if g.json {
				if perr := printJSONLines(g.out, res); perr != nil {
					return perr
				}
			} else {
				tw := newTable(g.out)
				fmt.Fprintln(tw, "SOURCE\tREQUESTS\tRECORDS\tNEW\tUPDATED\tKEV\tNOTE")
				for _, r := range res {
					note := ""
					switch {
					case r.NotModified:
						note = "not modified"
					case r.Incremental:
						note = "incremental"
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Source, r.Requests, r.Records, r.Inserted, r.Updated, r.KEVs, note)
				}
				tw.Flush()
			}
			if err == nil {
				imported := make([]vuln.ImportResult, len(res))
				for i, r := range res {
					imported[i] = r.ImportResult
				}
				err = rematchAfterImport(cmd.Context(), g.errOut, d, imported)
			}
			return offlineHint(err)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&sources, "source", nil, "NAME=URL: replace an endpoint (nvd, kev, epss) or add a feed file; NAME alone adds a known source (osv-debian, osv-ubuntu, osv-alpine); repeatable")
	f.StringVar(&apiKey, "api-key", "", "NVD API key (default $NVD_API_KEY)")
	f.BoolVar(&full, "full", false, "ignore the incremental cursor and fetch everything")
	f.DurationVar(&delay, "delay", 0, "pause between NVD requests (default 6s, 0.6s with an API key)")
	return cmd
}

func newVulnStatsCmd(g *globals) *cobra.Command {
	var since int
	var source string
	cmd := &cobra.Command{
		Use:     "stats",
		Short:   "Archive statistics: CVEs by publication year, growth, IoT share, KEV, top vendors and CWEs",
		Example: `  iotwatch vulndb stats --since 2020`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != 0 && (since < 1988 || since > 2200) {
				return usageError{fmt.Errorf("--since %d: want a year", since)}
			}
			if source != "" && source != "nvd" && !slices.Contains(vuln.ArchiveSources, source) {
				return usageError{fmt.Errorf("--source %q: want nvd or one of %s", source, strings.Join(vuln.ArchiveSources, ", "))}
			}
			d, done, err := openVulnDB(cmd, g, true)
			if err != nil {
				return err
			}
			defer done()
			var s *vuln.Stats
			if source == "" || source == "nvd" {
				s, err = d.Stats(cmd.Context(), since)
			} else {
				s, err = d.ArchiveStats(cmd.Context(), source, since)
			}
			if err != nil {
				return err
			}
			if g.json { // one compact line, like every --json output
				return json.NewEncoder(g.out).Encode(s)
			}
			return writeVulnStats(g.out, s)
		},
	}
	cmd.Flags().IntVar(&since, "since", 0, "only CVEs published in or after this year")
	cmd.Flags().StringVar(&source, "source", "", "archive to count: nvd (default: the CVE records), or a national archive imported with vulndb import: cnvd, jvn, euvd")
	return cmd
}

func vdbPct(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", *p)
}

func writeVulnStats(w io.Writer, s *vuln.Stats) error {
	fmt.Fprintf(w, "source: %s\n", s.Source)
	fmt.Fprintf(w, "CVEs: %d   IoT: %d (%.1f%%)   known exploited (KEV): %d (IoT %d)\n\n", s.Total, s.IoT, s.IoTShare, s.KEV, s.KEVIoT)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "YEAR\tCVES\tGROWTH\tIOT\tIOT SHARE\tIOT GROWTH\tKEV\t")
	for _, y := range s.Years {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.1f%%\t%s\t%d\t\n", y.Year, y.CVEs, vdbPct(y.Growth), y.IoT, y.IoTShare, vdbPct(y.IoTGrowth), y.KEV)
	}
	tw.Flush()
	for _, l := range []struct {
		title string
		c     []vuln.Count
	}{{"top vendors", s.TopVendors}, {"top IoT makers and stacks", s.TopIoT}, {"top CWEs", s.TopCWEs}} {
		fmt.Fprintf(w, "\n%s:", l.title)
		for _, c := range l.c {
			fmt.Fprintf(w, " %s (%d)", c.Name, c.Count)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func newVulnMatchCmd(g *globals) *cobra.Command {
	var cpeName, vendor, product, ver string
	var stored bool
	cmd := &cobra.Command{
		Use:   "match (--cpe CPE | --product P --version V [--vendor X] | --stored)",
		Short: "List the CVEs affecting a product (a CPE 2.3 name, or vendor/product/version as a scanner reports them)",
		Example: `  iotwatch vulndb match --product OpenSSH --version 9.2p1
  iotwatch vulndb match --cpe cpe:2.3:a:thekelleys:dnsmasq:2.80:*:*:*:*:*:*:*`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case stored && (cpeName != "" || product != "" || vendor != "" || ver != ""):
				return usageError{errors.New("--stored matches the stored inventory: give no product")}
			case stored:
				return matchStored(cmd.Context(), g)
			case cpeName != "" && (product != "" || vendor != "" || ver != ""):
				return usageError{errors.New("give either --cpe or --product/--version, not both")}
			case cpeName == "" && (product == "" || ver == ""):
				return usageError{errors.New("give --cpe CPE, or --product and --version")}
			}
			d, done, err := openVulnDB(cmd, g, true)
			if err != nil {
				return err
			}
			defer done()
			var ms []model.VulnMatch
			if cpeName != "" {
				ms, err = d.MatchCPE(cmd.Context(), cpeName)
				if err != nil {
					return usageError{err}
				}
			} else {
				// Fixed-by-backport matches are listed too, with their advisory.
				ms, err = d.MatchFingerprintAll(cmd.Context(), model.Fingerprint{Vendor: vendor, Product: product, Version: ver})
				if err != nil {
					return err
				}
			}
			if g.json {
				return printJSONLines(g.out, ms)
			}
			if len(ms) == 0 {
				fmt.Fprintln(g.out, "no known vulnerabilities")
				return nil
			}
			tw := newTable(g.out)
			fmt.Fprintln(tw, "CVE\tCVSS\tEPSS\tSEVERITY\tKEV DUE\tSTATUS\tCWE\tCPE\tSUMMARY")
			for _, m := range ms {
				due := "-"
				if m.KEV {
					due = cmp.Or(m.KEVDue, "-")
				}
				status := "affected"
				if m.Status != "" {
					status = m.Status + " (" + strings.Join(strings.Fields(m.Advisory+" "+m.FixedIn+" "+m.Justification), " ") + ")"
				}
				epss := "-"
				if m.EPSSDate != "" {
					epss = fmt.Sprintf("%.4f", m.EPSS)
				}
				fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.CVE, m.CVSS, epss, m.Severity, due, status, cmp.Or(strings.Join(m.CWEs, ","), "-"), m.CPE, vdbClip(m.Summary, 80))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cpeName, "cpe", "", "CPE 2.3 name (or CPE 2.2 URI)")
	f.StringVar(&vendor, "vendor", "", "vendor as reported (optional)")
	f.StringVar(&product, "product", "", "product as reported (e.g. OpenSSH, dnsmasq, \"DS-2CD2026G2-IU/SL\")")
	f.StringVar(&ver, "version", "", "version as reported (e.g. 9.2p1, \"9.2p1 Debian-2+deb12u10\", 1:9.2p1-2+deb12u3: a distribution revision applies its advisories)")
	f.BoolVar(&stored, "stored", false, "re-match every identified service in the database and store the matches as a run")
	return cmd
}

func newVulnShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show CVE-ID",
		Short:   "Show one stored CVE: scores, CWE, KEV, IoT classification, configurations",
		Example: `  iotwatch vulndb show CVE-2021-36260`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, done, err := openVulnDB(cmd, g, true)
			if err != nil {
				return err
			}
			defer done()
			e, err := d.Record(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.json {
				enc := json.NewEncoder(g.out)
				enc.SetIndent("", "  ")
				return enc.Encode(e)
			}
			w := g.out
			fmt.Fprintf(w, "%s  (%s, %s)\n", e.ID, e.Source, cmp.Or(e.Status, "-"))
			fmt.Fprintf(w, "published %s, last modified %s\n", cmp.Or(e.Published, "-"), cmp.Or(e.LastModified, "-"))
			for _, sc := range []struct {
				name  string
				score float64
				vec   string
			}{{"CVSS v4", e.CVSS4.Score, e.CVSS4.Vector}, {"CVSS v3", e.CVSS3.Score, e.CVSS3.Vector}, {"CVSS v2", e.CVSS2.Score, e.CVSS2.Vector}} {
				if sc.vec != "" {
					fmt.Fprintf(w, "%s: %.1f %s\n", sc.name, sc.score, sc.vec)
				}
			}
			if len(e.CWEs) > 0 {
				fmt.Fprintf(w, "CWE: %s\n", strings.Join(e.CWEs, ", "))
			}
			if len(e.Aliases) > 0 {
				fmt.Fprintf(w, "aliases: %s\n", strings.Join(e.Aliases, ", "))
			}
			if len(e.Products) > 0 {
				fmt.Fprintf(w, "products: %s\n", strings.Join(e.Products, "; "))
			}
			if e.Severity != "" {
				fmt.Fprintf(w, "severity (%s): %s\n", e.Source, e.Severity)
			}
			if e.KEV != nil {
				fmt.Fprintf(w, "KEV: added %s, due %s %s\n", cmp.Or(e.KEV.DateAdded, "-"), cmp.Or(e.KEV.DueDate, "-"), e.KEV.Name)
			}
			iot := "no"
			if e.IoT {
				iot = "yes (" + e.IoTReason + ")"
			}
			fmt.Fprintf(w, "IoT: %s\n\n%s\n", iot, e.Description)
			if len(e.Configs) > 0 {
				fmt.Fprintf(w, "\nconfigurations (%d):\n", len(e.Configs))
				for i, c := range e.Configs {
					if i == 20 {
						fmt.Fprintf(w, "  … %d more (--json for all)\n", len(e.Configs)-i)
						break
					}
					for j, n := range c.Nodes {
						prefix := "  "
						if j > 0 {
							prefix = "  " + cmp.Or(c.Operator, "OR") + " "
						}
						var crit []string
						for _, m := range n.Matches {
							s := m.Criteria + vdbRange(m.StartIncl, m.StartExcl, m.EndIncl, m.EndExcl)
							if !m.Vulnerable {
								s += " (platform)"
							}
							crit = append(crit, s)
						}
						fmt.Fprintf(w, "%s%s\n", prefix, strings.Join(crit, " "+cmp.Or(n.Operator, "OR")+" "))
					}
				}
			}
			for _, r := range e.References {
				fmt.Fprintf(w, "ref: %s\n", r)
			}
			return nil
		},
	}
}

func vdbRange(si, se, ei, ee string) string {
	var parts []string
	if si != "" {
		parts = append(parts, ">="+si)
	}
	if se != "" {
		parts = append(parts, ">"+se)
	}
	if ei != "" {
		parts = append(parts, "<="+ei)
	}
	if ee != "" {
		parts = append(parts, "<"+ee)
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}

func vdbClip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// offlineHint turns an update that could not reach its servers into one line
// that says what to do instead.
func offlineHint(err error) error {
	if !errors.Is(err, vuln.ErrUnreachable) {
		return err
	}
	first := err
	for {
		j, ok := first.(interface{ Unwrap() []error })
		if !ok {
			break
		}
		for _, e := range j.Unwrap() {
			if errors.Is(e, vuln.ErrUnreachable) {
				first = e
				break
			}
		}
	}
	return fmt.Errorf("%w (offline?); download the feeds on a connected machine and load them with `iotwatch vulndb import FILE|DIR`", first)
}

// importFile is one file to import; fromDir marks files found by listing a
// directory, which are skipped rather than failed when not recognised.
type importFile struct {
	path    string
	fromDir bool
}

// importFiles expands directories into their regular, non-hidden files in
// name order.
func importFiles(args []string) ([]importFile, error) {
	var out []importFile
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			out = append(out, importFile{path: a}) // ImportFile reports a missing file
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
				continue
			}
			out = append(out, importFile{path: filepath.Join(a, e.Name()), fromDir: true})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("vulndb import: directory %s has no files", a)
		}
	}
	return out, nil
}
