package vuln

import (
	"bytes"
	"context"
	"embed"
	"fmt"
)

// seedFS holds the embedded seed: 30 real NVD records and the CISA KEV
// catalogue (see data/seed/README.md for sources and licences).
//
//go:embed data/seed/nvd-seed.json.gz data/seed/kev.json.gz
var seedFS embed.FS

// EnsureSeed imports the embedded seed if no CVE is stored yet, so that a
// fresh database matches offline. It does nothing on a populated database.
func (d *DB) EnsureSeed(ctx context.Context) error {
	n, err := d.Count(ctx)
	if err != nil {
		return fmt.Errorf("vuln seed: %w", err)
	}
	if n > 0 {
		return nil
	}
	return d.ImportSeed(ctx)
}

// ImportSeed imports the embedded seed unconditionally (newer stored
// records are kept: imports never replace a newer lastModified).
func (d *DB) ImportSeed(ctx context.Context) error {
	for _, name := range []string{"data/seed/nvd-seed.json.gz", "data/seed/kev.json.gz"} {
		b, err := seedFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("vuln seed %s: %w", name, err)
		}
		if _, err := d.Import(ctx, bytes.NewReader(b), ImportOptions{}); err != nil {
			return fmt.Errorf("vuln seed %s: %w", name, err)
		}
	}
	return d.setMeta(ctx, metaSeed, "30 NVD records (2014-2024)")
}
