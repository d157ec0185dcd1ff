// Package store keeps iotwatch's evidence: runs, assets, services,
// credential results, vulnerability matches and findings. SQLite
// (modernc.org/sqlite, no cgo) is the embedded default; PostgreSQL (pgx) is
// the second backend for users who outgrow one machine. SQL is kept portable:
// "?" placeholders are rebound per dialect and migrations use a small token
// set (see migrations/).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"iotwatch/internal/secret"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Dialect names a SQL backend.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is an open evidence database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	dsn     string
	host    string // this host's name, recorded as the owner of runs

	secrets   *secret.Box   // seals found secrets; without a key, reads are placeholders
	keySource secret.Source // where the key came from
	origDSN   string        // the dsn as given, when dsn gained parameters

	hbMu           sync.Mutex // guards heartbeats
	heartbeats     map[int64]context.CancelFunc
	hbWG           sync.WaitGroup
	heartbeatEvery time.Duration

	modeNotes []string // what Open did about files others could read (ModeNotes)

	bulkJournals atomic.Int64 // bulk transactions written through a rollback journal (tests)

	runDays  sync.Map // run id → partition day (see RunDay)
	partDays sync.Map // days whose partitions exist (see EnsurePartitions)
}

// BusyTimeout is how long a SQLite writer waits for another process's write
// transaction before failing (whole: its transaction rolls back).
const BusyTimeout = 60 * time.Second

// ErrNotFound is returned when a requested record does not exist.
var ErrNotFound = errors.New("not found")

// DefaultPath returns the default SQLite path: $IOTWATCH_DB, else
// $XDG_DATA_HOME/iotwatch/iotwatch.db, else ~/.local/share/iotwatch/iotwatch.db.
func DefaultPath() string {
	if p := os.Getenv("IOTWATCH_DB"); p != "" {
		return p
	}
	return filepath.Join(DataDir(), "iotwatch.db")
}

// DataDir is iotwatch's data directory: $XDG_DATA_HOME/iotwatch, else
// ~/.local/share/iotwatch (whatever IOTWATCH_DB names).
func DataDir() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "iotwatch")
}

// Open opens (creating if needed) the database named by dsn and brings its
// schema up to date. A dsn starting with postgres:// or postgresql:// selects
// PostgreSQL; anything else is a SQLite file path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if err := checkScheme(dsn); err != nil {
		return nil, err
	}
	s := &Store{dsn: dsn, heartbeats: map[int64]context.CancelFunc{}, heartbeatEvery: HeartbeatInterval}
	s.host, _ = os.Hostname()
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = Postgres
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	default:
		s.dialect = SQLite
		// The database holds evidence about other people's devices: a new
		// directory is the owner's alone, and so are the new database file
		// and the files SQLite makes beside it (-wal, -shm take the
		// database file's mode).
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("open database %s: %w", dsn, err)
			}
		}
		if err := createPrivate(dsn); err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		// A database made by an older iotwatch (0644) keeps its mode, and
		// SQLite gives a new -wal and -shm the database file's: tighten
		// what others could read before anything is written to it.
		s.modeNotes = tightenFiles(true, sqliteFiles(dsn)...)
		// WAL lets readers (the dashboard) run beside a writer; busy_timeout
		// makes a second process wait for the writer instead of failing, and
		// _txlock=immediate takes the write lock when a transaction begins:
		// a deferred transaction that reads and then writes cannot wait for
		// a lock another process holds (SQLite answers SQLITE_BUSY at once),
		// so two importers each lost part of their work.
		// The page size stays SQLite's 4 KiB (measured 2026-12-07 on new
		// databases): 64 KiB pages took 0.06 CPU s off the save of a
		// million flow relations (flow.BenchmarkSave) but made bench/console's
		// store of 100,000 devices, many small transactions, spend 24 s of
		// system time instead of 2.5; 16 KiB took 0.035 s off and added 1 s.
		// A 16 MiB page cache (cache_size) changed neither.
		q := "?_pragma=busy_timeout(" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) + ")&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		s.db, err = sql.Open("sqlite", "file:"+dsn+q)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		// One writer at a time is SQLite's model; a single connection avoids
		// SQLITE_BUSY between our own goroutines.
		s.db.SetMaxOpenConns(1)
	}
	if s.dialect == SQLite {
		// The first connection switches a new database to WAL, which needs
		// the database alone (SQLite answers SQLITE_BUSY without waiting),
		// and migrations must run once: both happen under an exclusive lock
		// on the file DSN.lock beside the database.
		unlock, err := lockFile(ctx, dsn+".lock")
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		defer unlock()
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	now := time.Now()
	if err := s.EnsurePartitions(ctx, now.Add(-24*time.Hour), now.Add(PartitionsAhead*24*time.Hour)); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.loadSecrets(true); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	if err := s.recordKey(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return s, nil
}

// sqliteFiles are the files of the SQLite database path: the database, its
// WAL and shared memory, the rollback journal of a bulk transaction (see
// BulkTx), and the lock Open takes.
func sqliteFiles(path string) []string {
	return []string{path, path + "-wal", path + "-shm", path + "-journal", path + ".lock"}
}

// tightenFiles finds the existing files among paths that others than their
// owner may read or write and, when fix is set, takes those permissions
// away (0644 becomes 0600). It returns a note for each such file: what was
// done, or why it could not be (a file of another user), for the caller to
// warn with. The directory is left alone: it may be shared (/tmp).
func tightenFiles(fix bool, paths ...string) []string {
	var notes []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		mode := fi.Mode().Perm()
		switch {
		case !fix:
			notes = append(notes, fmt.Sprintf("%s: mode %04o lets others read it; chmod 600 it (a writing command does)", p, mode))
		default:
			if err := os.Chmod(p, mode&^0o077); err != nil {
				notes = append(notes, fmt.Sprintf("%s: mode %04o lets others read it and could not be changed: %v", p, mode, err))
				continue
			}
			notes = append(notes, fmt.Sprintf("%s: mode %04o let others read it; changed to %04o", p, mode, mode&^0o077))
		}
	}
	return notes
}

// ModeNotes says which of the database's files others could read when it was
// opened, and what was done: a writing open takes the others' permissions
// away, a read-only one only notes them. Empty for PostgreSQL.
func (s *Store) ModeNotes() []string { return s.modeNotes }

// createPrivate creates the file path, mode 0600, if it does not exist.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// checkScheme refuses a URL of a database iotwatch does not speak
// (mysql://…, sqlite://…): taken for a SQLite path, it became directories
// named "mysql:" in the working directory.
func checkScheme(dsn string) error {
	i := strings.Index(dsn, "://")
	if i <= 0 || strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil
	}
	for k, c := range dsn[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || k > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil // not a URL scheme: a path
		}
	}
	return fmt.Errorf("open database %s: %s:// is not a database iotwatch opens: give a SQLite file path or a postgres:// URL", redactDSN(dsn), dsn[:i])
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "***" + dsn[i:]
		}
	}
	return dsn
}

// migrationFS returns the embedded migrations with dialect tokens expanded.
func migrationFS(d Dialect) (fs.FS, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	id := "INTEGER PRIMARY KEY"
	blob := "BLOB"
	if d == Postgres {
		id = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
		blob = "BYTEA"
	}
	r := strings.NewReplacer("{{ID}}", id, "{{BLOB}}", blob)
	out := fstest.MapFS{}
	for _, e := range ents {
		// NNNNN_name.sqlite.sql and NNNNN_name.postgres.sql hold what only
		// one dialect can say (triggers); each backend reads only its own.
		if other := map[Dialect]string{SQLite: ".postgres.sql", Postgres: ".sqlite.sql"}[d]; strings.HasSuffix(e.Name(), other) {
			continue
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = &fstest.MapFile{Data: []byte(r.Replace(string(b)))}
	}
	return out, nil
}

// migrate brings the schema up to date under a migration lock, so that
// processes opening one new database at once do not each try to create it:
// PostgreSQL takes goose's session advisory lock; SQLite's lock is taken by
// Open (see there).
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := migrationFS(s.dialect)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

// MigrationLock takes the lock that Open migrates under, for packages that
// bring tables of their own up to date (River's, see package jobs): the file
// DSN.lock beside a SQLite database, a session advisory lock on PostgreSQL
// (held by a connection of its own until unlock).
func (s *Store) MigrationLock(ctx context.Context) (unlock func(), err error) {
	if s.dialect == SQLite {
		return lockFile(ctx, s.dsn+".lock")
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	const key = 0x696f7477 // "iotw"
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key) // closing the session releases it too
		conn.Close()
	}, nil
}

// SchemaVersion returns the current migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version WHERE is_applied").Scan(&v)
	return v, err
}

// Close stops the heartbeats of runs still open and closes the database.
func (s *Store) Close() error {
	s.hbMu.Lock()
	for id, cancel := range s.heartbeats {
		cancel()
		delete(s.heartbeats, id)
	}
	s.hbMu.Unlock()
	s.hbWG.Wait()
	return s.db.Close()
}

// DB returns the underlying database for packages that own their own tables
// (vulnerability database, flows). Use Rebind on queries written with "?".
func (s *Store) DB() *sql.DB { return s.db }

// DSN returns the data source the store was opened with (packages that
// open connections of their own to it: job workers' LISTEN).
func (s *Store) DSN() string { return s.dsn }

// Dialect returns the backend in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// Rebind rewrites "?" placeholders into the dialect's form ($1, $2, … for
// PostgreSQL). Question marks inside single-quoted literals are left alone.
func (s *Store) Rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Tx runs fn in one transaction: everything fn writes lands, or nothing does.
func (s *Store) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.tx(ctx, fn, func() {})
}

// tx is Tx, calling beforeCommit once fn has succeeded.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error, beforeCommit func()) error {
	return txOn(ctx, s.db.BeginTx, fn, beforeCommit)
}

// txOn is tx in a transaction begun by begin (a DB's or a Conn's BeginTx).
func txOn(ctx context.Context, begin func(context.Context, *sql.TxOptions) (*sql.Tx, error), fn func(*sql.Tx) error, beforeCommit func()) error {
	tx, err := begin(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one to report; a failed rollback ends with the connection
		return err
	}
	beforeCommit()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Time formats t for storage.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime parses a stored time; an empty string is the zero time.
func ParseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
