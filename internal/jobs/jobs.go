package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"iotwatch/internal/jobs/spec"
	"iotwatch/internal/store"
)

// The requests, arguments and records of jobs live in package spec, so that
// the dashboard can submit and show jobs without linking the code that runs
// them; they are the same types here.
type (
	ScanRequest  = spec.ScanRequest
	AuditRequest = spec.AuditRequest
	ScanArgs     = spec.ScanArgs
	AuditArgs    = spec.AuditArgs
	ReportArgs   = spec.ReportArgs
	Submitted    = spec.Submitted
	Job          = spec.Job
	Progress     = spec.Progress
	ListOptions  = spec.ListOptions
	Schedule     = spec.Schedule
)

// Errors of submissions and lookups (see package spec).
var (
	ErrBadRequest = spec.ErrBadRequest
	ErrExists     = spec.ErrExists
	ErrNotFound   = spec.ErrNotFound
)

// MinEvery is the shortest period of a schedule.
const MinEvery = spec.MinEvery

// Kinds lists every kind of job (spec.KindScan …); each kind has a queue of
// its own, so that a worker bounds the concurrency of each
// (WorkOptions.Concurrency).
var Kinds = []string{spec.KindScan, spec.KindAudit, spec.KindVulns, spec.KindFirmware, spec.KindReport, spec.KindSchedule, spec.KindFlows}

// DefaultConcurrency is how many jobs of each kind a worker runs at once.
var DefaultConcurrency = map[string]int{
	spec.KindScan: 1, spec.KindAudit: 2, spec.KindVulns: 1, spec.KindFirmware: 1, spec.KindReport: 1, spec.KindSchedule: 1, spec.KindFlows: 1,
}

// Client submits, lists and cancels jobs and manages schedules; Work makes
// it a worker. It uses the store's database.
type Client struct {
	st     *store.Store
	river  *river.Client[*sql.Tx] // insert-only: submissions, lists, cancels
	log    *slog.Logger
	driver func(pool *pgxpool.Pool) riverdriver.Driver[*sql.Tx]
}

// New returns a Client on st's database and brings River's tables up to
// date (see Migrate).
func New(ctx context.Context, st *store.Store) (*Client, error) {
	if err := Migrate(ctx, st); err != nil {
		return nil, err
	}
	c := &Client{st: st, log: slog.New(slog.DiscardHandler)}
	c.driver = func(pool *pgxpool.Pool) riverdriver.Driver[*sql.Tx] {
		if st.Dialect() == store.SQLite {
			return riversqlite.New(st.DB())
		}
		if pool != nil {
			return riverdatabasesql.NewWithPgxListener(st.DB(), pool)
		}
		return riverdatabasesql.New(st.DB())
	}
	var err error
	c.river, err = river.NewClient(c.driver(nil), &river.Config{Logger: c.riverLog()})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return c, nil
}

// Migrate brings River's tables in st's database up to date (rivermigrate)
// under the lock the store migrates under. It is called by New, not by
// store.Open: a store that never runs jobs pays nothing for them.
func Migrate(ctx context.Context, st *store.Store) error {
	var drv riverdriver.Driver[*sql.Tx]
	if st.Dialect() == store.SQLite {
		drv = riversqlite.New(st.DB())
	} else {
		drv = riverdatabasesql.New(st.DB())
	}
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	unlock, err := st.MigrationLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// Store returns the store the client works on.
func (c *Client) Store() *store.Store { return c.st }

// SetLogger sets the logger of the client and its workers.
func (c *Client) SetLogger(l *slog.Logger) {
	if l != nil {
		c.log = l
	}
}

// riverLog is the logger River gets: the client's, from warnings up (River
// reports every producer's job counts at info).
func (c *Client) riverLog() *slog.Logger {
	return slog.New(warnHandler{c.log.Handler()})
}

type warnHandler struct{ slog.Handler }

func (h warnHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return warnHandler{h.Handler.WithAttrs(as)}
}
func (h warnHandler) WithGroup(name string) slog.Handler {
	return warnHandler{h.Handler.WithGroup(name)}
}

// complete marks job completed in tx, which stores its last results
// (river.JobCompleteTx; the client in ctx is the worker's, a Client over
// *sql.Tx whichever the database). A job no longer running here (cancelled,
// or rescued by River after this worker was presumed dead and retried
// elsewhere) fails, and tx rolls back with it.
func complete[T river.JobArgs](ctx context.Context, tx *sql.Tx, job *river.Job[T]) error {
	// Fence: the attempt that completes must be the one running. River
	// rescues a job whose worker looks dead (RescueAfter) and may run it
	// again elsewhere; a late first attempt must not complete the second's.
	q := `SELECT attempt FROM river_job WHERE id = $1 AND state = 'running' FOR UPDATE`
	if river.ClientFromContext[*sql.Tx](ctx).Driver().DatabaseName() == riverdriver.DatabaseNameSQLite {
		q = `SELECT attempt FROM river_job WHERE id = ? AND state = 'running'` // the transaction holds the write lock already
	}
	var attempt int
	if err := tx.QueryRowContext(ctx, q, job.ID).Scan(&attempt); err != nil || attempt != job.Attempt {
		return fmt.Errorf("complete job %d: attempt %d is no longer the one running (%d, %v)", job.ID, job.Attempt, attempt, err)
	}
	// The driver type only names the transaction type (*sql.Tx); the
	// driver used is the worker client's (riverdatabasesql or riversqlite).
	if _, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// follow inserts jobs in tx (a finished job's follow-ups, committed with
// its completion).
func follow(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue follow-up jobs: %w", err)
	}
	return nil
}

// DefaultJobTimeout is how long a job may run before it is cancelled and
// retried (WorkOptions.JobTimeout): a scan shard carries on from its
// checkpoint, so size shards to finish well within it.
const DefaultJobTimeout = time.Hour

// RescueMargin is how much longer than the job timeout a job may stay
// running before River, taking its worker for dead, retries it elsewhere
// (the default of WorkOptions.RescueAfter).
const RescueMargin = 15 * time.Minute
