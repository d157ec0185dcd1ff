package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// ErrSchemaOutdated is returned by OpenReadOnly for a database whose schema a
// newer iotwatch would migrate: a read-only open cannot.
var ErrSchemaOutdated = errors.New("database schema is older than this iotwatch")

// OpenReadOnly opens an existing database for reading only: it never creates
// the file or its directory, never migrates, and every write fails. Commands
// that only list or report (runs, report, serve) use it, so they work on a
// read-only file and never leave a new empty database behind a mistyped path.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	if err := checkScheme(dsn); err != nil {
		return nil, err
	}
	s := &Store{dsn: dsn, origDSN: dsn, heartbeats: map[int64]context.CancelFunc{}, heartbeatEvery: HeartbeatInterval}
	// A read-only open never creates a key: without one, found secrets
	// read as placeholders.
	if err := s.loadSecrets(false); err != nil {
		return nil, err
	}
	// The host name decides whether a running run's owner process can be
	// checked here (see abandoned): without it a killed run stays "running"
	// in `runs` until its heartbeat goes stale.
	s.host, _ = os.Hostname()
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = Postgres
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		s.dsn = dsn + sep + "default_transaction_read_only=on"
	default:
		s.dialect = SQLite
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		s.modeNotes = tightenFiles(false, sqliteFiles(dsn)...)
		q := "?mode=ro&_pragma=busy_timeout(" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) + ")&_pragma=query_only(1)"
		err := s.openChecked(ctx, "sqlite", "file:"+dsn+q)
		if err != nil && strings.Contains(err.Error(), "readonly") {
			// A read-only connection cannot roll back the journal of a
			// bulk transaction interrupted by the end of its process
			// (see BulkTx); read as immutable, the file could hold half
			// of that transaction.
			if fi, serr := os.Stat(dsn + "-journal"); serr == nil && fi.Size() > 0 {
				return nil, fmt.Errorf("open database %s: a write was interrupted (%s-journal is left); any iotwatch command that writes to the database rolls it back: %w", dsn, dsn, err)
			}
			// A WAL database needs its -shm file, which a read-only
			// directory cannot get: read the file as immutable (no locks,
			// no shared memory) instead.
			err = s.openChecked(ctx, "sqlite", "file:"+dsn+q+"&immutable=1")
		}
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		return s, nil
	}
	if err := s.openChecked(ctx, "pgx", s.dsn); err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return s, nil
}

// readConns is how many connections a read-only store keeps.
const readConns = 8

// openChecked opens s.db on dsn and checks that its schema is current.
func (s *Store) openChecked(ctx context.Context, driver, dsn string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	// Readers do not contend (a read-only SQLite connection reads its WAL
	// snapshot beside the others): a few connections let the dashboard
	// answer concurrent requests side by side.
	db.SetMaxOpenConns(readConns)
	db.SetMaxIdleConns(readConns)
	s.db = db
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return err
	}
	if err := s.checkSchema(ctx); err != nil {
		db.Close()
		return err
	}
	return nil
}

// checkSchema reports ErrSchemaOutdated when migrations are pending.
func (s *Store) checkSchema(ctx context.Context) error {
	fsys, err := migrationFS(s.dialect)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.db, fsys)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSchemaOutdated, err)
	}
	if pending {
		return ErrSchemaOutdated
	}
	return nil
}
