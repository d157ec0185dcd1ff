package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRunsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recorded runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.Runs(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if g.json {
				return printJSONLines(g.out, runs)
			}
			tw := newTable(g.out)
			fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tSTARTED\tTARGETS\tCOUNTS")
			for _, r := range runs {
				kind := r.Kind
				if r.Parent != 0 { // a resumed scan: one logical scan with its parent
					kind += fmt.Sprintf(" (resumes %d)", r.Parent)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%v\n", r.ID, kind, r.Status, r.StartedAt.Format("2006-01-02 15:04:05"), r.Targets, r.Counts)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "how many runs to list")
	return cmd
}
