package cli

import (
	"cmp"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/store"
)

func newStoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Look after the evidence database: schema migrations, day partitions and retention",
		Example: `  iotwatch store partitions --db postgres://iotwatch@db/iotwatch
  iotwatch store prune --retain 400d --db postgres://iotwatch@db/iotwatch
  iotwatch store migrate --db /var/lib/iotwatch/iotwatch.db`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newStorePruneCmd(g), newStorePartitionsCmd(g), newStoreMigrateCmd(g))
	return cmd
}

func newStoreMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring an existing database's schema up to this iotwatch's version",
		Long: `Applies the schema migrations this iotwatch has and the database lacks (any writing command does so
too on opening). The commands that only read (runs, report, store partitions) never migrate: on a
database an older iotwatch wrote they say to run this first. It never creates a database.`,
		Example: `  iotwatch store migrate --db /var/lib/iotwatch/iotwatch.db
  iotwatch store migrate --db postgres://iotwatch@db/iotwatch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStoreForServe(cmd.Context()) // an existing database only
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return fmt.Errorf("schema version: %w", err)
			}
			if g.json {
				return printJSONLines(g.out, []map[string]int64{{"schema_version": v}})
			}
			fmt.Fprintf(g.out, "schema version %d: up to date\n", v)
			return nil
		},
	}
}

func newStorePruneCmd(g *globals) *cobra.Command {
	var retain string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove services, credentials and flow roll-ups of runs older than --retain",
		Long: `Applies retention to the tables that grow every day (services, credential results, flow roll-ups and
relations). On PostgreSQL these are partitioned by the day their run started: the partitions of days older
than --retain are dropped whole (no row-by-row delete, no bloat), and the default partition is cleared of
those days. On SQLite the rows of those runs are deleted. Runs, the asset inventory, vulnerability matches,
findings and flow alerts are kept, so the daily series stay whole. Run it daily (cron, a systemd timer or a
schedule of workers).`,
		Example: `  iotwatch store prune --retain 400d --db postgres://iotwatch@db/iotwatch
  iotwatch store prune --retain 90d --db /var/lib/iotwatch/iotwatch.db --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := store.ParseRetention(retain)
			if err != nil {
				return usageError{fmt.Errorf("--retain: %w", err)}
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.Prune(cmd.Context(), time.Now(), d)
			if err != nil {
				return err
			}
			if g.json {
				return printJSONLines(g.out, []*store.PruneResult{res})
			}
			deleted := map[string]int64{}
			for k, v := range res.Deleted {
				deleted["deleted_"+k] = v
			}
			deleted["partitions_dropped"] = int64(len(res.Dropped))
			fmt.Fprintf(g.out, "kept from %s: %s\n", res.Before, formatCounts(deleted))
			return nil
		},
	}
	cmd.Flags().StringVar(&retain, "retain", "", "how long evidence is kept: days (400d) or a duration (72h)")
	_ = cmd.MarkFlagRequired("retain") // the flag exists: cannot fail
	return cmd
}

func newStorePartitionsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "partitions",
		Short: "List the day partitions of the evidence tables (PostgreSQL) with their size and rows",
		Example: `  iotwatch store partitions --db postgres://iotwatch@db/iotwatch
  iotwatch store partitions --db postgres://iotwatch@db/iotwatch --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStoreReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			parts, err := st.Partitions(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return printJSONLines(g.out, parts)
			}
			if !st.Partitioned() {
				fmt.Fprintln(g.out, "this database ("+string(st.Dialect())+") is not partitioned: retention deletes rows")
				return nil
			}
			tw := newTable(g.out)
			fmt.Fprintln(tw, "TABLE\tPARTITION\tDAY\tROWS\tBYTES")
			for _, p := range parts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", p.Table, p.Name, cmp.Or(p.Day, "default"), p.Rows, p.Bytes)
			}
			return tw.Flush()
		},
	}
}
