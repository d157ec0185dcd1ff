package jobs_test

import (
	"context"
	"path/filepath"
	"testing"

	"iotwatch/internal/jobs"
	"iotwatch/internal/store"
	"iotwatch/internal/testpeer"
)

// BenchmarkOpen measures what River's migrations would add to every
// store.Open if they ran there: store.Open alone, and jobs.Migrate on a
// database already up to date (what New does each time), on SQLite and
// PostgreSQL.
func BenchmarkOpen(b *testing.B) {
	for _, be := range []struct {
		name string
		dsn  func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "b.db") }},
		{"postgres", testpeer.Postgres},
	} {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			dsn := be.dsn(b)
			st, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := jobs.Migrate(ctx, st); err != nil {
				b.Fatal(err)
			}
			b.Run("store.Open", func(b *testing.B) {
				for b.Loop() {
					s, err := store.Open(ctx, dsn)
					if err != nil {
						b.Fatal(err)
					}
					s.Close()
				}
			})
			b.Run("jobs.Migrate", func(b *testing.B) {
				for b.Loop() {
					if err := jobs.Migrate(ctx, st); err != nil {
						b.Fatal(err)
					}
				}
			})
			if be.name != "sqlite" {
				return
			}
			for _, withRiver := range []bool{false, true} {
				name := "new-database"
				if withRiver {
					name += "+river"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						b.StopTimer()
						d := filepath.Join(b.TempDir(), "f.db")
						b.StartTimer()
						s, err := store.Open(ctx, d)
						if err != nil {
							b.Fatal(err)
						}
						if withRiver {
							if err := jobs.Migrate(ctx, s); err != nil {
								b.Fatal(err)
							}
						}
						s.Close()
					}
				})
			}
		})
	}
}
