package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/auth"
)

// run executes the command line with stdin and returns standard output.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&globals{out: &out, errOut: &errOut})
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	if err != nil && isUsage(err) {
		err = usageError{err}
	}
	return out.String(), err
}

// TestUsersTokensAuditLog walks the access commands as an admin setting up a
// console would, and reads the result back from the audit log export.
func TestUsersTokensAuditLog(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := runCLI(t, stdin, append([]string{"--db", db}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out
	}
	must("a long admin passphrase\n", "users", "add", "root", "--role", "admin")
	must("operator passphrase\n", "users", "add", "bob", "--role", "operator")
	if out := must("", "users", "scope", "add", "bob", "10.20.3.4/16"); !strings.Contains(out, "10.20.0.0/16") {
		t.Errorf("scope add printed %q, want the masked prefix", out)
	}
	must("", "users", "scope", "add", "bob", "127.0.0.1")
	if out := must("", "users", "list"); !strings.Contains(out, "bob") || !strings.Contains(out, "10.20.0.0/16 127.0.0.1/32") || !strings.Contains(out, "operator") {
		t.Errorf("users list:\n%s", out)
	}
	secret := strings.TrimSpace(must("", "tokens", "create", "bob", "--name", "ci", "--expires", "7d"))
	if !strings.HasPrefix(secret, auth.TokenPrefix) {
		t.Fatalf("tokens create printed %q", secret)
	}
	if out := must("", "tokens", "list"); strings.Contains(out, secret) || !strings.Contains(out, "active") {
		t.Errorf("tokens list (must not show the secret):\n%s", out)
	}
	must("", "tokens", "revoke", "1")
	if out := must("", "tokens", "list", "bob"); !strings.Contains(out, "revoked") {
		t.Errorf("tokens list after revoke:\n%s", out)
	}
	must("", "users", "unlock", "bob")
	must("", "users", "disable", "bob")
	var users []auth.User
	for _, l := range strings.Split(strings.TrimSpace(must("", "--json", "users", "list")), "\n") {
		var u auth.User
		if err := json.Unmarshal([]byte(l), &u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if len(users) != 2 || users[0].Name != "bob" || !users[0].Disabled || users[1].Role != auth.Admin {
		t.Errorf("users --json: %+v", users)
	}
	var actions []string
	for _, l := range strings.Split(strings.TrimSpace(must("", "audit-log", "export")), "\n") {
		var e auth.Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if !strings.HasPrefix(e.Actor, "cli:") {
			t.Errorf("entry %+v: actor not the command line", e)
		}
		actions = append(actions, e.Action)
	}
	want := "user.add user.add scope.add scope.add token.create token.revoke user.unlock user.disable"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit log actions:\n got %s\nwant %s", got, want)
	}
	// Bad uses.
	for _, tt := range []struct {
		stdin string
		args  []string
		code  int
	}{
		{"short\n", []string{"users", "add", "x"}, 2},
		{"long enough password\n", []string{"users", "add", "x", "--role", "god"}, 2},
		{"long enough password\n", []string{"users", "add", "root"}, 1},
		{"", []string{"users", "scope", "add", "bob", "10.0.0.0/99"}, 2},
		{"", []string{"users", "scope", "add", "nobody", "10.0.0.0/8"}, 1},
		{"", []string{"tokens", "create", "bob", "--expires", "-1d"}, 2},
		{"", []string{"tokens", "create", "bob"}, 1}, // disabled
		{"", []string{"tokens", "revoke", "x"}, 2},
		{"", []string{"tokens", "revoke", "99"}, 1},
		{"", []string{"users", "unlock", "nobody"}, 1},
	} {
		_, err := runCLI(t, tt.stdin, append([]string{"--db", db}, tt.args...)...)
		if got := ExitCode(err); got != tt.code {
			t.Errorf("%v: exit %d (%v), want %d", tt.args, got, err, tt.code)
		}
	}
}

// TestJobsSubmitAs: a job submitted as a console user is checked against the
// user's scopes; a refusal says why, and both outcomes are in the audit log.
func TestJobsSubmitAs(t *testing.T) {
	db := filepath.Join(t.TempDir(), "iotwatch.db")
	cli := func(stdin string, args ...string) (string, error) {
		return runCLI(t, stdin, append([]string{"--db", db}, args...)...)
	}
	for _, u := range [][]string{{"op", "operator"}, {"an", "analyst"}} {
		if _, err := cli("a long enough password\n", "users", "add", u[0], "--role", u[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli("", "users", "scope", "add", "op", "127.78.1.0/24"); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("", "jobs", "submit", "scan", "127.78.1.0/25", "--as", "op"); err != nil || !strings.Contains(out, "submitted scan") {
		t.Fatalf("in scope: %q %v", out, err)
	}
	for _, tt := range []struct {
		args   []string
		reason string
	}{
		{[]string{"jobs", "submit", "scan", "127.78.0.0/16", "--as", "op"}, "127.78.0.0"},
		{[]string{"jobs", "submit", "scan", "127.78.1.1", "--as", "an"}, "operator role"},
		{[]string{"schedule", "add", "nightly", "--every", "24h", "--as", "op", "--", "scan", "10.0.0.0/8"}, "10.0.0.0"},
	} {
		_, err := cli("", tt.args...)
		if err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), tt.reason) || ExitCode(err) != 1 {
			t.Errorf("%v: %v, want a refusal naming %s", tt.args, err, tt.reason)
		}
	}
	if _, err := cli("", "schedule", "add", "nightly", "--every", "24h", "--as", "op", "--", "scan", "127.78.1.0/24"); err != nil {
		t.Errorf("schedule in scope: %v", err)
	}
	if _, err := cli("", "jobs", "submit", "scan", "127.78.1.1", "--as", "nobody"); ExitCode(err) != 1 {
		t.Errorf("--as an unknown user: %v", err)
	}
	out, err := cli("", "audit-log", "export")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e auth.Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Action, "job.") || strings.HasPrefix(e.Action, "schedule.") {
			got = append(got, e.Actor+" "+e.Action+" "+e.Outcome)
		}
	}
	want := "op job.submit ok|op job.submit refused|an job.submit refused|op schedule.add refused|op schedule.add ok"
	if strings.Join(got, "|") != want {
		t.Errorf("audit log:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}
