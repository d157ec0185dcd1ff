package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bulkRows inserts n rows of 2 KiB into bulk_test in one bulk transaction
// big enough for a rollback journal.
func bulkRows(ctx context.Context, s *Store, n int) error {
	blob := bytes.Repeat([]byte{0xa5}, 2048)
	return s.BulkTx(ctx, bulkJournalMin, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO bulk_test (n, b) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range n {
			if _, err := stmt.ExecContext(ctx, i, blob); err != nil {
				return err
			}
		}
		return nil
	})
}

// openBulkTest opens a new SQLite store with the table bulk_test; it is
// closed when the test ends.
func openBulkTest(t *testing.T) (string, *Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.DB().Exec(`CREATE TABLE bulk_test (n INTEGER NOT NULL, b BLOB)`); err != nil {
		t.Fatal(err)
	}
	return path, s
}

// journalMode is the journal mode of s's connection.
func journalMode(t *testing.T, s *Store) string {
	t.Helper()
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// TestBulkTxJournal: a bulk transaction on a SQLite database no other
// connection has open is written through a rollback journal, and the
// database is in WAL mode again after; with another connection open (a
// second store on the file), it is written through the WAL. Either way
// everything lands, or nothing when fn fails, and small transactions keep
// the WAL.
func TestBulkTxJournal(t *testing.T) {
	ctx := context.Background()
	path, s := openBulkTest(t)
	count := func(want int) {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err != nil || n != want {
			t.Errorf("%d rows (%v), want %d", n, err, want)
		}
		if m := journalMode(t, s); m != "wal" {
			t.Errorf("journal mode %s after the bulk transaction, want wal", m)
		}
		var busy int
		if err := s.DB().QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != int(BusyTimeout/time.Millisecond) {
			t.Errorf("busy_timeout %d ms (%v) after the bulk transaction, want %d", busy, err, BusyTimeout/time.Millisecond)
		}
	}
	// Alone: a rollback journal.
	if err := bulkRows(ctx, s, 3000); err != nil {
		t.Fatal(err)
	}
	if got := s.bulkJournals.Load(); got != 1 {
		t.Errorf("%d bulk transactions through a journal, want 1", got)
	}
	count(3000)
	errFn := fmt.Errorf("fn failed")
	if err := s.BulkTx(ctx, bulkJournalMin, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_test (n) VALUES (1)`); err != nil {
			return err
		}
		return errFn
	}); err != errFn {
		t.Errorf("BulkTx: %v, want %v", err, errFn)
	}
	count(3000)
	// Small: the WAL.
	if err := s.BulkTx(ctx, bulkJournalMin-1, func(tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := s.bulkJournals.Load(); got != 2 {
		t.Errorf("%d bulk transactions through a journal, want 2 (a small one used one)", got)
	}
	// Another connection open: the WAL.
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := bulkRows(ctx, s, 3000); err != nil {
		t.Fatal(err)
	}
	if got := s.bulkJournals.Load(); got != 2 {
		t.Errorf("%d bulk transactions through a journal, want 2 (another connection was open)", got)
	}
	count(6000)
	var n int
	if err := other.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err != nil || n != 6000 {
		t.Errorf("the other store reads %d rows (%v), want 6000", n, err)
	}
}

// bulkChildEnv names the database a child process of TestBulkTxKilled
// writes to until it is killed.
const bulkChildEnv = "IOTWATCH_BULK_CHILD"

// TestBulkTxKilled: a process killed (SIGKILL) while it writes bulk
// transactions through a rollback journal leaves a database that the next
// store opens consistent and in WAL mode, holding whole transactions only;
// a read-only store meanwhile reads whole transactions or refuses to open.
func TestBulkTxKilled(t *testing.T) {
	if path := os.Getenv(bulkChildEnv); path != "" {
		bulkChild(path)
		return
	}
	const rows = 2000 // per transaction (4 MiB)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	journals := 0
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBulkTxKilled$")
		cmd.Env = append(os.Environ(), bulkChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The child writes a line as each transaction begins.
		sc := bufio.NewScanner(out)
		for range 1 + rng.IntN(3) {
			if !sc.Scan() {
				t.Fatalf("round %d: the child ended: %v", round, sc.Err())
			}
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if fi, err := os.Stat(path + "-journal"); err == nil && fi.Size() > 0 {
			journals++
		}
		if ro, err := OpenReadOnly(ctx, path); err == nil {
			var n int
			if err := ro.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err == nil && n%rows != 0 {
				t.Errorf("round %d: a read-only store reads %d rows, not whole transactions of %d", round, n, rows)
			}
			ro.Close()
		}
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var check string
		var n int
		if err := s.DB().QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("round %d: integrity check %q (%v)", round, check, err)
		}
		if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err != nil || n%rows != 0 {
			t.Errorf("round %d: %d rows (%v), not whole transactions of %d", round, n, err, rows)
		}
		if m := journalMode(t, s); m != "wal" {
			t.Errorf("round %d: journal mode %s, want wal", round, m)
		}
		s.Close()
	}
	t.Logf("%d of 6 kills left a journal to roll back", journals)
}

// bulkChild writes bulk transactions to path until it is killed.
func bulkChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bulk_test (n INTEGER NOT NULL, b BLOB)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		fmt.Println("begin")
		if err := bulkRows(ctx, s, 2000); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// TestBulkTxOpenedMeanwhile: a store opened while a bulk transaction is
// written through a journal waits for it, then reads all of it; both
// stores find the database in WAL mode after, and a second bulk
// transaction, with the other store open, uses the WAL (it took the whole
// busy_timeout to find out, a minute, before leaveWAL stopped waiting).
func TestBulkTxOpenedMeanwhile(t *testing.T) {
	ctx := context.Background()
	path, s := openBulkTest(t)
	type opened struct {
		s   *Store
		err error
	}
	done := make(chan opened, 1)
	blob := bytes.Repeat([]byte{0x5a}, 2048)
	err := s.BulkTx(ctx, bulkJournalMin, func(tx *sql.Tx) error {
		for i := range 3000 {
			if i == 1000 {
				go func() {
					o, err := Open(ctx, path)
					done <- opened{o, err}
				}()
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_test (n, b) VALUES (?, ?)`, i, blob); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.bulkJournals.Load(); got != 1 {
		t.Errorf("%d bulk transactions through a journal, want 1", got)
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("open meanwhile: %v", o.err)
	}
	defer o.s.Close()
	var n int
	if err := o.s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_test`).Scan(&n); err != nil || n != 3000 {
		t.Errorf("the store opened meanwhile reads %d rows (%v), want 3000", n, err)
	}
	for name, st := range map[string]*Store{"writer": s, "opened meanwhile": o.s} {
		if m := journalMode(t, st); m != "wal" {
			t.Errorf("%s: journal mode %s, want wal", name, m)
		}
	}
	if err := bulkRows(ctx, s, 1000); err != nil {
		t.Fatal(err)
	}
	if got := s.bulkJournals.Load(); got != 1 {
		t.Errorf("%d bulk transactions through a journal, want 1 (the other store was open)", got)
	}
}
