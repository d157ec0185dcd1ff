package store

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// TestBulkTx: BulkTx commits what fn writes, or nothing when fn fails, on
// every backend, and leaves no goroutine behind; on SQLite under Linux it
// starts the writing of the WAL and of the database file (a writeback
// exists, has SQLite's descriptor of the file, and kicking it works).
func TestBulkTx(t *testing.T) {
	ctx := context.Background()
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := s.DB().ExecContext(ctx, `CREATE TABLE bulk_test (n INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			ignore := goleak.IgnoreCurrent()
			errFn := errors.New("fn failed")
			for _, tc := range []struct {
				fnErr error
				want  int
			}{{nil, 1000}, {errFn, 1000}} {
				err := s.BulkTx(ctx, 0, func(tx *sql.Tx) error {
					for i := range 1000 {
						if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO bulk_test (n) VALUES (?)`), i); err != nil {
							return err
						}
					}
					return tc.fnErr
				})
				if !errors.Is(err, tc.fnErr) {
					t.Errorf("BulkTx: %v, want %v", err, tc.fnErr)
				}
				var n int
				if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err != nil || n != tc.want {
					t.Errorf("%d rows (%v), want %d", n, err, tc.want)
				}
			}
			goleak.VerifyNone(t, ignore)
			w := s.startWriteback(true)
			defer w.stop()
			if s.Dialect() != SQLite || runtime.GOOS != "linux" {
				if w != nil {
					t.Errorf("a writeback on %s/%s", s.Dialect(), runtime.GOOS)
				}
				return
			}
			if w == nil {
				t.Fatal("no writeback of the WAL")
			}
			if w.db < 0 {
				t.Fatal("no descriptor of the database file found")
			}
			before, dbBefore := w.kicks.Load(), w.dbKicks.Load()
			w.kick()
			if got := w.kicks.Load(); got <= before {
				t.Errorf("kick started no writeback of the WAL (%d, then %d)", before, got)
			}
			if got := w.dbKicks.Load(); got <= dbBefore {
				t.Errorf("kick started no writeback of the database file (%d, then %d)", dbBefore, got)
			}
		})
	}
}
