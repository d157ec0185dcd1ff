package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	missing := filepath.Join(dir, "no", "such", "iotwatch.db")
	if _, err := OpenReadOnly(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing database: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); err == nil {
		t.Error("OpenReadOnly created the database's directory")
	}

	for name, newDSN := range testpeer.Databases(t) {
		dsn := newDSN()
		t.Run(name, func(t *testing.T) {
			st, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			run := &model.Run{Kind: "scan", Targets: []string{"127.0.0.1"}}
			if err := st.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if err := st.EndRun(ctx, run, nil); err != nil {
				t.Fatal(err)
			}
			st.Close()

			ro, err := OpenReadOnly(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			runs, err := ro.Runs(ctx, 10)
			if err != nil || len(runs) != 1 || runs[0].ID != run.ID {
				t.Fatalf("runs through a read-only open: %+v, %v; want run %d", runs, err, run.ID)
			}
			if err := ro.StartRun(ctx, &model.Run{Kind: "scan"}); err == nil {
				t.Error("a write through a read-only open succeeded")
			}
		})
	}
}

// TestOpenReadOnlyOutdated: a database an older iotwatch wrote (here: one
// without any schema) is refused, not migrated.
func TestOpenReadOnlyOutdated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(context.Background(), path); !errors.Is(err, ErrSchemaOutdated) {
		t.Errorf("schema-less database: %v, want ErrSchemaOutdated", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("read-only open changed the file: %v, %v", fi, err)
	}
}
