package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// TestExitCodes runs every command with the bad cases of the exit-code
// convention (README, "Command-line conventions"): usage errors exit 2,
// missing, unreadable or directory inputs and empty target sets exit 1, and
// every error is one line.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "iotwatch.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	missing := filepath.Join(dir, "missing.txt")
	tests := []struct {
		args []string
		code int
		msg  string // the one line contains this
	}{
		// Usage: unknown commands and flags, bad values, missing arguments.
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"runs", "--bogus"}, 2, "unknown flag"},
		{[]string{"runs", "extra"}, 2, "unknown command"},
		{[]string{"--log-level", "loud", "runs"}, 2, "--log-level"},
		{[]string{"runs", "--limit", "many"}, 2, "invalid argument"},
		{[]string{"scan"}, 2, "at least one TARGET"},
		{[]string{"scan", "127.0.0.1", "-p", "0"}, 2, "--ports"},
		{[]string{"audit", "127.0.0.1", "-p", "nonsense"}, 2, "--ports"},
		{[]string{"audit"}, 2, "requires at least"},
		{[]string{"firmware", "analyze"}, 2, "accepts 1 arg"},
		{[]string{"vulndb", "import", "--batch", "0", missing}, 2, "--batch"},
		{[]string{"vulndb", "show"}, 2, "accepts 1 arg"},
		{[]string{"report", "--from", "last tuesday"}, 2, "--from"},
		{[]string{"serve", "--listen", "nowhere"}, 2, "--listen"},
		{[]string{"flows", "ingest"}, 2, "give --pcap"},
		{[]string{"flows", "ingest", "--continue"}, 2, "flag needs an argument"},
		{[]string{"simulate", "--devices", "0"}, 2, "--devices"},
		{[]string{"label", "--format", "pdf"}, 2, "--format"},
		// Inputs: missing, unreadable or directory files exit 1.
		{[]string{"scan", "@" + missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"scan", "127.0.0.1", "--blocklist", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"scan", "127.0.0.1", "--blocklist", dir, "--no-store"}, 1, "is a directory"},
		{[]string{"audit", "127.0.0.1", "--creds", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"audit", "127.0.0.1", "--creds", dir, "--no-store"}, 1, "is a directory"},
		{[]string{"audit", "127.0.0.1", "--communities-file", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"audit", "127.0.0.1", "--communities", strings.Repeat("x", 300), "--no-store"}, 2, "--communities"},
		{[]string{"scan", "127.0.0.1", "--allowlist", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"scan", "127.0.0.1", "--fingerprints", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"assess", "--declaration", missing}, 1, "missing.txt"},
		{[]string{"label", "--entities", missing}, 1, "missing.txt"},
		{[]string{"simulate", "--profiles", missing}, 1, "missing.txt"},
		{[]string{"firmware", "analyze", dir, "--no-store"}, 1, "not a regular file"},
		{[]string{"flows", "ingest", "--pcap", missing}, 1, "missing.txt"},
		{[]string{"flows", "ingest", "--pcap", db, "--indicators", missing}, 1, "missing.txt"},
		{[]string{"flows", "detect", "--declarations", missing}, 1, "missing.txt"},
		{[]string{"flows", "ingest", "--zeek", missing}, 1, "missing.txt"},
		{[]string{"firmware", "analyze", missing, "--no-store"}, 1, "missing.txt"},
		{[]string{"vulndb", "import", missing}, 1, "missing.txt"},
		{[]string{"declare", "validate", missing}, 1, "invalid"},
		// No targets left after the blocklists: the same in scan and audit.
		{[]string{"scan", "224.0.0.1", "--no-store"}, 1, "no targets left"},
		{[]string{"audit", "224.0.0.1", "--no-store"}, 1, "no targets left"},
		// Read-only commands never create a database or its directory.
		{[]string{"--db", filepath.Join(dir, "nonexistent", "x", "y.db"), "runs"}, 1, "no such file"},
		{[]string{"--db", filepath.Join(dir, "nonexistent", "x", "y.db"), "report"}, 1, "no such file"},
		// A database that cannot be opened: the driver's error spans lines
		// (one per address and TLS mode tried), printed as one.
		{[]string{"--db", "postgres://iotwatch@127.0.0.1:1/iotwatch", "runs"}, 1, "connection refused"},
		{[]string{"--db", "mysql://u:pw@127.0.0.1/iotwatch", "runs"}, 1, "postgres://"},
		{[]string{"--db", "mysql://u:pw@127.0.0.1/iotwatch", "vulndb", "stats"}, 1, "postgres://"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if !strings.HasPrefix(args[0], "--") {
				args = append([]string{"--db", db}, args...)
			}
			var out, errOut bytes.Buffer
			err := Execute(context.Background(), args, &out, &errOut)
			if err == nil {
				t.Fatalf("succeeded, want exit %d", tt.code)
			}
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d", got, err, tt.code)
			}
			if msg := ErrorLine(err); strings.Contains(msg, "\n") || !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q: want one line containing %q", msg, tt.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nonexistent")); err == nil {
		t.Error("a read-only command created the database's directory")
	}
}

// TestRunsReadOnly lists runs through a read-only open and prints counts as
// key=value pairs, not Go's map syntax.
func TestRunsReadOnly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	run := &model.Run{Kind: "audit", Targets: []string{"127.0.0.1", "::1"}}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Counts = map[string]int64{"attempts": 4979, "services": 12}
	if err := st.EndRun(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errOut bytes.Buffer
	if err := Execute(ctx, []string{"--db", db, "runs"}, &out, &errOut); err != nil {
		t.Fatalf("runs: %v\n%s", err, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "attempts=4979 services=12") || !strings.Contains(s, "127.0.0.1 ::1") || strings.Contains(s, "map[") {
		t.Errorf("runs printed\n%s\nwant counts as attempts=4979 services=12 and targets space-separated", s)
	}
}

// TestCommandConventions walks the command tree: every command has an
// example, and the flags that mean the same thing have the same name.
func TestCommandConventions(t *testing.T) {
	var out, errOut bytes.Buffer
	root := newRoot(&globals{out: &out, errOut: &errOut})
	// Names that the convention retired, each with the one to use.
	retired := map[string]string{"out": "output", "no-save": "no-store"}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub)
		}
		if c == root {
			return
		}
		if strings.TrimSpace(c.Example) == "" || !strings.Contains(c.Example, "iotwatch "+c.Name()) && !strings.Contains(c.Example, " "+c.Name()) {
			t.Errorf("%s: no example of itself in --help", c.CommandPath())
		}
		for old, use := range retired { // the help teaches the current names
			if strings.Contains(c.Long+"\n"+c.Example, "--"+old+" ") || strings.Contains(c.Long+"\n"+c.Example, "--"+old+".") {
				t.Errorf("%s --help names --%s: say --%s", c.CommandPath(), old, use)
			}
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if use, ok := retired[f.Name]; ok && !(f.Hidden && f.Annotations["deprecated-alias-of"][0] == use) {
				t.Errorf("%s --%s: use --%s (keep the old name only as a deprecated alias)", c.CommandPath(), f.Name, use)
			}
			switch f.Name {
			case "output":
				if f.Shorthand != "o" {
					t.Errorf("%s --output: want the shorthand -o", c.CommandPath())
				}
			case "ports":
				if f.Shorthand != "p" {
					t.Errorf("%s --ports: want the shorthand -p", c.CommandPath())
				}
			}
			if f.Shorthand != "" && !strings.Contains("o p", f.Shorthand) {
				t.Errorf("%s -%s: only -o (--output) and -p (--ports) have shorthands", c.CommandPath(), f.Shorthand)
			}
		})
	}
	walk(root)
}

// TestAuditCommunities: --communities is a list as in scan, a file is
// --communities-file, and the old --communities FILE still reads the file.
func TestAuditCommunities(t *testing.T) {
	file := filepath.Join(t.TempDir(), "communities.txt")
	if err := os.WriteFile(file, []byte("# site\nfromfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flags auditFlags
		want  []string
		warn  bool
	}{
		{auditFlags{communities: "public,private"}, []string{"public", "private"}, false},
		{auditFlags{commFile: file}, []string{"fromfile"}, false},
		{auditFlags{communities: file}, []string{"fromfile"}, true},
	}
	for _, tt := range tests {
		var warn bytes.Buffer
		d, err := loadDictionary(&tt.flags, &warn)
		if err != nil {
			t.Fatalf("%+v: %v", tt.flags, err)
		}
		var got []string
		for _, e := range d.Communities {
			got = append(got, e.Password)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") || (warn.Len() > 0) != tt.warn {
			t.Errorf("%+v: communities %q, warning %q; want %q, warning %v", tt.flags, got, warn.String(), tt.want, tt.warn)
		}
	}
}

// TestStoreMigrate: a read-only command on a database an older iotwatch
// wrote (here: one without any schema) names the command that migrates it,
// and that command does: the read-only command then works. It never creates
// a database.
func TestStoreMigrate(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := Execute(ctx, []string{"--db", db, "runs"}, &out, &errOut)
	want := "iotwatch store migrate --db " + db
	if err == nil || !strings.Contains(ErrorLine(err), want) {
		t.Fatalf("runs on an outdated database: %v, want an error naming `%s`", err, want)
	}
	out.Reset()
	if err := Execute(ctx, []string{"--db", db, "store", "migrate"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("store migrate: %q, %v\n%s", out.String(), err, errOut.String())
	}
	if err := Execute(ctx, []string{"--db", db, "runs"}, &out, &errOut); err != nil {
		t.Errorf("runs after store migrate: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	if err := Execute(ctx, []string{"--db", missing, "store", "migrate"}, &out, &errOut); err == nil {
		t.Error("store migrate of a missing database succeeded")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("store migrate created a database")
	}
	for db, want := range map[string]string{
		"/var/lib/iotwatch.db":           "iotwatch store migrate --db /var/lib/iotwatch.db",
		"/tmp/my db.db":                  "iotwatch store migrate --db '/tmp/my db.db'",
		"postgres://u:secret@h/iotwatch": "iotwatch store migrate --db DSN",
	} {
		if got := migrateCommand(db); got != want {
			t.Errorf("migrateCommand(%q) = %q, want %q", db, got, want)
		}
	}
}
