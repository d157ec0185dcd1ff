package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

// TestPruneByDay stores evidence of runs started on several days, applies a
// 7-day retention and checks exactly which rows remain: on PostgreSQL the
// partitions of the old days are dropped whole (pg_inherits no longer lists
// them) and the default partition is cleared of old rows; on SQLite the old
// runs' rows are deleted. Runs themselves are kept.
func TestPruneByDay(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	days := []int{20, 10, 7, 6, 1, 0} // days ago each run started; 20 is written by an "old process"
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			runs := map[int]int64{}
			for _, ago := range days {
				started := now.Add(-time.Duration(ago) * 24 * time.Hour)
				run := &model.Run{Kind: "audit", StartedAt: started, Status: model.RunComplete}
				if ago == 20 {
					// A run recorded without StartRun's partition step (an
					// older process): its rows land in the default partition.
					err := s.db.QueryRowContext(ctx, s.Rebind(`INSERT INTO runs (kind, status, started_at) VALUES (?, ?, ?) RETURNING id`),
						"audit", model.RunComplete, Time(started)).Scan(&run.ID)
					if err != nil {
						t.Fatal(err)
					}
				} else if err := s.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				runs[ago] = run.ID
				ip := fmt.Sprintf("127.21.0.%d", ago+1)
				if err := s.SaveServices(ctx, run.ID, []model.Service{svc(ip, 22, "v"), svc(ip, 23, "")}); err != nil {
					t.Fatal(err)
				}
				// Saving again (a resumed batch) updates the same rows.
				if err := s.SaveServices(ctx, run.ID, []model.Service{svc(ip, 22, "v")}); err != nil {
					t.Fatal(err)
				}
				cred := model.CredentialResult{IP: netip.MustParseAddr(ip), Port: 23, Protocol: "telnet", Username: "root", Password: "xc3511",
					Kind: "default", Time: started}
				if err := s.SaveCredentials(ctx, run.ID, []model.CredentialResult{cred}); err != nil {
					t.Fatal(err)
				}
				f := model.Finding{Kind: "weak-credential", Subject: ip, Title: "default telnet password", Severity: model.SeverityHigh, Time: started}
				for range 2 { // saving again updates the same row
					if err := s.SaveFindings(ctx, run.ID, []model.Finding{f}); err != nil {
						t.Fatal(err)
					}
				}
				err := s.Tx(ctx, func(tx *sql.Tx) error {
					args, col, val, err := s.DayKey(ctx, tx, run.ID)
					if err != nil {
						return err
					}
					_, err = tx.ExecContext(ctx, s.Rebind(`INSERT INTO flow_devices (run_id, device, first_hour, last_hour, flows, packets, bytes, hours, peers`+col+`)
						VALUES (?, ?, ?, ?, 1, 1, 1, '[]', '[]'`+val+`)`), args(run.ID, ip, Time(started), Time(started))...)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if s.Partitioned() {
				parts, err := s.Partitions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var def int64
				for _, p := range parts {
					if p.Name == "services_default" {
						def = p.Rows
					}
				}
				if def != 2 {
					t.Errorf("services_default holds %d rows, want the 2 of the run 20 days ago", def)
				}
			}

			res, err := s.Prune(ctx, now, 7*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if want := "2026-11-29"; res.Before != want {
				t.Errorf("first day kept = %s, want %s", res.Before, want)
			}
			wantKept := []int64{runs[7], runs[6], runs[1], runs[0]}
			slices.Sort(wantKept)
			for _, table := range DayTables {
				got := runIDs(t, s, table)
				if !slices.Equal(got, wantKept) {
					t.Errorf("%s: runs with rows after prune = %v, want %v", table, got, wantKept)
				}
			}
			if n := count(t, s, "SELECT COUNT(*) FROM services"); n != 8 {
				t.Errorf("services rows = %d, want 8 (2 per kept run, no duplicates)", n)
			}
			if n := count(t, s, "SELECT COUNT(*) FROM findings"); n != 4 {
				t.Errorf("findings rows = %d, want 4 (1 per kept run, no duplicates)", n)
			}
			if n := count(t, s, "SELECT COUNT(*) FROM runs"); n != int64(len(days)) {
				t.Errorf("runs = %d, want all %d kept", n, len(days))
			}
			if !s.Partitioned() {
				if res.Deleted["services"] != 4 || res.Deleted["credentials"] != 2 || res.Deleted["flow_devices"] != 2 || res.Deleted["findings"] != 2 {
					t.Errorf("deleted = %v, want services 4, credentials 2, flow_devices 2, findings 2", res.Deleted)
				}
				return
			}
			wantDropped := []string{"credentials_p20261126", "findings_p20261126", "flow_devices_p20261126", "services_p20261126"}
			if slices.Sort(res.Dropped); !slices.Equal(res.Dropped, wantDropped) {
				t.Errorf("dropped %v, want %v", res.Dropped, wantDropped)
			}
			if res.Deleted["services"] != 2 || res.Deleted["credentials"] != 1 || res.Deleted["flow_devices"] != 1 || res.Deleted["findings"] != 1 {
				t.Errorf("deleted from the default partitions = %v, want services 2, credentials 1, flow_devices 1, findings 1", res.Deleted)
			}
			// pg_inherits: no partition of a day before the first day kept,
			// and every kept day still has its partition.
			rows, err := s.db.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'services' ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				names = append(names, n)
			}
			rows.Close()
			for _, n := range names {
				if d := partitionDay("services", n); d != "" && d < res.Before {
					t.Errorf("partition %s of a pruned day is still attached", n)
				}
			}
			for _, d := range []string{"20261129", "20261130", "20261205", "20261206"} {
				if !slices.Contains(names, "services_p"+d) {
					t.Errorf("partition services_p%s missing; have %v", d, names)
				}
			}
			if !slices.Contains(names, "services_default") {
				t.Errorf("default partition missing; have %v", names)
			}
		})
	}
}

func runIDs(t *testing.T, s *Store, table string) []int64 {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), `SELECT DISTINCT run_id FROM `+table+` ORDER BY run_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func count(t *testing.T, s *Store, q string) int64 {
	t.Helper()
	var n int64
	if err := s.db.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"400d", 400 * 24 * time.Hour, false},
		{"72h", 72 * time.Hour, false},
		{"0d", 0, true},
		{"-3d", 0, true},
		{"d", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRetention(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// TestPartitionMigration migrates a PostgreSQL database holding evidence
// from before partitioning (version 19): the rows move into the partitions
// of their runs' days, and going back down restores the plain tables.
func TestPartitionMigration(t *testing.T) {
	ctx := context.Background()
	db, p := migratedTo(t, 19)
	for i, started := range []string{"2026-01-02T23:59:59.5Z", "2026-01-03T00:00:00Z"} {
		id := int64(i + 1)
		stmts := []string{
			fmt.Sprintf(`INSERT INTO runs (id, kind, status, started_at) VALUES (%d, 'audit', 'complete', '%s')`, id, started),
			fmt.Sprintf(`INSERT INTO services (run_id, ip, port, transport, status, seen_at) VALUES (%d, '127.0.0.1', 22, 'tcp', 'success', '%s')`, id, started),
			fmt.Sprintf(`INSERT INTO credentials (run_id, ip, port, protocol, username, password, kind, seen_at) VALUES (%d, '127.0.0.1', 22, 'ssh', 'root', 'root', 'default', '%s')`, id, started),
			fmt.Sprintf(`INSERT INTO flow_devices (run_id, device, first_hour, last_hour, flows, packets, bytes, hours, peers) VALUES (%d, '127.0.0.1', '%s', '%s', 1, 1, 1, '[]', '[]')`, id, started, started),
		}
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if _, err := p.UpTo(ctx, 20); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"services", "credentials", "flow_devices"} { // 00020's
		for _, want := range []struct {
			part string
			run  int64
		}{{table + "_p20260102", 1}, {table + "_p20260103", 2}} {
			var run int64
			if err := db.QueryRowContext(ctx, `SELECT run_id FROM `+want.part).Scan(&run); err != nil {
				t.Fatalf("%s: %v", want.part, err)
			}
			if run != want.run {
				t.Errorf("%s holds run %d, want %d", want.part, run, want.run)
			}
		}
	}
	if _, err := p.DownTo(ctx, 19); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"services", "credentials", "flow_devices"} { // 00020's
		var n int64
		var kind string
		if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM `+table+`), relkind::text FROM pg_class WHERE relname = $1`, table).Scan(&n, &kind); err != nil {
			t.Fatal(err)
		}
		if n != 2 || kind != "r" {
			t.Errorf("%s after down: %d rows, relkind %q; want 2 rows in a plain table", table, n, kind)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// TestFindingsPartitionMigration migrates findings written before 00038 into
// the partitions of their runs' days, and back down to the plain table.
func TestFindingsPartitionMigration(t *testing.T) {
	ctx := context.Background()
	db, p := migratedTo(t, 37)
	for i, started := range []string{"2026-01-02T23:59:59.5Z", "2026-01-03T00:00:00Z"} {
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO runs (id, kind, status, started_at) VALUES (%d, 'flows', 'complete', '%s')`, i+1, started),
			fmt.Sprintf(`INSERT INTO findings (run_id, kind, subject, title, severity, data, seen_at) VALUES (%d, 'scanning', '10.0.0.%d', 't', 'high', '{}', '%s')`, i+1, i+1, started),
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if _, err := p.UpTo(ctx, 38); err != nil {
		t.Fatal(err)
	}
	for part, want := range map[string]int64{"findings_p20260102": 1, "findings_p20260103": 2} {
		var run int64
		if err := db.QueryRowContext(ctx, `SELECT run_id FROM `+part).Scan(&run); err != nil {
			t.Fatalf("%s: %v", part, err)
		}
		if run != want {
			t.Errorf("%s holds run %d, want %d", part, run, want)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO findings (run_id, kind, subject, title, severity, data, seen_at, day)
		VALUES (1, 'scanning', '10.0.0.1', 't', 'high', '{}', 'x', '2026-01-02')`); err == nil {
		t.Error("a second row with the same key in the same day was accepted")
	}
	if _, err := p.DownTo(ctx, 37); err != nil {
		t.Fatal(err)
	}
	var n int64
	var kind string
	if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM findings), relkind::text FROM pg_class WHERE relname = 'findings'`).Scan(&n, &kind); err != nil {
		t.Fatal(err)
	}
	if n != 2 || kind != "r" {
		t.Errorf("findings after down: %d rows, relkind %q; want 2 rows in a plain table", n, kind)
	}
	if _, err := p.UpTo(ctx, 38); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// migratedTo returns a fresh PostgreSQL database migrated up to version and
// the migration provider (it skips without PostgreSQL).
func migratedTo(t *testing.T, version int64) (*sql.DB, *goose.Provider) {
	t.Helper()
	if os.Getenv("IOTWATCH_TEST_PG") == "" && !testpeer.Required() {
		t.Skip("IOTWATCH_TEST_PG is not set")
	}
	db, err := sql.Open("pgx", testpeer.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsys, err := migrationFS(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return db, p
}

// TestDeviceKeysMigration fills device_keys (00046) from the devices a
// database already holds: each vendor and product name once, none empty.
func TestDeviceKeysMigration(t *testing.T) {
	ctx := context.Background()
	db, p := migratedTo(t, 45)
	for i, d := range [][2]string{{"hikvision", "ds-2cd2042wd"}, {"hikvision", "ds-7608ni"}, {"tp-link", ""}, {"", ""}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO devices (ip, addr, vendor_key, product_key) VALUES ($1, $2, $3, $4)`,
			fmt.Sprintf("10.0.0.%d", i+1), []byte{10, 0, 0, byte(i + 1)}, d[0], d[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.UpTo(ctx, 46); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT kind || ':' || name FROM device_keys ORDER BY kind, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
	}
	want := []string{"product:ds-2cd2042wd", "product:ds-7608ni", "vendor:hikvision", "vendor:tp-link"}
	if !slices.Equal(got, want) {
		t.Errorf("device_keys after 00046: %v, want %v", got, want)
	}
}
