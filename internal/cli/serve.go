package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/spf13/cobra"

	"iotwatch/internal/report"
	"iotwatch/internal/stage"
	"iotwatch/internal/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		listen      string
		showSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the read-only dashboard, JSON API and Prometheus metrics over the evidence database",
		Long: `serve starts a read-only web dashboard over the evidence database: the threat-assessment report
of any run (/ and /?run=ID), the list of runs (/runs), report downloads (/report.{html,md,json,csv}),
a JSON API (/api/runs, /api/runs/{id}, /api/runs/{id}/{report,services,credentials,vulnerabilities,findings},
/api/assets, /api/flows/{alerts,daily,destinations} with ?since= and ?device=, /api/schema/report.json)
and Prometheus metrics (/metrics). It binds 127.0.0.1 unless --listen says otherwise, and it redacts
found passwords unless --show-secrets.`,
		Example: `  iotwatch serve
  iotwatch serve --listen 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen %q: %w", listen, err)}
			}
			st, err := g.openStoreReadOnly(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
				g.log.Warn("dashboard reachable beyond this machine: it shows evidence about devices", "listen", listen)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("dashboard: %w", err)
			}
			srv := web.New(st, web.Options{Log: g.log, ShowSecrets: showSecrets,
				Wire: func(ctx context.Context, in *report.Inputs) error { return stage.WireReport(ctx, st, in) }})
			fmt.Fprintf(g.out, "dashboard on http://%s/ (Ctrl-C stops)\n", ln.Addr())
			return web.Serve(ctx, ln, srv)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "show found passwords in full instead of redacted")
	return cmd
}
