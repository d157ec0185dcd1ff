package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// helperEnv makes the test binary act as one of several processes sharing a
// database (see TestConcurrentProcesses).
const helperEnv = "IOTWATCH_STORE_HELPER"

const (
	helperTxs     = 40 // write transactions per writer process
	helperPerTx   = 5  // rows per transaction
	helperWriters = 2
	helperOpeners = 3
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helperProcess(mode, os.Getenv(helperEnv+"_DSN"), os.Getenv(helperEnv+"_ID")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperProcess opens dsn ("open") and, for "write", commits transactions
// shaped like an import batch: read what is there, then write.
func helperProcess(mode, dsn, id string) error {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	switch mode {
	case "run": // own a running run until killed
		run := &model.Run{Kind: "scan"}
		if err := s.StartRun(ctx, run); err != nil {
			return err
		}
		fmt.Println(run.ID)
		time.Sleep(time.Hour)
		return nil
	case "write":
	default:
		return nil
	}
	for i := range helperTxs {
		err := s.Tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, s.Rebind(`SELECT COUNT(*) FROM runs WHERE kind = ?`), "import-"+id).Scan(&n); err != nil {
				return err
			}
			// An importer compares before it writes; meanwhile another
			// process may commit.
			time.Sleep(time.Millisecond)
			for j := range helperPerTx {
				if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO runs (kind, targets, status, started_at) VALUES (?, ?, 'complete', '')`),
					"import-"+id, strconv.Itoa(i*helperPerTx+j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("writer %s, transaction %d: %w", id, i, err)
		}
	}
	return nil
}

// runHelpers starts n copies of the test binary in mode on dsn at once and
// returns each one's error output (empty when it succeeded).
func runHelpers(t *testing.T, mode, dsn string, n int) []string {
	t.Helper()
	out := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperEnv+"_DSN="+dsn, helperEnv+"_ID="+strconv.Itoa(i))
			if b, err := cmd.CombinedOutput(); err != nil {
				out[i] = fmt.Sprintf("%v: %s", err, b)
			}
		}()
	}
	wg.Wait()
	return out
}

// TestConcurrentProcesses: processes opening one new database at once all
// succeed (the migration lock), and concurrent writers both commit whole
// (busy timeout and immediate transactions), on SQLite and PostgreSQL.
func TestConcurrentProcesses(t *testing.T) {
	dsns := map[string]func() string{
		"sqlite": func() string { return filepath.Join(t.TempDir(), "new", "iotwatch.db") },
	}
	if os.Getenv("IOTWATCH_TEST_PG") != "" || testpeer.Required() {
		dsns["postgres"] = func() string { return testpeer.Postgres(t) }
	}
	for name, newDSN := range dsns {
		t.Run(name+"/open", func(t *testing.T) {
			for round := range 3 { // a race shows in some rounds only
				dsn := newDSN()
				for i, e := range runHelpers(t, "open", dsn, helperOpeners) {
					if e != "" {
						t.Errorf("round %d: process %d of %d opening a new database failed: %s", round, i, helperOpeners, e)
					}
				}
			}
		})
		t.Run(name+"/write", func(t *testing.T) {
			dsn := newDSN()
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, e := range runHelpers(t, "write", dsn, helperWriters) {
				if e != "" {
					t.Errorf("writer %d failed: %s", i, e)
				}
			}
			for i := range helperWriters {
				var n int
				if err := s.DB().QueryRow(s.Rebind(`SELECT COUNT(*) FROM runs WHERE kind = ?`), "import-"+strconv.Itoa(i)).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if want := helperTxs * helperPerTx; n != want {
					t.Errorf("writer %d: %d rows stored, want %d (all of its work)", i, n, want)
				}
			}
		})
	}
}
