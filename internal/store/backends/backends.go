// Package backends opens evidence stores for tests: SQLite always, and
// PostgreSQL when IOTWATCH_TEST_PG names a server (see testpeer.Databases),
// so a test that must hold on both backends is written once.
package backends

import (
	"context"
	"testing"

	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// Open opens the store at dsn and closes it when the test ends.
func Open(t testing.TB, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("backends: open %s: %v", dsn, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Openers returns, per backend ("sqlite", "postgres"), a function that
// opens a new, empty store.
func Openers(t testing.TB) map[string]func() *store.Store {
	t.Helper()
	out := map[string]func() *store.Store{}
	for name, dsn := range testpeer.Databases(t) {
		out[name] = func() *store.Store { return Open(t, dsn()) }
	}
	return out
}

// Stores returns one new, empty store per backend.
func Stores(t testing.TB) map[string]*store.Store {
	t.Helper()
	out := map[string]*store.Store{}
	for name, open := range Openers(t) {
		out[name] = open()
	}
	return out
}
