package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"iotwatch/internal/auth"
	"iotwatch/internal/jobs"
	"iotwatch/internal/report"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
	"iotwatch/internal/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		listen, tlsCert, tlsKey string
		selfSigned, showSecrets bool
		oidcIssuer, oidcClient  string
		oidcRedirect            string
		publishViewers          bool
		minCell                 int
		pseudonymKey            string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the console: dashboard, JSON API and Prometheus metrics over the evidence database, behind log-in",
		Long: `serve starts the web console over the evidence database: the threat-assessment report of any run
(/ and /?run=ID), the list of runs (/runs), report downloads (/report.{html,md,json,csv}), a JSON API
(/api/runs, /api/runs/{id}, /api/runs/{id}/{report,services,credentials,vulnerabilities,findings},
/api/assets, /api/flows/{alerts,daily,destinations} with ?since= and ?device=, /api/schema/report.json),
Prometheus metrics (/metrics), job actions for operators (/jobs: submit a scan within their scopes,
watch it live, cancel it, add a schedule; iotwatch worker processes run the jobs; the same as JSON
at /api/jobs and /api/schedules) and, for admins, user management (/admin/users: add, role, disable,
enable, unlock, password, scopes; /admin/tokens: list, revoke), the audit log (/admin/audit) and
River's own job UI (/admin/river/, riverui: every job and queue; its actions need a token or, from a
session, the browser's word that they came from this origin, since its page cannot send the CSRF token).

Access: once a user exists (iotwatch users add), everyone logs in (/login) or sends an API token
(Authorization: Bearer, iotwatch tokens create), and each route needs a role: viewer (dashboard,
report pages, metrics), analyst (runs, JSON/CSV reports, the API), operator (job actions), admin (audit
log, raw secrets). Without any user, on loopback, the console is the local single-user dashboard as
before: everything readable without log-in, no job actions. Listening beyond loopback is refused until
an admin exists. /healthz is public.

Single sign-on (optional): --oidc-issuer, --oidc-client-id and --oidc-redirect-url add "Log in with
single sign-on" (OpenID Connect, code flow with PKCE); an admin links each user to their subject
(iotwatch users link NAME SUBJECT); the issuer never creates users or grants roles.

TLS: --tls-cert and --tls-key serve HTTPS with your certificate; --tls-self-signed generates a
certificate for localhost once and reuses it (stored 0600 beside the database), for loopback only.
With TLS the session cookie is Secure and HSTS is sent. Found passwords are redacted unless
--show-secrets, and then shown only to admins (each time recorded in the audit log).

Published view: --publish-viewers shows viewers only the report as report --publish writes it (no
device address, networks as Crypto-PAn pseudonyms with the key of report --publish, per-network rows
only above --min-cell devices); every page is checked for the devices' addresses before it is sent.`,
		Example: `  iotwatch serve
  iotwatch serve --listen 127.0.0.1:9090 --tls-self-signed
  iotwatch users add alice --role admin && iotwatch serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
  iotwatch serve --publish-viewers --min-cell 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen %q: %w", listen, err)}
			}
			loopback := web.IsLoopbackHost(host)
			if (tlsCert == "") != (tlsKey == "") {
				return usageError{errors.New("--tls-cert and --tls-key go together")}
			}
			if selfSigned && tlsCert != "" {
				return usageError{errors.New("--tls-self-signed or --tls-cert/--tls-key, not both")}
			}
			if selfSigned && !loopback {
				return usageError{fmt.Errorf("--tls-self-signed is for loopback only; beyond %s give --tls-cert and --tls-key", host)}
			}
			// Two handles on one database: the console's own writes
			// (sessions, audit log, jobs) go through a writing store, the
			// evidence is read through a read-only one that answers
			// concurrent requests side by side.
			st, err := g.openStoreForServe(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			ro, err := g.openStoreReadOnly(ctx)
			if err != nil {
				return err
			}
			defer ro.Close()
			if showSecrets && !st.CanReveal() {
				return fmt.Errorf("--show-secrets needs the database's secret key (%s); without it found secrets are sealed and show redacted", st.KeySource())
			}
			access := auth.New(st)
			admin, err := access.AdminExists(ctx)
			if err != nil {
				return err
			}
			if err := web.CheckExposure(host, admin); err != nil {
				return err
			}
			var tlsConfig *tls.Config
			switch {
			case tlsCert != "":
				c, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
				if err != nil {
					return fmt.Errorf("--tls-cert/--tls-key: %w", err)
				}
				tlsConfig = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
			case selfSigned:
				c, err := web.SelfSignedCert(certDir(g.dbPath), time.Now())
				if err != nil {
					return err
				}
				tlsConfig = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
			case !loopback:
				g.log.Warn("serving log-ins over plain HTTP beyond this machine: passwords and session cookies can be read on the way; use --tls-cert/--tls-key or a TLS proxy", "listen", listen)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("dashboard: %w", err)
			}
			scheme := "http"
			if tlsConfig != nil {
				ln, scheme = tls.NewListener(ln, tlsConfig), "https"
			}
			queue, err := jobs.New(ctx, st)
			if err != nil {
				return err
			}
			queue.SetLogger(g.log)
			river, err := web.RiverUI(ctx, st, g.log) // River's job UI, for admins at /admin/river/
			if err != nil {
				return err
			}
			var sso *web.OIDC
			if oidcIssuer != "" {
				if oidcClient == "" || oidcRedirect == "" {
					return usageError{errors.New("--oidc-issuer needs --oidc-client-id and --oidc-redirect-url")}
				}
				if sso, err = web.NewOIDC(ctx, oidcIssuer, oidcClient, os.Getenv("IOTWATCH_OIDC_CLIENT_SECRET"), oidcRedirect); err != nil {
					return err
				}
			}
			var publish *report.PublishOptions
			if publishViewers {
				if minCell < 1 {
					return usageError{fmt.Errorf("--min-cell %d: want 1 or more", minCell)}
				}
				path := pseudonymKey
				if path == "" {
					path = pseudonymKeyPath(g.dbPath)
				}
				an, created, err := loadPseudonymKey(path)
				if err != nil {
					return err
				}
				if created {
					g.log.Info("created pseudonym key: keep it to keep pseudonymous networks comparable across reports", "path", path)
				}
				publish = &report.PublishOptions{MinCell: minCell, Pseudonym: an.Addr, PseudoPrefix: an.Prefix}
			} else if pseudonymKey != "" {
				return usageError{errors.New("--pseudonym-key needs --publish-viewers")}
			}
			srv := web.New(ro, web.Options{OIDC: sso, Publish: publish, Log: g.log, ShowSecrets: showSecrets, Auth: access, LocalMode: loopback, TLS: tlsConfig != nil, Jobs: queue, RiverUI: river,
				Wire: func(ctx context.Context, in *report.Inputs) error { return stage.WireReport(ctx, ro, in) }})
			fmt.Fprintf(g.out, "dashboard on %s://%s/ (Ctrl-C stops)\n", scheme, ln.Addr())
			return web.Serve(ctx, ln, srv)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (beyond loopback only once an admin user exists)")
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	f.StringVar(&tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
	f.BoolVar(&selfSigned, "tls-self-signed", false, "serve HTTPS on loopback with a self-signed certificate generated once and kept beside the database")
	f.StringVar(&oidcIssuer, "oidc-issuer", "", "offer single sign-on through this OpenID Connect issuer (client secret in $IOTWATCH_OIDC_CLIENT_SECRET; users are linked with iotwatch users link)")
	f.StringVar(&oidcClient, "oidc-client-id", "", "client id registered at --oidc-issuer")
	f.StringVar(&oidcRedirect, "oidc-redirect-url", "", "this console's callback as the issuer knows it: https://HOST/login/oidc/callback")
	f.BoolVar(&publishViewers, "publish-viewers", false, "show viewers only the published report (report --publish): no device address, pseudonymous networks, small cells suppressed")
	f.IntVar(&minCell, "min-cell", report.DefaultMinCell, "with --publish-viewers: show a per-network or per-region row only if it counts at least N devices")
	f.StringVar(&pseudonymKey, "pseudonym-key", "", "with --publish-viewers: Crypto-PAn key FILE, created 0600 if absent (default: the one report --publish uses)")
	f.BoolVar(&showSecrets, "show-secrets", false, "show found passwords in full to admins (and on the local single-user dashboard) instead of redacted")
	return cmd
}

// openStoreForServe opens the existing database named by --db for the
// console, which writes sessions and the audit log: like a read-only
// command it never creates a missing SQLite file or its directory.
func (g *globals) openStoreForServe(ctx context.Context) (*store.Store, error) {
	if !strings.HasPrefix(g.dbPath, "postgres://") && !strings.HasPrefix(g.dbPath, "postgresql://") {
		if _, err := os.Stat(g.dbPath); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	return g.openStore(ctx)
}

// certDir is where the self-signed certificate is kept: beside a SQLite
// database, in the default database's directory for PostgreSQL.
func certDir(db string) string {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		db = store.DefaultPath()
	}
	return filepath.Dir(db)
}
