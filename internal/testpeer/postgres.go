package testpeer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Postgres returns the URL of a fresh, empty PostgreSQL database, created on
// the server that IOTWATCH_TEST_PG names (its role must be allowed to create
// databases; scripts/setup.sh makes one) and dropped when the test ends. Each
// caller gets its own database, so packages tested in parallel never see each
// other's rows or race on migrations. Without IOTWATCH_TEST_PG the test is
// skipped, or fails when IOTWATCH_REQUIRE_PEERS=1.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("IOTWATCH_TEST_PG")
	if admin == "" {
		unavailable(t, "IOTWATCH_TEST_PG is not set")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testpeer: IOTWATCH_TEST_PG: %v", err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("testpeer: postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := make([]byte, 6)
	rand.Read(b)
	name := "iotwatch_t_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		unavailable(t, "postgres at %s: create database: %v", u.Host, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testpeer: drop database %s: %v", name, err)
		}
		db.Close()
	})
	u.Path = "/" + name
	return u.String()
}

// Databases returns, per store backend, a function that names a new, empty
// database for a test: "sqlite" always (a file in a temporary directory),
// and "postgres" (see Postgres) when IOTWATCH_TEST_PG names a server or
// peers are required. Tests that must hold on both backends range over it.
func Databases(t testing.TB) map[string]func() string {
	t.Helper()
	dir := t.TempDir()
	n := 0
	dbs := map[string]func() string{"sqlite": func() string {
		n++
		return filepath.Join(dir, "iotwatch-"+strconv.Itoa(n)+".db")
	}}
	if os.Getenv("IOTWATCH_TEST_PG") != "" || Required() {
		dbs["postgres"] = func() string { return Postgres(t) }
	}
	return dbs
}
