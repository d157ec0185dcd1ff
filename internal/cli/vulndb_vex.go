package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/vuln"
	"iotwatch/internal/vuln/vex"
)

func newVulnVEXCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vex",
		Short: "Read VEX statements (OpenVEX, CycloneDX VEX) that suppress or annotate matches; write VEX for a run's findings",
		Example: `  iotwatch vulndb vex import vendor.openvex.json
  iotwatch vulndb vex export 12 > firmware-12.openvex.json`,
	}
	cmd.AddCommand(newVulnVEXImportCmd(g), newVulnVEXExportCmd(g))
	return cmd
}

func newVulnVEXImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE...",
		Short: "Store the statements of OpenVEX or CycloneDX VEX documents (a document imported again replaces its statements) and re-match the stored evidence",
		Example: `  iotwatch vulndb vex import vendor.openvex.json
  iotwatch vulndb vex import bom-with-analysis.cdx.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, done, err := openVulnDB(cmd, g, false)
			if err != nil {
				return err
			}
			defer done()
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				sts, err := vex.Read(f)
				f.Close()
				if err != nil {
					if errors.Is(err, vex.ErrFormat) {
						return usageError{fmt.Errorf("%s: %w", path, err)}
					}
					return fmt.Errorf("%s: %w", path, err)
				}
				n, err := d.ImportVEX(cmd.Context(), sts)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.out, "%s: %d statements\n", path, n)
			}
			return rematchStored(cmd.Context(), g.errOut, d)
		},
	}
}

func newVulnVEXExportCmd(g *globals) *cobra.Command {
	var author string
	cmd := &cobra.Command{
		Use:     "export RUN-ID",
		Short:   "Write an OpenVEX document for the vulnerability matches of a run (e.g. a firmware analysis)",
		Example: `  iotwatch vulndb vex export 12 > firmware-12.openvex.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageError{fmt.Errorf("run id %q: want a positive number", args[0])}
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.Run(cmd.Context(), id); err != nil {
				return err
			}
			ms, err := st.VulnMatches(cmd.Context(), id)
			if err != nil {
				return err
			}
			doc := vuln.VEXDocument(fmt.Sprintf("urn:iotwatch:run:%d:vex", id), author, ms)
			doc.Timestamp = time.Now()
			return vex.WriteOpenVEX(g.out, doc)
		},
	}
	cmd.Flags().StringVar(&author, "author", "iotwatch", "author named in the document")
	return cmd
}
