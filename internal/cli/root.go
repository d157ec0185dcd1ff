// Package cli is the iotwatch command line: flags, wiring and output. The
// library packages are the product; this is one client of them.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iotwatch/internal/store"
	"iotwatch/internal/target"
)

// globals are the flags every command shares.
type globals struct {
	dbPath   string
	json     bool
	logLevel string
	out      io.Writer
	errOut   io.Writer
	log      *slog.Logger
}

// usageError marks errors caused by bad flags or arguments (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// ExitCode maps an error from Execute to a process exit code, the one
// convention of every command (README, "Command-line conventions"):
//
//	0    success
//	1    any failure that is not a usage error: an input file that is
//	     missing, unreadable or a directory, no targets left after the
//	     blocklists, a database or network failure
//	2    usage: an unknown command or flag, a bad flag value or argument,
//	     a missing required argument
//	130  interrupted (Ctrl-C, SIGTERM)
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return 130
	case isInputError(err):
		return 1
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// ErrorLine is the one line main prints for err on standard error:
// "iotwatch: " and the message with its line breaks folded, as an error
// may span lines (errors.Join; the PostgreSQL driver lists each address it
// tried on a line of its own).
func ErrorLine(err error) string {
	var b strings.Builder
	b.WriteString("iotwatch: ")
	for i, l := range strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(l)
		if i > 0 && !strings.HasSuffix(b.String(), ":") {
			b.WriteString(";")
		}
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// isInputError reports whether err is about the files or targets the user
// named rather than about how the command was written: such errors exit 1
// even when the code that found them marked them as usage errors.
func isInputError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, target.ErrEmpty)
}

// Execute runs the command line args, writing to out and errOut.
func Execute(ctx context.Context, args []string, out, errOut io.Writer) error {
	root := newRoot(&globals{out: out, errOut: errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && isUsage(err) {
		return usageError{err}
	}
	return err
}

// newRoot builds the command tree writing to g.out and g.errOut.
func newRoot(g *globals) *cobra.Command {
	out, errOut := g.out, g.errOut
	root := &cobra.Command{
		Use:           "iotwatch",
		Short:         "Measure the security of IoT device populations",
		Long:          "iotwatch scans, audits and assesses IoT devices and turns the measurements into evidence, labels and threat reports.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %w", err)}
			}
			g.log = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: lvl}))
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.dbPath, "db", store.DefaultPath(), "evidence database: a SQLite file path or a postgres:// URL (env IOTWATCH_DB)")
	pf.BoolVar(&g.json, "json", false, "print JSON (JSON Lines for lists) instead of tables")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")

	// One explicit list of commands.
	for _, c := range []*cobra.Command{
		newVersionCmd(g),
		newRunsCmd(g), newDemoCmd(g),
		newReportCmd(g), newServeCmd(g),
		newVulnDBCmd(g),
		newSimulateCmd(g),
		newScanCmd(g),
		newAuditCmd(g),
		newAssessCmd(g), newLabelCmd(g), newDeclareCmd(g),
		newFirmwareCmd(g),
		newFlowsCmd(g),
		newUsersCmd(g), newTokensCmd(g), newAuditLogCmd(g),
		newStoreCmd(g),
		newWorkerCmd(g), newJobsCmd(g), newScheduleCmd(g),
	} {
		root.AddCommand(c)
	}
	return root
}

// isUsage reports whether err came from cobra's own command, argument and
// flag checks.
func isUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"invalid argument", "required flag", "flag needs an argument", "bad flag syntax", "if any flags in the group"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// openStore opens the evidence database named by --db, creating and
// migrating it if needed.
func (g *globals) openStore(ctx context.Context) (*store.Store, error) {
	st, err := store.Open(ctx, g.dbPath)
	if err == nil {
		g.warnModes(st)
	}
	return st, err
}

// warnModes warns about database files others could read (see
// store.ModeNotes).
func (g *globals) warnModes(st *store.Store) {
	if g.log == nil {
		return
	}
	for _, n := range st.ModeNotes() {
		g.log.Warn("database file permissions", "note", n)
	}
}

// openStoreReadOnly opens the existing database named by --db for commands
// that only read (runs, report, serve): no file or directory is created.
func (g *globals) openStoreReadOnly(ctx context.Context) (*store.Store, error) {
	st, err := store.OpenReadOnly(ctx, g.dbPath)
	if errors.Is(err, store.ErrSchemaOutdated) {
		return nil, fmt.Errorf("%w: run `%s` to migrate it", err, migrateCommand(g.dbPath))
	}
	if err == nil {
		g.warnModes(st)
	}
	return st, err
}

// migrateCommand is the command that migrates the database db, naming a
// file's path but never a PostgreSQL DSN (it may hold a password).
func migrateCommand(db string) string {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "iotwatch store migrate --db DSN"
	}
	if strings.ContainsAny(db, " \t'\"$`\\") {
		db = "'" + strings.ReplaceAll(db, "'", `'\''`) + "'"
	}
	return "iotwatch store migrate --db " + db
}

// printJSONLines writes each item as one JSON line.
func printJSONLines[T any](w io.Writer, items []T) error {
	bw := bufio.NewWriterSize(w, 64<<10) // one write per line would be a syscall per line
	enc := json.NewEncoder(bw)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// table is a tabwriter over a buffer: tabwriter writes cell by cell, which
// on an unbuffered stdout is a system call per cell (a 150,000-line listing
// spent most of its time there). Flush flushes both.
type table struct {
	*tabwriter.Writer
	buf *bufio.Writer
}

func newTable(w io.Writer) *table {
	buf := bufio.NewWriterSize(w, 64<<10)
	return &table{Writer: tabwriter.NewWriter(buf, 0, 4, 2, ' ', 0), buf: buf}
}

// Flush writes the table out.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

// isTerminal reports whether w is an interactive terminal (for progress bars).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// deprecatedAlias registers old as a hidden spelling of the flag name that
// sets the same value and warns on standard error that it is deprecated (one
// convention for every command; old scripts keep working).
func deprecatedAlias(g *globals, fs *pflag.FlagSet, old, name string) {
	f := fs.Lookup(name)
	fs.AddFlag(&pflag.Flag{
		Name: old, Usage: "deprecated: use --" + name, Hidden: true, DefValue: f.DefValue, NoOptDefVal: f.NoOptDefVal,
		Value:       aliasValue{Value: f.Value, warn: func() { fmt.Fprintf(g.errOut, "iotwatch: --%s is deprecated; use --%s\n", old, name) }},
		Annotations: map[string][]string{"deprecated-alias-of": {name}},
	})
}

// aliasValue is the value of a deprecated flag: it sets the new flag's value.
type aliasValue struct {
	pflag.Value
	warn func()
}

func (a aliasValue) Set(s string) error {
	a.warn()
	return a.Value.Set(s)
}
