package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"iotwatch/internal/affiliation"
	"iotwatch/internal/assess"
	"iotwatch/internal/declare"
	"iotwatch/internal/fsutil"
	"iotwatch/internal/label"
	"iotwatch/internal/store"
)

// assessFlags are the flags assess and label share.
type assessFlags struct {
	device       string
	product      string
	baselines    []string
	declarations []string
	entities     []string
	sboms        []string
	runs         []int64
	showSecrets  bool
}

func (f *assessFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.device, "device", "", "assess only this device address")
	fl.StringVar(&f.product, "product", "", "assess only this product model (all its units)")
	// The baselines' ids come from parsing the catalogue (2 ms that every
	// command's start paid, a flow ingest as well): they are put into the
	// flag's usage when the usage (also part of the help) is shown.
	fl.StringSliceVar(&f.baselines, "baseline", nil, "baselines (their ids: --help) or all (default all)")
	fill := func(c *cobra.Command) {
		if b := c.Flags().Lookup("baseline"); b != nil {
			b.Usage = "baselines: " + strings.Join(assess.BaselineIDs(), ", ") + " or all (default all)"
		}
	}
	usage := cmd.UsageFunc() // the help shows the usage too
	cmd.SetUsageFunc(func(c *cobra.Command) error { fill(c); return usage(c) })
	fl.StringSliceVar(&f.declarations, "declaration", nil, "maker declaration file (YAML or JSON); repeatable")
	fl.StringSliceVar(&f.entities, "entities", nil, "entity list to screen companies against (CSV or JSON); repeatable")
	fl.StringSliceVar(&f.sboms, "sbom", nil, "CycloneDX SBOM (JSON or XML) whose suppliers are screened; applies to the --device or --product assessed, else to every subject")
	fl.Int64SliceVar(&f.runs, "run", nil, "use the evidence of these run ids (default: every run except assessments)")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "show accepted passwords unredacted")
}

// run loads the evidence and assesses it.
// The caller closes the returned store.
func (f *assessFlags) run(cmd *cobra.Command, g *globals) (*assess.Result, *store.Store, error) {
	opts := assess.Options{Product: f.product, ShowSecrets: f.showSecrets}
	if f.device != "" && f.product != "" {
		return nil, nil, usageError{errors.New("--device and --product are exclusive")}
	}
	if f.device != "" {
		ip, err := netip.ParseAddr(f.device)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--device: %w", err)}
		}
		opts.Device = ip
	}
	for _, b := range f.baselines {
		if b != "all" && !slices.Contains(assess.BaselineIDs(), b) {
			return nil, nil, usageError{fmt.Errorf("--baseline: unknown baseline %q (known: %s, all)", b, strings.Join(assess.BaselineIDs(), ", "))}
		}
	}
	opts.Baselines = f.baselines
	var decls []*declare.Declaration
	for _, p := range f.declarations {
		d, err := declare.Load(p)
		if err != nil {
			return nil, nil, err
		}
		decls = append(decls, d)
	}
	for _, p := range f.entities {
		l, err := affiliation.Load(p)
		if err != nil {
			return nil, nil, err
		}
		opts.EntityLists = append(opts.EntityLists, l)
	}
	var sboms []assess.SBOMSuppliers
	for _, p := range f.sboms {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read SBOM: %w", err)
		}
		subs, err := affiliation.SBOMSuppliers(b, filepath.Base(p))
		if err != nil {
			return nil, nil, err
		}
		sboms = append(sboms, assess.SBOMSuppliers{Subject: cmp.Or(f.device, f.product), Suppliers: subs})
	}
	if len(f.sboms) > 0 && len(f.entities) == 0 {
		g.log.Warn("--sbom has no effect without --entities")
	}
	ctx := cmd.Context()
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	ev, err := assess.LoadEvidence(ctx, st, f.runs...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	ev.Declarations, ev.SBOMs = decls, sboms
	g.log.Debug("evidence loaded", "runs", len(ev.Runs), "services", len(ev.Services), "credentials", len(ev.Credentials),
		"vulns", len(ev.Vulns), "findings", len(ev.Findings), "declarations", len(decls))
	res, err := assess.Assess(ctx, ev, opts)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return res, st, nil
}

func newAssessCmd(g *globals) *cobra.Command {
	var f assessFlags
	var noSave, all bool
	cmd := &cobra.Command{
		Use:   "assess",
		Short: "Assess devices or products against EN 303 645, PSTI, CRA, NISTIR 8259A and the policy norms",
		Example: `  iotwatch assess --declaration maker.yaml
  iotwatch assess --device 192.168.1.20 --baseline etsi-en-303-645 --all`,
		Long: "assess decides every provision of the selected baselines from the stored evidence (scan, audit, firmware,\n" +
			"flows, vulnerability matches) and maker declarations: pass, fail, not-applicable or unknown, with the rule,\n" +
			"the reason and the evidence. The result is stored as a run of kind \"assess\" unless --no-store.\n\n" +
			"Tier rule: " + assess.TierRule,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, st, err := f.run(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			if !noSave {
				id, err := assess.Save(cmd.Context(), st, res, assessTargets(&f))
				if err != nil {
					return err
				}
				g.log.Info("assessment stored", "run", id, "subjects", len(res.Subjects))
			}
			if g.json {
				return printJSONLines(g.out, res.Subjects)
			}
			return printAssessment(g.out, res, all)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&noSave, "no-store", false, "do not record the assessment in the database")
	deprecatedAlias(g, cmd.Flags(), "no-save", "no-store")
	cmd.Flags().BoolVar(&all, "all", false, "list every provision, not only failures")
	return cmd
}

func assessTargets(f *assessFlags) []string {
	switch {
	case f.device != "":
		return []string{f.device}
	case f.product != "":
		return []string{f.product}
	}
	return []string{"all"}
}

func printAssessment(w io.Writer, res *assess.Result, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tKIND\tMODEL\tTIER\tPASS\tFAIL\tUNKNOWN\tN/A\tMANDATORY FAIL")
	for _, s := range res.Subjects {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", s.Subject.ID, s.Subject.Kind,
			s.Subject.Name(), s.Tier, s.Counts.Pass, s.Counts.Fail,
			s.Counts.Unknown, s.Counts.NotApplicable, s.Counts.MandatoryFail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tBASELINE\tPROVISION\tLEVEL\tOUTCOME\tREASON")
	for _, s := range res.Subjects {
		for _, b := range s.Baselines {
			for _, p := range b.Provisions {
				if !all && p.Outcome != assess.Fail {
					continue
				}
				reason := p.Reason
				if len(reason) > 140 {
					reason = reason[:139] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Subject.ID, b.ID, p.ID, p.Status, p.Outcome, reason)
			}
		}
	}
	return tw.Flush()
}

func newLabelCmd(g *globals) *cobra.Command {
	var f assessFlags
	var format, out, recordURL string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "label",
		Short: "Print the consumer security label (text, json, svg, html) or, with --detailed, the expert record",
		Example: `  iotwatch label --device 192.168.1.20 --format svg -o label.svg
  iotwatch label --product DS-2CD2026G2-IU --detailed --format html -o record.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.json && !cmd.Flags().Changed("format") {
				format = label.JSON
			}
			if !slices.Contains(label.Formats, format) || (detailed && format == label.SVG) {
				return usageError{fmt.Errorf("--format %q: want text, json, svg or html (record: text, json, html)", format)}
			}
			res, st, err := f.run(cmd, g)
			if err != nil {
				return err
			}
			defer st.Close()
			if format == label.SVG && len(res.Subjects) > 1 {
				// One SVG stacking every subject's card is a picture no one can print.
				return usageError{fmt.Errorf("--format svg draws one label, and %d subjects were assessed: give --device or --product, or use --format html for a printable page of cards", len(res.Subjects))}
			}
			opts := label.Options{Detailed: detailed, RecordURL: recordURL}
			if out == "" || out == "-" {
				return label.Render(g.out, res, format, opts)
			}
			if err := fsutil.WriteFileAtomic(out, 0o644, func(w io.Writer) error { return label.Render(w, res, format, opts) }); err != nil {
				return fmt.Errorf("label output: %w", err)
			}
			g.log.Info("label written", "file", out, "format", format, "subjects", len(res.Subjects))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&format, "format", label.Text, "text, json, svg or html")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&detailed, "detailed", false, "the detailed record with every provision and its evidence")
	cmd.Flags().StringVar(&recordURL, "record-url", "", "URL of the published detailed record for the QR code; {id} is replaced by the subject id")
	return cmd
}

func newDeclareCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "declare",
		Short: "Maker declarations: validate files, print the JSON Schema or the field mapping",
		Example: `  iotwatch declare example > maker.yaml
  iotwatch declare validate maker.yaml`,
	}
	validate := &cobra.Command{
		Use:     "validate FILE...",
		Short:   "Validate maker declarations (YAML or JSON) against the schema",
		Example: `  iotwatch declare validate maker.yaml other.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			type result struct {
				File   string                   `json:"file"`
				Valid  bool                     `json:"valid"`
				Model  string                   `json:"model,omitempty"`
				Errors []declare.FieldError     `json:"errors,omitempty"`
				Error  string                   `json:"error,omitempty"`
				Trust  *declare.TrustMarkRecord `json:"trust_mark,omitempty"`
			}
			var results []result
			bad := 0
			for _, p := range args {
				r := result{File: p}
				d, err := declare.Load(p)
				var ve *declare.ValidationError
				switch {
				case err == nil:
					r.Valid, r.Model = true, d.Product.Model
					tm := d.TrustMark()
					r.Trust = &tm
				case errors.As(err, &ve):
					r.Errors = ve.Errors
					bad++
				default:
					r.Error = err.Error()
					bad++
				}
				results = append(results, r)
			}
			if g.json {
				if err := printJSONLines(g.out, results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					switch {
					case r.Valid:
						fmt.Fprintf(g.out, "%s: valid (model %s)\n", r.File, r.Model)
					case r.Error != "":
						fmt.Fprintf(g.out, "%s: %s\n", r.File, r.Error)
					default:
						fmt.Fprintf(g.out, "%s: invalid\n", r.File)
						for _, fe := range r.Errors {
							fmt.Fprintf(g.out, "  %s: %s\n", fe.Path, fe.Message)
						}
					}
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d declaration(s) invalid", bad, len(args))
			}
			return nil
		},
	}
	schema := &cobra.Command{
		Use:     "schema",
		Short:   "Print the declaration JSON Schema",
		Example: `  iotwatch declare schema > declaration.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := g.out.Write(declare.SchemaJSON)
			return err
		},
	}
	mapping := &cobra.Command{
		Use:     "mapping",
		Short:   "Print which provisions and Cyber Trust Mark fields each declaration field serves",
		Example: `  iotwatch declare mapping`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ms := declare.Mappings()
			if g.json {
				return printJSONLines(g.out, ms)
			}
			tw := newTable(g.out)
			fmt.Fprintln(tw, "FIELD\tEN 303 645\tOTHER\tTRUST MARK")
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Field, strings.Join(m.Provisions, ","), strings.Join(m.Other, ","), m.TrustMark)
			}
			return tw.Flush()
		},
	}
	example := &cobra.Command{
		Use:     "example",
		Short:   "Print an example declaration in YAML",
		Example: `  iotwatch declare example > maker.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := g.out.Write(declare.Example)
			return err
		},
	}
	cmd.AddCommand(validate, schema, mapping, example)
	return cmd
}
