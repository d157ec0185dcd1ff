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
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"iotwatch/internal/store"
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

// ExitCode maps an error from Execute to a process exit code.
func ExitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}

// Execute runs the command line args, writing to out and errOut.
func Execute(ctx context.Context, args []string, out, errOut io.Writer) error {
	g := &globals{out: out, errOut: errOut}
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
	root.SetArgs(args)
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
	} {
		root.AddCommand(c)
	}
	err := root.ExecuteContext(ctx)
	if err != nil && isUsage(err) {
		return usageError{err}
	}
	return err
}

// isUsage reports whether err came from cobra's own argument checks.
func isUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "accepts ") ||
		strings.HasPrefix(s, "requires at least") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "invalid argument")
}

// openStore opens the evidence database named by --db.
func (g *globals) openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, g.dbPath)
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
