package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// testParams keep tests fast; the format and the verification are the same.
var testParams = Params{Memory: 1024, Time: 1, Threads: 1}

// backends opens a fresh store on SQLite and, when IOTWATCH_TEST_PG is set,
// on PostgreSQL, and runs fn on each.
func backends(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "iotwatch.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := store.Open(context.Background(), testpeer.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(st *store.Store) (*Service, *clock) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	s := New(st)
	s.Now, s.Hasher = c.now, Hasher{Params: testParams}
	return s, c
}

var cli = Actor{Name: "cli:root"}

func TestPasswordHash(t *testing.T) {
	h := Hasher{Params: testParams}
	phc := h.Hash("correct horse battery staple")
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string", phc)
	}
	if phc == h.Hash("correct horse battery staple") {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse battery staple", true}, {"correct horse battery stapl", false}, {"", false}} {
		ok, err := Verify(phc, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaA"} {
		if _, err := Verify(bad, "x"); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

func TestLoginAndLockOut(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, _ := newService(st)
		if _, err := s.AddUser(ctx, "alice", Operator, "short", cli); err == nil {
			t.Error("a short password was accepted")
		}
		if _, err := s.AddUser(ctx, "alice", Operator, "alice's long password", cli); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddUser(ctx, "alice", Viewer, "another long password", cli); !errors.Is(err, ErrExists) {
			t.Errorf("second add: %v, want ErrExists", err)
		}
		secret, p, err := s.Login(ctx, "alice", "alice's long password", "127.0.0.1")
		if err != nil || p.Role != Operator || p.CSRF == "" || secret == "" {
			t.Fatalf("log-in: %+v %v", p, err)
		}
		got, err := s.Session(ctx, secret)
		if err != nil || got.Name != "alice" || got.CSRF != p.CSRF {
			t.Errorf("session: %+v %v", got, err)
		}
		if _, _, err := s.Login(ctx, "nobody", "whatever password", "127.0.0.9"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("unknown user: %v", err)
		}
		// Four wrong passwords, then the right one resets the count.
		for range s.MaxFailures - 1 {
			if _, _, err := s.Login(ctx, "alice", "guess", "127.0.0.9"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
		}
		if _, _, err := s.Login(ctx, "alice", "alice's long password", "127.0.0.1"); err != nil {
			t.Fatalf("log-in after 4 failures: %v", err)
		}
		// Five in a row lock the account, even for the right password.
		for i := range s.MaxFailures {
			_, _, err := s.Login(ctx, "alice", "guess", "127.0.0.9")
			if want := ErrBadCredentials; i == s.MaxFailures-1 {
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("failure %d: %v, want ErrLocked", i+1, err)
				}
			} else if !errors.Is(err, want) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if _, _, err := s.Login(ctx, "alice", "alice's long password", "127.0.0.1"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "iotwatch users unlock") {
			t.Fatalf("locked log-in: %v, want ErrLocked naming the unlock command", err)
		}
		if err := s.Unlock(ctx, "alice", cli); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice's long password", "127.0.0.1"); err != nil {
			t.Fatalf("log-in after unlock: %v", err)
		}
		// Disabling ends sessions and log-ins.
		if err := s.Disable(ctx, "alice", cli); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("session of a disabled user: %v", err)
		}
		if _, _, err := s.Login(ctx, "alice", "alice's long password", "127.0.0.1"); !errors.Is(err, ErrDisabled) {
			t.Errorf("log-in of a disabled user: %v", err)
		}
		// The audit log saw all of it.
		counts := map[string]int{}
		if err := s.Audit(ctx, AuditQuery{}, func(e Entry) error { counts[e.Action+" "+e.Outcome]++; return nil }); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"user.add ok": 1, "login ok": 3, "login failed": 1 + 4 + 5 + 1 + 1, "user.lock ok": 1, "user.unlock ok": 1, "user.disable ok": 1}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("audit %q: %d entries, want %d (all: %v)", k, counts[k], n, counts)
			}
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, c := newService(st)
		if _, err := s.AddUser(ctx, "bob", Viewer, "bob's long password", cli); err != nil {
			t.Fatal(err)
		}
		secret, p, err := s.Login(ctx, "bob", "bob's long password", "")
		if err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(s.SessionTTL - time.Minute)
		if _, err := s.Session(ctx, secret); err != nil {
			t.Errorf("session before expiry: %v", err)
		}
		c.t = c.t.Add(2 * time.Minute)
		if _, err := s.Session(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("expired session: %v", err)
		}
		secret2, p2, err := s.Login(ctx, "bob", "bob's long password", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Logout(ctx, p2, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, secret2); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("session after log-out: %v", err)
		}
		_ = p
		if _, err := s.Session(ctx, "forged"); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("forged session: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, c := newService(st)
		if _, err := s.AddUser(ctx, "carol", Analyst, "carol's long password", cli); err != nil {
			t.Fatal(err)
		}
		secret, tok, err := s.CreateToken(ctx, "carol", "ci", 24*time.Hour, cli)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, TokenPrefix) || !strings.HasPrefix(secret, tok.Hint) || len(secret) < 40 {
			t.Errorf("token %q hint %q", secret, tok.Hint)
		}
		// Only the hash is stored.
		var n int
		if err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR name = ?`), secret, secret).Scan(&n); err != nil || n != 0 {
			t.Errorf("the secret is stored in clear (%d rows, %v)", n, err)
		}
		p, err := s.TokenPrincipal(ctx, secret)
		if err != nil || p.Name != "carol" || p.Role != Analyst || p.Via != "token" {
			t.Fatalf("token principal: %+v %v", p, err)
		}
		if _, err := s.TokenPrincipal(ctx, secret+"x"); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("altered token: %v", err)
		}
		c.t = c.t.Add(25 * time.Hour)
		if _, err := s.TokenPrincipal(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("expired token: %v", err)
		}
		secret2, tok2, err := s.CreateToken(ctx, "carol", "ci2", 24*time.Hour, cli)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, tok2.ID, cli); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenPrincipal(ctx, secret2); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("revoked token: %v", err)
		}
		if err := s.RevokeToken(ctx, 999, cli); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown token: %v", err)
		}
		ts, err := s.Tokens(ctx, "carol")
		if err != nil || len(ts) != 2 || ts[0].ID != tok2.ID || ts[0].RevokedAt.IsZero() || ts[1].LastUsedAt.IsZero() {
			t.Errorf("tokens: %+v %v", ts, err)
		}
	})
}

func TestScopes(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, _ := newService(st)
		if _, err := s.AddUser(ctx, "dave", Operator, "dave's long password", cli); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"10.1.2.3/16", "127.0.0.0/8", "10.1.0.0/16"} {
			if err := s.AddScope(ctx, "dave", netip.MustParsePrefix(p), cli); err != nil {
				t.Fatal(err)
			}
		}
		u, err := s.User(ctx, "dave")
		if err != nil || strings.Join(u.Scopes, " ") != "10.1.0.0/16 127.0.0.0/8" {
			t.Errorf("scopes %v %v, want 10.1.0.0/16 127.0.0.0/8", u.Scopes, err)
		}
		if err := s.RemoveScope(ctx, "dave", netip.MustParsePrefix("10.1.0.0/16"), cli); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveScope(ctx, "dave", netip.MustParsePrefix("10.1.0.0/16"), cli); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second removal: %v", err)
		}
		if err := s.AddScope(ctx, "nobody", netip.MustParsePrefix("10.0.0.0/8"), cli); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("scope of unknown user: %v", err)
		}
	})
}

// TestAuditAppendOnly checks that the database refuses to change or delete
// an audit entry, and that the export is JSON Lines, oldest first.
func TestAuditAppendOnly(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, _ := newService(st)
		for _, a := range []string{"job.submit", "secret.reveal"} {
			if err := s.Record(ctx, Entry{Actor: "erin", Action: a, Outcome: "ok", Remote: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`} {
			if _, err := st.DB().ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want a refusal", q, err)
			}
		}
		var buf bytes.Buffer
		n, err := s.ExportAudit(ctx, &buf, 0)
		if err != nil || n != 2 {
			t.Fatalf("export: %d, %v", n, err)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var first Entry
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || len(lines) != 2 || first.Action != "job.submit" || first.Actor != "erin" {
			t.Errorf("export: %q (%v)", buf.String(), err)
		}
		if n, err := s.ExportAudit(ctx, &bytes.Buffer{}, first.ID); err != nil || n != 1 {
			t.Errorf("export after the first: %d, %v", n, err)
		}
	})
}

func TestAuthorizeTargets(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s, _ := newService(st)
		for _, u := range []struct {
			name string
			role Role
		}{{"op", Operator}, {"an", Analyst}} {
			if _, err := s.AddUser(ctx, u.name, u.role, "a long enough password", cli); err != nil {
				t.Fatal(err)
			}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.AddScope(ctx, "op", netip.MustParsePrefix("127.78.0.0/24"), cli))
		op, err := s.AsUser(ctx, "op")
		must(err)
		an, err := s.AsUser(ctx, "an")
		must(err)
		for _, tt := range []struct {
			p       Principal
			targets []string
			ok      bool
			reason  string
		}{
			{op, []string{"127.78.0.0/24"}, true, ""},
			{op, []string{"127.78.0.5", "127.78.0.10-20"}, true, ""},
			{op, []string{"127.78.0.0/23"}, false, "127.78.1.0"},
			{op, []string{"127.78.0.1", "10.0.0.1"}, false, "10.0.0.1"},
			{op, []string{"camera.example"}, false, "host name"},
			{op, []string{"@/etc/hosts"}, false, "files"},
			{an, []string{"127.78.0.1"}, false, "operator role"},
		} {
			err := s.AuthorizeTargets(ctx, tt.p, "job.submit", tt.targets, "127.0.0.1")
			if tt.ok != (err == nil) || (!tt.ok && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), tt.reason))) {
				t.Errorf("%s %v: %v, want ok %v (%s)", tt.p.Name, tt.targets, err, tt.ok, tt.reason)
			}
		}
		refused := 0
		must(s.Audit(ctx, AuditQuery{}, func(e Entry) error {
			if e.Action == "job.submit" && e.Outcome == "refused" && e.Detail != "" {
				refused++
			}
			return nil
		}))
		if refused != 5 {
			t.Errorf("%d refusals logged, want 5", refused)
		}
		must(s.Disable(ctx, "op", cli))
		if _, err := s.AsUser(ctx, "op"); !errors.Is(err, ErrDisabled) {
			t.Errorf("AsUser of a disabled user: %v", err)
		}
	})
}

func TestParseScope(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"10.20.0.0/16", "10.20.0.0/16"}, {"10.20.3.4/16", "10.20.0.0/16"}, {" 192.0.2.7 ", "192.0.2.7/32"},
		{"2001:db8::1", "2001:db8::1/128"}, {"2001:db8::/32", "2001:db8::/32"},
		{"example.org", ""}, {"10.0.0.0/33", ""}, {"", ""}, {"10.0.0.1-10.0.0.9", ""},
	} {
		p, err := ParseScope(tt.in)
		if got := map[bool]string{true: p.String(), false: ""}[err == nil]; got != tt.want {
			t.Errorf("ParseScope(%q) = %q (%v), want %q", tt.in, got, err, tt.want)
		}
	}
}
