package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// BulkTx is Tx for a transaction that writes megabytes (the rows of a flow
// ingest); size is about how many bytes fn writes.
//
// On SQLite, from bulkJournalMin bytes on and when no other connection has
// the database open, the transaction is written through a rollback journal
// instead of the WAL: its connection leaves WAL mode for it and comes back
// after. In WAL mode every page is written twice, into the WAL and then by
// the commit's checkpoint into the database; and a page that the
// transaction wrote out of its cache and then changed again makes the
// commit read and checksum again every frame written after it. For the
// million flows of bench/flows/pcapgen, that was 21 MB written into the
// WAL, 17 MB read back, and 21 MB read and written by the checkpoint.
// Through a rollback journal, the pages that a transaction adds to the file
// are written once, into the database; the journal holds only the few
// pages that existed before (page 1, the tables' roots). SQLite's share of
// that ingest's CPU went from 0.22 to 0.11 s.
//
// The journal keeps the transaction as safe as the WAL does. A process
// killed at any moment leaves a hot journal, which the next connection to
// write rolls back. Synchronous is FULL meanwhile, so that this also holds
// when the machine loses power. Any other connection (a console reading,
// an import waiting) holds a shared lock on the file, so SQLite refuses at
// once to leave WAL mode, and the transaction then uses the WAL as before:
// readers beside a writer are what WAL mode is for. A process that opens
// the database while the transaction runs waits for it (busy_timeout) and
// then finds the database in WAL mode again.
//
// In WAL mode, BulkTx has the system start writing the WAL's pages while
// fn writes and before the commit, and the database file's while the
// checkpoint copies (sync_file_range, as RocksDB's wal_bytes_per_sync
// does), so that each fsync finds little left to write. With a journal, it
// does so for the database pages that SQLite writes out of its cache. The
// database file is reached through SQLite's own descriptor (see openFD).
// On PostgreSQL, BulkTx is Tx.
func (s *Store) BulkTx(ctx context.Context, size int64, fn func(*sql.Tx) error) error {
	if s.dialect != SQLite {
		return s.tx(ctx, fn, func() {})
	}
	// The pragmas are the connection's: the transaction must run on it.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	journal := size >= bulkJournalMin && leaveWAL(ctx, conn)
	if journal {
		s.bulkJournals.Add(1)
		defer enterWAL(conn)
	}
	w := s.startWriteback(!journal)
	defer w.stop()
	return txOn(ctx, conn.BeginTx, fn, w.kick)
}

// Checkpoint copies what the WAL of a SQLite database holds into the
// database file, as far as readers allow (a passive checkpoint: it waits
// for no one), so that a later transaction's commit or BulkTx need not:
// the new database an ingest migrates while it reads its inputs (see
// ingest.RunAllNew) holds its schema there. On PostgreSQL it does nothing.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// bulkJournalMin is the size from which BulkTx writes through a rollback
// journal. Leaving WAL mode and coming back costs two more small
// transactions and a dozen fsyncs in all (20-40 ms on the loaded test
// machine): measured there, 1.5 MB took 40 ms longer through a journal,
// 6 MB 35 ms less.
const bulkJournalMin = 8 << 20

// leaveWAL switches conn's database from WAL to a rollback journal with
// synchronous FULL, and reports whether it did. SQLite checkpoints the WAL
// and then writes the change into the file's header, and needs the
// database alone for both. It waits for nobody here (busy_timeout 0):
// another connection that has the database open makes it fail at once
// (SQLITE_BUSY), and SQLite then leaves the database in WAL mode. With
// the store's busy_timeout, a connection opened meanwhile that was
// between two reads made it wait the whole minute.
func leaveWAL(ctx context.Context, conn *sql.Conn) bool {
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout=0`); err != nil {
		return false
	}
	var mode string
	err := conn.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode)
	if _, berr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout=`+strconv.Itoa(int(BusyTimeout/time.Millisecond))); berr != nil {
		if err == nil && mode == "delete" {
			enterWAL(conn)
		}
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // the next connection has Open's pragmas
		return false
	}
	if err != nil || mode != "delete" {
		if mode == "delete" {
			enterWAL(conn)
		}
		return false
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous=FULL`); err != nil {
		enterWAL(conn)
		return false
	}
	return true
}

// enterWAL brings conn's database back to WAL mode with the store's
// synchronous NORMAL (see Open), even after ctx's end. When it cannot,
// the connection is dropped: the next one the pool opens sets WAL mode
// as Open's do.
func enterWAL(conn *sql.Conn) {
	ctx := context.Background()
	var mode string
	err := conn.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
	if err == nil && mode != "wal" {
		err = fmt.Errorf("journal mode %s", mode)
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, `PRAGMA synchronous=NORMAL`)
	}
	if err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// writebackEvery is how often a writeback has the written pages sent.
const writebackEvery = 5 * time.Millisecond

// writeback sends the written pages of the WAL and of the database file to
// the disk from a goroutine of its own, every writebackEvery and when
// kicked. A nil writeback does nothing.
type writeback struct {
	wal     *os.File // nil without a WAL
	db      int      // SQLite's descriptor of the database file, or -1
	quit    chan struct{}
	done    chan struct{}
	kicks   atomic.Int64 // writebacks of the WAL started (tests)
	dbKicks atomic.Int64 // of the database file
}

// startWriteback returns the writeback of s's database file and, with
// wal, of its WAL, or nil where there is none of them (PostgreSQL, no WAL
// file, a system without sync_file_range).
func (s *Store) startWriteback(wal bool) *writeback {
	if s.dialect != SQLite || !writebackSupported {
		return nil
	}
	var f *os.File
	if wal {
		var err error
		if f, err = os.Open(s.dsn + "-wal"); err != nil {
			return nil
		}
	}
	// The store's connection, opened by Open, holds its descriptor of the
	// database file open until it closes; should it close meanwhile and the
	// number be reused, another file's pages would only be written early.
	w := &writeback{wal: f, db: openFD(s.dsn), quit: make(chan struct{}), done: make(chan struct{})}
	if w.wal == nil && w.db < 0 {
		return nil
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(writebackEvery)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
				w.kick()
			}
		}
	}()
	return w
}

// kick starts the writing of the pages written so far. A failure only
// leaves the work to the commit's fsync.
func (w *writeback) kick() {
	if w == nil {
		return
	}
	if w.wal != nil && startWrite(w.wal) == nil {
		w.kicks.Add(1)
	}
	if w.db >= 0 && startWriteFD(w.db) == nil {
		w.dbKicks.Add(1)
	}
}

// stop ends the goroutine and closes the WAL's descriptor.
func (w *writeback) stop() {
	if w == nil {
		return
	}
	close(w.quit)
	<-w.done
	if w.wal != nil {
		w.wal.Close()
	}
}
