package store

import (
	"context"
	"database/sql"
	"os"
	"sync/atomic"
	"time"
)

// BulkTx is Tx for a transaction that writes megabytes (the rows of a flow
// ingest). On SQLite, the commit of such a transaction runs SQLite's
// automatic checkpoint (the WAL then holds more than 1,000 pages), which
// first waits for the WAL's pages to reach the disk (fsync), then copies
// them into the database file and waits for those (fsync): 20-30 ms each
// for the 21 MB of a million-flow ingest when the system has written none
// of them yet. BulkTx has the system start writing the WAL's pages while fn
// writes and before the commit, and the database file's while the
// checkpoint copies (sync_file_range, as RocksDB's wal_bytes_per_sync
// does), so that each fsync finds little left to write. The database file
// is reached through SQLite's own descriptor (see openFD). Elsewhere, and
// on other systems, BulkTx is Tx.
func (s *Store) BulkTx(ctx context.Context, fn func(*sql.Tx) error) error {
	w := s.startWriteback()
	defer w.stop()
	return s.tx(ctx, fn, w.kick)
}

// writebackEvery is how often a writeback has the written pages sent.
const writebackEvery = 5 * time.Millisecond

// writeback sends the written pages of the WAL and of the database file to
// the disk from a goroutine of its own, every writebackEvery and when
// kicked. A nil writeback does nothing.
type writeback struct {
	wal     *os.File
	db      int // SQLite's descriptor of the database file, or -1
	quit    chan struct{}
	done    chan struct{}
	kicks   atomic.Int64 // writebacks of the WAL started (tests)
	dbKicks atomic.Int64 // of the database file
}

// startWriteback returns the writeback of s's WAL and database file, or nil
// where there is none (PostgreSQL, no WAL file, a system without
// sync_file_range).
func (s *Store) startWriteback() *writeback {
	if s.dialect != SQLite || !writebackSupported {
		return nil
	}
	f, err := os.Open(s.dsn + "-wal")
	if err != nil {
		return nil
	}
	// The store's connection, opened by Open, holds its descriptor of the
	// database file open until it closes; should it close meanwhile and the
	// number be reused, another file's pages would only be written early.
	w := &writeback{wal: f, db: openFD(s.dsn), quit: make(chan struct{}), done: make(chan struct{})}
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
// leaves the work to the checkpoint's fsync.
func (w *writeback) kick() {
	if w == nil {
		return
	}
	if startWrite(w.wal) == nil {
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
	w.wal.Close()
}
