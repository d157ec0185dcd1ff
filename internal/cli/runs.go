package cli

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newRunsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recorded runs, newest first",
		Example: `  iotwatch runs --limit 10
  iotwatch runs --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStoreReadOnly(cmd.Context())
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
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%v\n", r.ID, kind, r.Status, r.StartedAt.Format("2006-01-02 15:04:05"), cmp.Or(strings.Join(r.Targets, " "), "-"), formatCounts(r.Counts))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "how many runs to list")
	return cmd
}

// formatCounts prints counts as "key=value" pairs in key order.
func formatCounts(counts map[string]int64) string {
	if len(counts) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, k+"="+strconv.FormatInt(counts[k], 10))
	}
	return strings.Join(parts, " ")
}
