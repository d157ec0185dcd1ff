package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/secret"
	"iotwatch/internal/testpeer"
)

// knownSecrets are what the fixture stores: a password, a community and a
// firmware token, each chosen to appear nowhere else in the database.
const (
	knownPassword  = "Vq7-xc3511-pw"
	knownCommunity = "Comm-9931-zz"
	knownToken     = "ghp_Token4455aabbccdd"
)

func saveSecrets(t *testing.T, s *Store) int64 {
	t.Helper()
	ctx := context.Background()
	run := &model.Run{Kind: "audit"}
	if err := s.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.20.0.9")
	err := s.SaveServices(ctx, run.ID, []model.Service{{IP: ip, Port: 161, Transport: model.UDP, Protocol: model.ProtoSNMP,
		Status: model.StatusSuccess, Data: map[string]any{"version": "2c", "community": knownCommunity, "sys_descr": "Linux cam"}}})
	if err != nil {
		t.Fatal(err)
	}
	creds := []model.CredentialResult{
		{IP: ip, Port: 23, Protocol: model.ProtoTelnet, Username: "root", Password: knownPassword, Kind: model.KindDefaultCredential},
		{IP: ip, Port: 21, Protocol: model.ProtoFTP, Username: "anonymous", Password: "", Kind: model.KindEmptyPassword},
	}
	// Twice: the deterministic seal keeps the row's key, so a re-run updates.
	for range 2 {
		if err := s.SaveCredentials(ctx, run.ID, creds); err != nil {
			t.Fatal(err)
		}
	}
	err = s.SaveFindings(ctx, run.ID, []model.Finding{{Kind: "firmware-secret", Subject: "fw.bin", Severity: model.SeverityHigh,
		Title: "hard-coded github-token", Detail: "etc/app.conf:3: " + knownToken,
		Evidence: []model.Evidence{{Source: "firmware", Detail: "etc/app.conf:3", Data: map[string]any{"value": knownToken, "line": 3}}},
		Secrets:  []string{knownToken}}})
	if err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// checkRevealed reads the fixture back and wants raw values (key) or
// placeholders (no key).
func checkRevealed(t *testing.T, s *Store, runID int64, raw bool) {
	t.Helper()
	ctx := context.Background()
	cs, err := s.Credentials(ctx, runID)
	if err != nil || len(cs) != 2 {
		t.Fatalf("credentials: %d (%v), want 2", len(cs), err)
	}
	pw := map[string]string{}
	for _, c := range cs {
		pw[c.Username] = c.Password
	}
	if pw["anonymous"] != "" {
		t.Errorf("empty password read as %q", pw["anonymous"])
	}
	svcs, err := s.Services(ctx, runID)
	if err != nil || len(svcs) != 1 {
		t.Fatalf("services: %v", err)
	}
	fsn, err := s.Findings(ctx, runID)
	if err != nil || len(fsn) != 1 {
		t.Fatalf("findings: %v", err)
	}
	data := string(svcs[0].Data.(json.RawMessage))
	ev, _ := json.Marshal(fsn[0].Evidence)
	if raw {
		if pw["root"] != knownPassword || !strings.Contains(data, knownCommunity) ||
			!strings.HasSuffix(fsn[0].Detail, knownToken) || !strings.Contains(string(ev), knownToken) {
			t.Errorf("with the key: password %q, data %s, detail %q, evidence %s", pw["root"], data, fsn[0].Detail, ev)
		}
		if !strings.Contains(data, `"sys_descr":"Linux cam"`) {
			t.Errorf("service data lost its other members: %s", data)
		}
		return
	}
	if !secret.IsPlaceholder(pw["root"]) || model.Redact(pw["root"]) != pw["root"] {
		t.Errorf("without the key the password reads %q, want a placeholder", pw["root"])
	}
	for _, leak := range []string{data, fsn[0].Detail, string(ev)} {
		if strings.Contains(leak, knownCommunity) || strings.Contains(leak, knownToken) || !strings.Contains(leak, "[sealed:") {
			t.Errorf("without the key: %s", leak)
		}
	}
	if _, err := s.RevealCredentials(ctx, runID, "127.20.0.9"); !errors.Is(err, secret.ErrNoKey) {
		t.Errorf("reveal without the key: %v, want ErrNoKey", err)
	}
}

// TestSecretsAtRest stores found secrets and checks that they are sealed in
// the rows (SQLite and PostgreSQL), open with the key and read redacted
// without it.
func TestSecretsAtRest(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			if !s.CanReveal() {
				t.Fatalf("a writing open has no key (%s)", s.KeySource())
			}
			runID := saveSecrets(t, s)
			// Raw rows: nothing in clear.
			for _, q := range []string{`SELECT password FROM credentials`, `SELECT data FROM services`, `SELECT data FROM findings`} {
				rows, err := s.DB().QueryContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for rows.Next() {
					var v string
					if err := rows.Scan(&v); err != nil {
						t.Fatal(err)
					}
					n++
					for _, leak := range []string{knownPassword, knownCommunity, knownToken} {
						if strings.Contains(v, leak) {
							t.Errorf("%s: row holds %q in clear: %s", q, leak, v)
						}
					}
				}
				rows.Close()
				if n == 0 {
					t.Errorf("%s: no rows", q)
				}
			}
			checkRevealed(t, s, runID, true)
			cs, err := s.RevealCredentials(ctx, runID, "127.20.0.9")
			if err != nil || len(cs) != 2 {
				t.Errorf("reveal: %d (%v)", len(cs), err)
			}
			// The same store without its key.
			box := s.secrets
			s.secrets = &secret.Box{}
			checkRevealed(t, s, runID, false)
			s.secrets = box
		})
	}
}

// TestDatabaseFileSecrets greps the SQLite file and its WAL for the secrets,
// checks the modes of everything Open creates, and opens a copy of the
// database without its key.
func TestDatabaseFileSecrets(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(dir, "iotwatch.db")
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	runID := saveSecrets(t, s)
	for path, want := range map[string]fs.FileMode{dir: 0o700, db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600,
		db + ".lock": 0o600, db + ".key": 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), fi.Mode().Perm(), want)
		}
	}
	grepFiles := func(when string) {
		for _, f := range []string{db, db + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, leak := range []string{knownPassword, knownCommunity, knownToken} {
				if bytes.Contains(b, []byte(leak)) {
					t.Errorf("%s: %s holds %q in clear", when, filepath.Base(f), leak)
				}
			}
		}
	}
	grepFiles("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grepFiles("closed")

	// A copy without its key opens, read-only and writable, redacted.
	cp := filepath.Join(t.TempDir(), "copy.db")
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	if ro.CanReveal() {
		t.Error("a copy without its key can reveal")
	}
	checkRevealed(t, ro, runID, false)
	ro.Close()
	if _, err := os.Stat(cp + ".key"); err == nil {
		t.Error("a read-only open created a key")
	}
	rw, err := Open(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	checkRevealed(t, rw, runID, false) // a new key does not open the old values
	rw.Close()

	// The original with its key shows them raw.
	ro, err = OpenReadOnly(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	checkRevealed(t, ro, runID, true)
}

// TestSealPlaintextOnOpen writes secrets the way iotwatch did before sealing
// and checks that the next writing open seals them, once, and that a re-run
// of the sweep changes nothing.
func TestSealPlaintextOnOpen(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			run := &model.Run{Kind: "audit"}
			if err := s.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			ins := func(q string, args ...any) {
				t.Helper()
				if s.Dialect() == Postgres && (strings.HasPrefix(q, "INSERT INTO credentials") || strings.HasPrefix(q, "INSERT INTO services") || strings.HasPrefix(q, "INSERT INTO findings")) {
					// PostgreSQL partitions evidence by the run's day.
					d, err := s.RunDay(ctx, nil, run.ID)
					if err != nil {
						t.Fatal(err)
					}
					q = strings.Replace(q, "(run_id,", "(day, run_id,", 1)
					q = strings.Replace(q, "VALUES (", "VALUES ('"+d+"', ", 1)
				}
				if _, err := s.DB().ExecContext(ctx, s.Rebind(q), args...); err != nil {
					t.Fatal(err)
				}
			}
			ins(`INSERT INTO credentials (run_id, ip, port, protocol, username, password, kind, seen_at) VALUES (?, '127.1.1.1', 23, 'telnet', 'root', ?, 'default', '')`, run.ID, knownPassword)
			// The same result also stored sealed since (a later binary): one row must remain.
			if err := s.SaveCredentials(ctx, run.ID, []model.CredentialResult{{IP: netip.MustParseAddr("127.1.1.2"), Port: 23,
				Protocol: "telnet", Username: "root", Password: knownPassword, Kind: "default"}}); err != nil {
				t.Fatal(err)
			}
			ins(`INSERT INTO credentials (run_id, ip, port, protocol, username, password, kind, seen_at) VALUES (?, '127.1.1.2', 23, 'telnet', 'root', ?, 'default', '')`, run.ID, knownPassword)
			ins(`INSERT INTO services (run_id, ip, port, transport, protocol, status, data, seen_at) VALUES (?, '127.1.1.1', 161, 'udp', 'snmp', 'success', ?, '')`,
				run.ID, `{"community":"`+knownCommunity+`","version":"2c"}`)
			ins(`INSERT INTO findings (run_id, kind, subject, title, severity, data, seen_at) VALUES (?, 'firmware-default-password', 'fw.bin', 't', 'high', ?, '')`,
				run.ID, `{"kind":"firmware-default-password","detail":"password \"`+knownToken+`\" found","evidence":[{"data":{"password":"`+knownToken+`"}}]}`)
			ins(`DELETE FROM secret_keys`) // as a database older than migration 28
			if err := s.recordKey(ctx); err != nil {
				t.Fatal(err)
			}
			dump := func() string {
				var b strings.Builder
				for _, q := range []string{`SELECT password FROM credentials ORDER BY ip`, `SELECT data FROM services`, `SELECT data FROM findings`} {
					rows, err := s.DB().QueryContext(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for rows.Next() {
						var v string
						_ = rows.Scan(&v)
						b.WriteString(v + "\n")
					}
					rows.Close()
				}
				return b.String()
			}
			after := dump()
			for _, leak := range []string{knownPassword, knownCommunity, knownToken} {
				if strings.Contains(after, leak) {
					t.Errorf("after the sweep %q is still in clear:\n%s", leak, after)
				}
			}
			cs, err := s.Credentials(ctx, run.ID)
			if err != nil || len(cs) != 2 || cs[0].Password != knownPassword || cs[1].Password != knownPassword {
				t.Errorf("credentials after the sweep: %+v (%v), want two rows with the raw password", cs, err)
			}
			fsn, err := s.Findings(ctx, run.ID)
			if err != nil || len(fsn) != 1 || !strings.Contains(fsn[0].Detail, knownToken) {
				t.Errorf("finding after the sweep: %+v (%v)", fsn, err)
			}
			// Idempotent: another sweep changes nothing.
			ins(`UPDATE secret_keys SET plaintext_sealed_at = ''`)
			if err := s.recordKey(ctx); err != nil {
				t.Fatal(err)
			}
			if again := dump(); again != after {
				t.Errorf("a second sweep changed the rows:\n%s\nwas\n%s", again, after)
			}
		})
	}
}

// TestKeyRotation: a new key first in the key ring with the old one after it
// re-seals everything at the next writing open; then the new key alone opens
// every value and the old one alone none.
func TestKeyRotation(t *testing.T) {
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "rot.db")}
	if os.Getenv("IOTWATCH_TEST_PG") != "" || testpeer.Required() {
		dsns["postgres"] = testpeer.Postgres(t)
	}
	oldKey, _ := secret.NewKey()
	newKey, _ := secret.NewKey()
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			open := func(keys ...*secret.Key) *Store {
				t.Helper()
				var parts []string
				for _, k := range keys {
					parts = append(parts, secret.FormatKey(k))
				}
				t.Setenv(secret.EnvKey, strings.Join(parts, ","))
				s, err := Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open(oldKey)
			runID := saveSecrets(t, s)
			s.Close()

			s = open(newKey, oldKey) // rotation: re-seals on open
			checkRevealed(t, s, runID, true)
			s.Close()

			s = open(newKey)
			checkRevealed(t, s, runID, true)
			cs, err := s.Credentials(ctx, runID)
			if err != nil || len(cs) != 2 {
				t.Fatalf("after rotation %d credentials (%v), want 2 (no row lost or doubled)", len(cs), err)
			}
			s.Close()

			s = open(oldKey)
			defer s.Close()
			checkRevealed(t, s, runID, false)
		})
	}
}

// TestKeyPathPostgres: a PostgreSQL database's default key lives in the data
// directory, even when IOTWATCH_DB names the database (it once became a
// relative path made of the URL).
func TestKeyPathPostgres(t *testing.T) {
	dsn := "postgres://iotwatch:secret@127.0.0.1:5432/iw?sslmode=disable"
	t.Setenv("IOTWATCH_DB", dsn)
	t.Setenv("XDG_DATA_HOME", "/data")
	if got, want := KeyPath(dsn), filepath.Join("/data", "iotwatch", "secret.key"); got != want {
		t.Errorf("KeyPath = %q, want %q", got, want)
	}
	if got := KeyPath("/var/lib/iw.db"); got != "/var/lib/iw.db.key" {
		t.Errorf("KeyPath of a SQLite file = %q", got)
	}
}

// TestExistingFileModes: a database an older iotwatch left readable by
// others (0644, and its WAL) is tightened to 0600 by a writing open, and a
// read-only open notes such a file without changing it.
func TestExistingFileModes(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	saveSecrets(t, s)
	// Leave the WAL behind as a killed process would: copy the files.
	cp := filepath.Join(t.TempDir(), "copy.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(cp+suffix, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Close())
	must(os.WriteFile(cp+".key", mustRead(t, db+".key"), 0o600))

	ro, err := OpenReadOnly(ctx, cp)
	must(err)
	if notes := ro.ModeNotes(); len(notes) != 2 || !strings.Contains(notes[0], "0644") {
		t.Errorf("read-only open noted %q, want the database and its WAL at 0644", notes)
	}
	must(ro.Close())
	if fi, _ := os.Stat(cp); fi.Mode().Perm() != 0o644 {
		t.Errorf("a read-only open changed the mode to %04o", fi.Mode().Perm())
	}

	w, err := Open(ctx, cp)
	must(err)
	if notes := w.ModeNotes(); len(notes) < 2 || !strings.Contains(notes[0], "changed to 0600") {
		t.Errorf("writing open noted %q, want the database and its WAL changed to 0600", notes)
	}
	for _, f := range []string{cp, cp + "-wal", cp + "-shm", cp + ".lock"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o after a writing open, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	if runs, err := w.Runs(ctx, 10); err != nil || len(runs) == 0 {
		t.Errorf("the tightened copy lost its runs: %d, %v", len(runs), err)
	}
	must(w.Close())
	// Nothing left to say the second time.
	w, err = Open(ctx, cp)
	must(err)
	if notes := w.ModeNotes(); len(notes) != 0 {
		t.Errorf("second open noted %q", notes)
	}
	must(w.Close())
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
