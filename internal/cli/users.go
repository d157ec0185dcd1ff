package cli

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"iotwatch/internal/auth"
	"iotwatch/internal/fsutil"
)

// cliActor is who the audit log records for a change made on the command
// line: the operating-system user running iotwatch.
func cliActor() auth.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return auth.Actor{Name: "cli:" + cmp.Or(name, "unknown"), Remote: "local"}
}

// readPassword reads a new password: asked twice without echo on a
// terminal, else the first line of standard input.
func readPassword(cmd *cobra.Command, g *globals) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(g.errOut, "password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(g.errOut, "again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.errOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(a) != string(b) {
			return "", usageError{errors.New("the two passwords differ")}
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < auth.MinPasswordLen {
		return "", usageError{fmt.Errorf("password (first line of standard input): want at least %d characters", auth.MinPasswordLen)}
	}
	return pw, nil
}

func newUsersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the console's users, their roles and their target scopes",
		Long: `users manages who may use the console (iotwatch serve). Roles, each including the ones before:
viewer (reports and aggregates), analyst (device evidence, secrets redacted), operator (submit,
schedule and cancel jobs within their target scopes), admin (users, scopes, tokens, audit log,
secrets). Once a user exists the console asks everyone to log in; serving beyond loopback needs an
admin. Every change is recorded in the audit log (iotwatch audit-log export).`,
		Example: `  iotwatch users add alice --role admin
  echo 'a long passphrase' | iotwatch users add bob --role operator
  iotwatch users scope add bob 10.20.0.0/16
  iotwatch users list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user with a role; the password is asked for (or read from the first line of standard input)",
		Example: `  iotwatch users add alice --role admin
  printf '%s\n' "$PASS" | iotwatch users add ci --role viewer`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageError{fmt.Errorf("--role: %w", err)}
			}
			pw, err := readPassword(cmd, g)
			if err != nil {
				return err
			}
			return withAuth(cmd, g, func(s *auth.Service) error {
				u, err := s.AddUser(cmd.Context(), args[0], r, pw, cliActor())
				if err != nil {
					return err
				}
				fmt.Fprintf(g.out, "user %s added (%s)\n", u.Name, u.Role)
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "viewer", "role: viewer, analyst, operator or admin")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List users with role, state and scopes",
		Example: `  iotwatch users list --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAuth(cmd, g, func(s *auth.Service) error {
				us, err := s.Users(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return printJSONLines(g.out, us)
				}
				tw := newTable(g.out)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tLAST LOG-IN\tSCOPES")
				for _, u := range us {
					state := "active"
					switch {
					case u.Disabled:
						state = "disabled"
					case u.Locked:
						state = "locked"
					}
					last := "-"
					if !u.LastLoginAt.IsZero() {
						last = u.LastLoginAt.Format("2006-01-02 15:04")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, state, last, cmp.Or(strings.Join(u.Scopes, " "), "-"))
				}
				return tw.Flush()
			})
		},
	}
	simple := func(use, short, example, done string, fn func(*auth.Service, *cobra.Command, string) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Example: example, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withAuth(cmd, g, func(s *auth.Service) error {
					if err := fn(s, cmd, args[0]); err != nil {
						return err
					}
					fmt.Fprintf(g.out, "user %s %s\n", args[0], done)
					return nil
				})
			},
		}
	}
	disable := simple("disable", "Disable a user: log-in, sessions and API tokens stop working", "  iotwatch users disable bob", "disabled",
		func(s *auth.Service, cmd *cobra.Command, name string) error {
			return s.Disable(cmd.Context(), name, cliActor())
		})
	enable := simple("enable", "Enable a disabled user again", "  iotwatch users enable bob", "enabled",
		func(s *auth.Service, cmd *cobra.Command, name string) error {
			return s.Enable(cmd.Context(), name, cliActor())
		})
	unlock := simple("unlock", "Unlock a user locked out after repeated failed log-ins", "  iotwatch users unlock bob", "unlocked",
		func(s *auth.Service, cmd *cobra.Command, name string) error {
			return s.Unlock(cmd.Context(), name, cliActor())
		})
	password := &cobra.Command{
		Use: "password NAME", Short: "Set a user's password (asked for, or the first line of standard input)",
		Example: "  iotwatch users password bob", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, g)
			if err != nil {
				return err
			}
			return withAuth(cmd, g, func(s *auth.Service) error {
				if err := s.SetPassword(cmd.Context(), args[0], pw, cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "password of %s set\n", args[0])
				return nil
			})
		},
	}
	link := &cobra.Command{
		Use: "link NAME SUBJECT", Short: "Link a user to a single sign-on subject (the OpenID Connect sub claim; \"\" unlinks)",
		Example: "  iotwatch users link alice 248289761001", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAuth(cmd, g, func(s *auth.Service) error {
				if err := s.LinkSubject(cmd.Context(), args[0], args[1], cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "user %s linked to subject %q\n", args[0], args[1])
				return nil
			})
		},
	}
	setRole := &cobra.Command{
		Use: "role NAME ROLE", Short: "Change a user's role (viewer, analyst, operator or admin)",
		Example: "  iotwatch users role bob analyst", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return usageError{err}
			}
			return withAuth(cmd, g, func(s *auth.Service) error {
				if err := s.SetRole(cmd.Context(), args[0], r, cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "user %s is now %s\n", args[0], r)
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, disable, enable, unlock, password, setRole, link, newScopeCmd(g))
	return cmd
}

func newScopeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scope",
		Short: "Grant, withdraw and list the CIDR target scopes a user may scan and audit",
		Example: `  iotwatch users scope add bob 10.20.0.0/16
  iotwatch users scope remove bob 10.20.0.0/16
  iotwatch users scope list bob`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	change := func(verb, short string, fn func(*auth.Service, *cobra.Command, string, netip.Prefix) error) *cobra.Command {
		return &cobra.Command{
			Use: verb + " USER CIDR", Short: short, Example: "  iotwatch users scope " + verb + " bob 10.20.0.0/16", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := auth.ParseScope(args[1])
				if err != nil {
					return usageError{err}
				}
				return withAuth(cmd, g, func(s *auth.Service) error {
					if err := fn(s, cmd, args[0], p); err != nil {
						return err
					}
					fmt.Fprintf(g.out, "scope %s of %s: %sed\n", p.Masked(), args[0], strings.TrimSuffix(verb, "e"))
					return nil
				})
			},
		}
	}
	list := &cobra.Command{
		Use: "list USER", Short: "List a user's target scopes", Example: "  iotwatch users scope list bob", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAuth(cmd, g, func(s *auth.Service) error {
				u, err := s.User(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if g.json {
					return printJSONLines(g.out, u.Scopes)
				}
				for _, p := range u.Scopes {
					fmt.Fprintln(g.out, p)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(
		change("add", "Grant a user a target scope", func(s *auth.Service, cmd *cobra.Command, user string, p netip.Prefix) error {
			return s.AddScope(cmd.Context(), user, p, cliActor())
		}),
		change("remove", "Withdraw a target scope from a user", func(s *auth.Service, cmd *cobra.Command, user string, p netip.Prefix) error {
			return s.RemoveScope(cmd.Context(), user, p, cliActor())
		}),
		list)
	return cmd
}

// withAuth opens the database (creating it if needed: users can be added
// before the first scan) and runs fn on its access service.
func withAuth(cmd *cobra.Command, g *globals, fn func(*auth.Service) error) error {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(auth.New(st))
}

// parseExpiry parses a token lifetime: a Go duration (720h) or days (90d).
func parseExpiry(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("--expires %q: want 1d to 3650d or a duration such as 720h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, fmt.Errorf("--expires %q: want a positive duration such as 720h or 90d", s)
	}
	return dur, nil
}

func newTokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke API tokens (Authorization: Bearer) for the console's API",
		Long: `tokens manages API tokens. A token acts with its user's role and scopes; it is shown once when
created, only its SHA-256 hash is stored, it expires, and it can be revoked.`,
		Example: `  iotwatch tokens create ci --name nightly --expires 30d
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/runs
  iotwatch tokens list
  iotwatch tokens revoke 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var name, expires string
	create := &cobra.Command{
		Use: "create USER", Short: "Create an API token for a user; the token is printed once",
		Example: "  iotwatch tokens create ci --name prometheus --expires 365d", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ttl, err := parseExpiry(expires)
			if err != nil {
				return usageError{err}
			}
			return withAuth(cmd, g, func(s *auth.Service) error {
				secret, t, err := s.CreateToken(cmd.Context(), args[0], name, ttl, cliActor())
				if err != nil {
					return err
				}
				if g.json {
					return printJSONLines(g.out, []any{struct {
						auth.Token
						Secret string `json:"secret"`
					}{t, secret}})
				}
				fmt.Fprintln(g.out, secret)
				fmt.Fprintf(g.errOut, "token %d for %s, expires %s: store it now, it is not shown again\n", t.ID, t.User, t.ExpiresAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for")
	create.Flags().StringVar(&expires, "expires", "90d", "lifetime: days (90d) or a duration (720h)")
	list := &cobra.Command{
		Use: "list [USER]", Short: "List API tokens (never their secrets)", Example: "  iotwatch tokens list ci", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAuth(cmd, g, func(s *auth.Service) error {
				ts, err := s.Tokens(cmd.Context(), strings.Join(args, ""))
				if err != nil {
					return err
				}
				if g.json {
					return printJSONLines(g.out, ts)
				}
				now := time.Now()
				tw := newTable(g.out)
				fmt.Fprintln(tw, "ID\tUSER\tNAME\tSTARTS\tSTATE\tEXPIRES\tLAST USED")
				for _, t := range ts {
					state := "active"
					switch {
					case !t.RevokedAt.IsZero():
						state = "revoked"
					case !t.Active(now):
						state = "expired"
					}
					used := "-"
					if !t.LastUsedAt.IsZero() {
						used = t.LastUsedAt.Format("2006-01-02 15:04")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.User, cmp.Or(t.Name, "-"), t.Hint, state, t.ExpiresAt.Format("2006-01-02 15:04"), used)
				}
				return tw.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API token", Example: "  iotwatch tokens revoke 3", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageError{fmt.Errorf("token id %q: want the number from `iotwatch tokens list`", args[0])}
			}
			return withAuth(cmd, g, func(s *auth.Service) error {
				if err := s.RevokeToken(cmd.Context(), id, cliActor()); err != nil {
					return err
				}
				fmt.Fprintf(g.out, "token %d revoked\n", id)
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newAuditLogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit-log",
		Short: "Read the console's append-only audit log (log-ins, jobs, scopes, users, secrets revealed)",
		Example: `  iotwatch audit-log export -o audit.jsonl
  iotwatch audit-log export --after 1200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var (
		after int64
		out   string
	)
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the audit log as JSON Lines, oldest first",
		Example: `  iotwatch audit-log export > audit.jsonl
  iotwatch audit-log export --after "$(tail -1 audit.jsonl | jq .id)" >> audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStoreReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			s := auth.New(st)
			if out == "" {
				_, err := s.ExportAudit(cmd.Context(), g.out, after)
				return err
			}
			var n int
			err = fsutil.WriteFileAtomic(out, 0o600, func(w io.Writer) error {
				var err error
				n, err = s.ExportAudit(cmd.Context(), w, after)
				return err
			})
			if err == nil {
				fmt.Fprintf(g.errOut, "%d audit entries written to %s\n", n, out)
			}
			return err
		},
	}
	export.Flags().Int64Var(&after, "after", 0, "only entries after this id (for incremental exports)")
	export.Flags().StringVarP(&out, "output", "o", "", "write to this file (mode 0600) instead of standard output")
	cmd.AddCommand(export)
	return cmd
}
