package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/secret"
)

// Secrets at rest. Every found secret is sealed (package secret) before it
// is written: credential passwords (deterministically, as the password is
// part of the row's key), SNMP communities in service data, and the secrets a
// finding lists (model.Finding.Secrets) wherever they appear in it. Reads open
// them with the key; without it they read as placeholders ("[sealed:…]"), so a
// database copied without its key opens and shows everything redacted.
//
// The key: $IOTWATCH_SECRET_KEY, else the file $IOTWATCH_SECRET_KEY_FILE, else
// DB.key beside a SQLite database DB (for PostgreSQL, secret.key in the default
// data directory). A writing Open creates the file (0600) when it is missing;
// a read-only open never does.

// credentialContext binds deterministic password seals to their column.
const credentialContext = "credentials.password"

// secretFields are the members of service data and finding evidence that hold
// a found secret: SNMP communities (probe/snmp), cracked passwords, hashes and
// token values (firmware). Stored values older than sealing are sealed by
// name; new ones are listed by their producers.
var secretFields = []string{"community", "password", "hash", "value"}

// KeyPath returns the default key file of the database named by dsn.
func KeyPath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		// Not beside DefaultPath: IOTWATCH_DB may name this very URL.
		return filepath.Join(DataDir(), "secret.key")
	}
	return dsn + ".key"
}

// loadSecrets resolves the key; create makes a missing default key file.
func (s *Store) loadSecrets(create bool) error {
	box, src, err := secret.Resolve(KeyPath(s.keyDSN()), create)
	if err != nil {
		return err
	}
	s.secrets, s.keySource = box, src
	return nil
}

// keyDSN is the dsn the key file is named after (the caller's, before any
// read-only parameters were added).
func (s *Store) keyDSN() string {
	if s.origDSN != "" {
		return s.origDSN
	}
	return s.dsn
}

// CanReveal reports whether the store holds the key, so raw secrets can be
// read (the --show-secrets flags and the console's reveal need it).
func (s *Store) CanReveal() bool { return s.secrets.HasKey() }

// KeySource says where the key came from (or would be created).
func (s *Store) KeySource() string { return s.keySource.String() }

// RevealCredentials returns a run's credential results of one address with
// raw passwords: the one entry point for showing a secret to a person, which
// the web console calls for admins and records in its audit log. Without the
// key it fails with secret.ErrNoKey.
func (s *Store) RevealCredentials(ctx context.Context, runID int64, ip string) ([]model.CredentialResult, error) {
	if !s.CanReveal() {
		return nil, fmt.Errorf("reveal secrets (key %s): %w", s.KeySource(), secret.ErrNoKey)
	}
	cs, err := s.Credentials(ctx, runID)
	if err != nil {
		return nil, err
	}
	var out []model.CredentialResult
	for _, c := range cs {
		if c.IP.String() == ip {
			if secret.IsPlaceholder(c.Password) {
				return nil, fmt.Errorf("reveal secrets of %s: sealed with another key: %w", ip, secret.ErrNoKey)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// sealPassword seals a credential password for its column.
func (s *Store) sealPassword(p string) (string, error) {
	if p == "" || secret.IsPlaceholder(p) {
		return p, nil
	}
	v, err := s.secrets.SealDeterministic(credentialContext, p)
	if err != nil {
		return "", fmt.Errorf("seal password (key %s): %w", s.KeySource(), err)
	}
	return v, nil
}

// sealServiceData seals the communities in a service's data.
func (s *Store) sealServiceData(data string) (string, error) {
	if !strings.Contains(data, `"community"`) {
		return data, nil
	}
	b, err := s.secrets.SealJSON([]byte(data), nil, "community")
	if err != nil {
		return "", fmt.Errorf("seal service data (key %s): %w", s.KeySource(), err)
	}
	return string(b), nil
}

// openJSON opens the sealed values of a stored JSON document.
func (s *Store) openJSON(data string) (string, error) {
	if !strings.Contains(data, secret.Prefix) {
		return data, nil
	}
	b, err := s.secrets.OpenJSON([]byte(data))
	return string(b), err
}

// recordKey notes the sealing key's identifier and seals the plain-text
// secrets a database written before sealing holds, once: in batches, each
// row updated only if it still holds the value read, so a concurrent or
// interrupted sweep is safe to repeat.
func (s *Store) recordKey(ctx context.Context) error {
	if !s.secrets.HasKey() {
		return nil
	}
	now := Time(time.Now())
	if _, err := s.db.ExecContext(ctx, s.Rebind(`INSERT INTO secret_keys (key_id, first_used) VALUES (?, ?)
		ON CONFLICT (key_id) DO NOTHING`), s.secrets.KeyID(), now); err != nil {
		return fmt.Errorf("record secret key: %w", err)
	}
	var done int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_keys WHERE plaintext_sealed_at <> ''`).Scan(&done); err != nil {
		return fmt.Errorf("record secret key: %w", err)
	}
	if done > 0 {
		return s.reseal(ctx)
	}
	if err := s.sealOldCredentials(ctx); err != nil {
		return err
	}
	if err := s.sealOldData(ctx, "services", "data LIKE '%\"community\"%'", s.sealFields); err != nil {
		return err
	}
	if err := s.sealOldData(ctx, "findings", "kind LIKE 'firmware-%'", s.sealFields); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE secret_keys SET plaintext_sealed_at = ? WHERE key_id = ?`), now, s.secrets.KeyID()); err != nil {
		return fmt.Errorf("record secret key: %w", err)
	}
	return s.reseal(ctx)
}

// sealFields seals the secret members of a JSON document written before
// sealing; ok is false when there is nothing to change.
func (s *Store) sealFields(data string) (string, bool) {
	sealed, err := s.secrets.SealJSON([]byte(data), nil, secretFields...)
	if err != nil {
		return "", false // not JSON: nothing of ours to seal
	}
	return string(sealed), strings.Count(string(sealed), secret.Prefix) > strings.Count(data, secret.Prefix)
}

// reseal re-seals, once per sealing key, the values older keys of the key
// ring sealed: rotation is a new key first in the key file with the old ones
// after it; once the next writing open has re-sealed, the old lines can go.
func (s *Store) reseal(ctx context.Context) error {
	if s.secrets.Keys() < 2 {
		return nil
	}
	var at string
	if err := s.db.QueryRowContext(ctx, s.Rebind(`SELECT resealed_at FROM secret_keys WHERE key_id = ?`), s.secrets.KeyID()).Scan(&at); err != nil {
		return fmt.Errorf("re-seal secrets: %w", err)
	}
	if at != "" {
		return nil
	}
	if err := s.resealCredentials(ctx); err != nil {
		return err
	}
	resealText := func(data string) (string, bool) {
		out, err := s.secrets.ResealIn(data)
		return out, err == nil && out != data
	}
	for _, table := range []string{"services", "findings", "firmware_accounts"} {
		if err := s.sealOldData(ctx, table, "data LIKE '%iwsec1:%'", resealText); err != nil {
			return err
		}
	}
	_, err := s.db.ExecContext(ctx, s.Rebind(`UPDATE secret_keys SET resealed_at = ? WHERE key_id = ?`), Time(time.Now()), s.secrets.KeyID())
	return err
}

// resealCredentials re-seals credential passwords sealed under older keys.
func (s *Store) resealCredentials(ctx context.Context) error {
	err := s.sweepCredentials(ctx, `password LIKE 'iwsec1:%'`, func(pwd string) (string, bool, error) {
		if s.secrets.Current(pwd) {
			return "", false, nil
		}
		plain, err := s.secrets.Open(pwd)
		if err != nil {
			return "", false, nil // sealed under a key this ring lacks: left as it is
		}
		sealed, err := s.sealPassword(plain)
		return sealed, true, err
	})
	if err != nil {
		return fmt.Errorf("re-seal stored passwords: %w", err)
	}
	return nil
}

// credentialKey is a credentials row's primary key, its password included.
type credentialKey struct {
	run                  int64
	ip, proto, user, pwd string
	port                 int
}

// sweepCredentials rewrites the stored password of every credentials row
// matching where, a page of sweepBatch rows per transaction in the order of
// the row's key (so rows left as they are are not read again): rewrite
// returns the new value, or false to leave the row.
func (s *Store) sweepCredentials(ctx context.Context, where string, rewrite func(pwd string) (string, bool, error)) error {
	var last *credentialKey
	for {
		var page []credentialKey
		err := s.Tx(ctx, func(tx *sql.Tx) error {
			q := `SELECT run_id, ip, port, protocol, username, password FROM credentials WHERE ` + where
			var args []any
			if last != nil {
				q += ` AND (run_id, ip, port, protocol, username, password) > (?, ?, ?, ?, ?, ?)`
				args = []any{last.run, last.ip, last.port, last.proto, last.user, last.pwd}
			}
			q += ` ORDER BY run_id, ip, port, protocol, username, password LIMIT ` + fmt.Sprint(sweepBatch)
			rows, err := tx.QueryContext(ctx, s.Rebind(q), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var r credentialKey
				if err := rows.Scan(&r.run, &r.ip, &r.port, &r.proto, &r.user, &r.pwd); err != nil {
					rows.Close()
					return err
				}
				page = append(page, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range page {
				v, ok, err := rewrite(r.pwd)
				if err != nil {
					return err
				}
				if ok {
					if err := replacePassword(ctx, tx, s, r, v); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) < sweepBatch {
			return nil
		}
		last = &page[len(page)-1]
	}
}

// replacePassword changes a credential row's stored password from old to
// sealed, or drops the row when a row with the new value exists already
// (the same result stored again since).
func replacePassword(ctx context.Context, tx *sql.Tx, s *Store, k credentialKey, sealed string) error {
	pk := `run_id = ? AND ip = ? AND port = ? AND protocol = ? AND username = ? AND password = ?`
	var twin int
	if err := tx.QueryRowContext(ctx, s.Rebind(`SELECT COUNT(*) FROM credentials WHERE `+pk),
		k.run, k.ip, k.port, k.proto, k.user, sealed).Scan(&twin); err != nil {
		return err
	}
	q := `UPDATE credentials SET password = ? WHERE ` + pk
	args := []any{sealed, k.run, k.ip, k.port, k.proto, k.user, k.pwd}
	if twin > 0 {
		q, args = `DELETE FROM credentials WHERE `+pk, args[1:]
	}
	_, err := tx.ExecContext(ctx, s.Rebind(q), args...)
	return err
}

const sweepBatch = 500

// sealOldCredentials seals the plain-text passwords of a database written
// before sealing.
func (s *Store) sealOldCredentials(ctx context.Context) error {
	err := s.sweepCredentials(ctx, `password <> '' AND password NOT LIKE 'iwsec1:%' AND password NOT LIKE '[sealed:%'`,
		func(pwd string) (string, bool, error) {
			sealed, err := s.sealPassword(pwd)
			return sealed, true, err
		})
	if err != nil {
		return fmt.Errorf("seal stored passwords: %w", err)
	}
	return nil
}

// sealOldData rewrites the JSON data column of table's rows matching where
// with transform (sealing plain-text members, or re-sealing). Rows are keyed by rowid (SQLite) or by partition and
// ctid (PostgreSQL: a ctid repeats across the partitions of a partitioned table, and compared as a tid it is a
// TID scan, not a full one), each updated only if its data is still what was read.
func (s *Store) sealOldData(ctx context.Context, table, where string, transform func(string) (string, bool)) error {
	rid, match := "CAST(rowid AS TEXT)", "CAST(rowid AS TEXT) = ?"
	if s.dialect == Postgres {
		rid, match = "tableoid::text || '/' || ctid::text", "tableoid = split_part(?, '/', 1)::oid AND ctid = split_part(?, '/', 2)::tid"
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+rid+`, data FROM `+table+` WHERE `+where)
		if err != nil {
			return fmt.Errorf("seal stored %s: %w", table, err)
		}
		type upd struct{ id, data, old string }
		var ups []upd
		for rows.Next() {
			var id, data string
			if err := rows.Scan(&id, &data); err != nil {
				rows.Close()
				return fmt.Errorf("seal stored %s: %w", table, err)
			}
			if out, ok := transform(data); ok {
				ups = append(ups, upd{id, out, data})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("seal stored %s: %w", table, err)
		}
		for _, u := range ups {
			args := []any{u.data, u.id, u.old}
			if s.dialect == Postgres {
				args = []any{u.data, u.id, u.id, u.old}
			}
			if _, err := tx.ExecContext(ctx, s.Rebind(`UPDATE `+table+` SET data = ? WHERE `+match+` AND data = ?`), args...); err != nil {
				return fmt.Errorf("seal stored %s: %w", table, err)
			}
		}
		return nil
	})
}
