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
var ErrSchemaOutdated = errors.New("database schema is older than this iotwatch (run any writing command to migrate it)")

// OpenReadOnly opens an existing database for reading only: it never creates
// the file or its directory, never migrates, and every write fails. Commands
// that only list or report (runs, report, serve) use it, so they work on a
// read-only file and never leave a new empty database behind a mistyped path.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{dsn: dsn, heartbeats: map[int64]context.CancelFunc{}, heartbeatEvery: HeartbeatInterval}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = Postgres
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		s.db, err = sql.Open("pgx", dsn+sep+"default_transaction_read_only=on")
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	default:
		s.dialect = SQLite
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		q := "?mode=ro&_pragma=busy_timeout(" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) + ")&_pragma=query_only(1)"
		s.db, err = sql.Open("sqlite", "file:"+dsn+q)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		s.db.SetMaxOpenConns(1)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	if err := s.checkSchema(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return s, nil
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
