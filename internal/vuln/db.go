// Package vuln is iotwatch's offline vulnerability database: it imports NVD,
// CVE 5, CISA KEV and OSV data into the store (streaming, in batches),
// matches identified products against NVD configurations exactly (CPE 2.3
// with wildcards, AND/OR nodes, platforms, version ranges with an ordering
// that is right for embedded products), flags known-exploited CVEs,
// classifies CVEs as IoT or not, and computes archive statistics.
//
// A small seed (30 real NVD records and the KEV catalogue) is embedded so
// that matching works offline on a fresh database; see EnsureSeed.
package vuln

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"iotwatch/internal/model"
	"iotwatch/internal/store"
)

// DB is the vulnerability database inside an iotwatch store.
type DB struct {
	st *store.Store

	// mu guards the matching caches, dropped on import.
	mu      sync.Mutex
	cands   map[string][]string                 // "vendor\x00product" -> CVE ids
	comp    map[string]*compiled                // CVE id -> compiled configurations
	results map[string][]model.VulnMatch        // known names -> matches (a fleet repeats its products)
	distro  map[string]map[string][]distroRange // "distro\x00package" -> CVE -> advisory ranges
	vex     map[string][]vexRow                 // CVE -> VEX statements; nil until loaded
}

// cacheLimit bounds each matching cache; past it a quarter of the entries
// (chosen by Go's random map order) is evicted.
const cacheLimit = 20000

// evict drops a quarter of m when it is full.
func evict[V any](m map[string]V) {
	if len(m) < cacheLimit {
		return
	}
	n := len(m) / 4
	for k := range m {
		if n == 0 {
			break
		}
		delete(m, k)
		n--
	}
}

// ErrNotFound is returned by Record for an unknown CVE id.
var ErrNotFound = store.ErrNotFound

// Open returns the vulnerability database of st. The schema comes with the
// store's migrations (00002_vulndb.sql).
func Open(ctx context.Context, st *store.Store) (*DB, error) {
	if st == nil {
		return nil, errors.New("vuln: nil store")
	}
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM vuln_meta").Scan(&n); err != nil {
		return nil, fmt.Errorf("vuln: open: %w", err)
	}
	d := &DB{st: st}
	d.invalidate()
	return d, nil
}

// Store returns the store the database lives in.
func (d *DB) Store() *store.Store { return d.st }

func (d *DB) q(query string) string { return d.st.Rebind(query) }

// invalidate drops the matching caches after the data changed.
func (d *DB) invalidate() {
	d.mu.Lock()
	d.cands = map[string][]string{}
	d.comp = map[string]*compiled{}
	d.results = map[string][]model.VulnMatch{}
	d.distro = map[string]map[string][]distroRange{}
	d.vex = nil
	d.mu.Unlock()
}

// Count returns the number of CVE records stored.
func (d *DB) Count(ctx context.Context) (int, error) {
	var n int
	err := d.st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM vuln_cves").Scan(&n)
	return n, err
}

// KEVCount returns the number of KEV catalogue entries stored.
func (d *DB) KEVCount(ctx context.Context) (int, error) {
	var n int
	err := d.st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM vuln_kev").Scan(&n)
	return n, err
}

// meta reads a value from vuln_meta ("" when unset).
func (d *DB) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := d.st.DB().QueryRowContext(ctx, d.q("SELECT value FROM vuln_meta WHERE key = ?"), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// setMeta writes (or, with an empty value, deletes) a vuln_meta entry.
func (d *DB) setMeta(ctx context.Context, key, value string) error {
	db := d.st.DB()
	if _, err := db.ExecContext(ctx, d.q("DELETE FROM vuln_meta WHERE key = ?"), key); err != nil {
		return err
	}
	if value == "" {
		return nil
	}
	_, err := db.ExecContext(ctx, d.q("INSERT INTO vuln_meta (key, value) VALUES (?, ?)"), key, value)
	return err
}

// splitList splits a comma-joined column.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
