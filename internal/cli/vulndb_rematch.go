package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/vuln"
)

func newVulnRematchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rematch",
		Short: "Match the stored services and firmware components again (no rescan) and record what changed as a run",
		Long: `rematch matches the stored inventory (every identified service as the newest run that identified
it saw it) and the newest firmware analysis's components against the database as it is now (new
records, withdrawn ones, distribution advisories, EPSS, VEX) and records a run of kind "rematch"
with the current matches and the differences: new, withdrawn, or fixed (with the advisory or VEX
document). vulndb update and vulndb import do this by themselves when they changed the data.
vulndb match --stored runs the same re-match and lists the matches instead of the differences.`,
		Example: `  iotwatch vulndb rematch
  iotwatch vulndb rematch --json
  iotwatch vulndb match --stored       # the same run, listing its matches`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, done, err := openVulnDB(cmd, g, true)
			if err != nil {
				return err
			}
			defer done()
			res, err := stage.Rematch(cmd.Context(), d.Store(), stage.RematchOptions{DB: d})
			if err != nil {
				return err
			}
			return printRematch(g, res)
		},
	}
}

func printRematch(g *globals, res *vuln.RematchResult) error {
	if g.json {
		return printJSONLines(g.out, []*vuln.RematchResult{res})
	}
	writeRematch(g.out, res)
	return nil
}

func writeRematch(w io.Writer, res *vuln.RematchResult) {
	fmt.Fprintf(w, "rematch run %d (compared with runs %v): services=%d components=%d matches=%d new=%d withdrawn=%d fixed=%d\n",
		res.Run, res.Compared, res.Services, res.Subjects, res.Matches, res.New, res.Withdrawn, res.Fixed)
	for _, c := range res.Changes {
		fmt.Fprintf(w, "  %-9s %s:%d %s %s\n", c.Change, c.Subject, c.Port, c.CVE, c.Detail)
	}
}

// rematchAfterImport re-matches the stored evidence when an update or
// import changed the data; a store without scans or firmware runs is no
// error.
func rematchAfterImport(ctx context.Context, w io.Writer, d *vuln.DB, res []vuln.ImportResult) error {
	changed := false
	for _, r := range res {
		changed = changed || r.Inserted+r.Updated+r.Rejected+r.KEVs+r.Advisories+r.EPSS+r.Archived > 0
	}
	if !changed {
		return nil
	}
	return rematchStored(ctx, w, d)
}

// rematchStored re-matches the stored evidence and prints what changed; a
// store without scans or firmware runs is no error.
func rematchStored(ctx context.Context, w io.Writer, d *vuln.DB) error {
	rm, err := stage.Rematch(ctx, d.Store(), stage.RematchOptions{DB: d})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rematch: %w", err)
	}
	writeRematch(w, rm)
	return nil
}
