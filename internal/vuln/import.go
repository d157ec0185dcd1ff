package vuln

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/feed"
)

// ImportResult counts what an import did.
type ImportResult struct {
	Format    string `json:"format"`
	Records   int    `json:"records"`   // vulnerability records read
	Inserted  int    `json:"inserted"`  // new ids
	Updated   int    `json:"updated"`   // ids replaced by a newer lastModified
	Unchanged int    `json:"unchanged"` // ids already stored with the same or a newer lastModified
	Rejected  int    `json:"rejected"`  // rejected or withdrawn ids (removed)
	KEVs      int    `json:"kevs"`      // KEV catalogue entries
	BadCPEs   int    `json:"bad_cpes"`  // criteria that do not parse (kept, not indexed)
	// Advisories counts distribution advisories (OSV Debian, Ubuntu,
	// Alpine) stored for backport matching.
	Advisories int `json:"advisories,omitempty"`
	// Archived counts national-archive records (CNVD, JVN, EUVD) stored.
	Archived int `json:"archived,omitempty"`
	// EPSS counts EPSS scores stored.
	EPSS    int    `json:"epss,omitempty"`
	Catalog string `json:"catalog,omitempty"`
	Total   int    `json:"total,omitempty"` // totalResults of an NVD API page
}

func (r *ImportResult) add(o ImportResult) {
	if o.Format != "" {
		r.Format = o.Format
	}
	r.Records += o.Records
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Rejected += o.Rejected
	r.KEVs += o.KEVs
	r.BadCPEs += o.BadCPEs
	r.Advisories += o.Advisories
	r.EPSS += o.EPSS
	r.Archived += o.Archived
	if o.Catalog != "" {
		r.Catalog = o.Catalog
	}
}

// ErrUnknownFormat is returned (wrapped) by ImportFile for input that is no
// vulnerability data format it knows.
var ErrUnknownFormat = feed.ErrUnknownFormat

// ImportOptions tune an import.
type ImportOptions struct {
	// BatchSize is the number of records written per transaction (default 1000).
	BatchSize int
	// Progress, if set, is called after each committed batch with the
	// number of records and KEV entries read so far.
	Progress func(n int)
}

// ImportFile imports a file (plain, gzip, xz or zip) of any supported format.
// Records are committed in batches: on error, the result counts what was
// committed before it and the error says where the input went wrong.
func (d *DB) ImportFile(ctx context.Context, path string, opt ImportOptions) (ImportResult, error) {
	im := d.newImporter(ctx, opt)
	info, err := feed.ReadFile(ctx, path, im.handler())
	return im.finish(info, err, path)
}

// Import imports a stream (plain, gzip or xz) of any supported format.
func (d *DB) Import(ctx context.Context, r io.Reader, opt ImportOptions) (ImportResult, error) {
	im := d.newImporter(ctx, opt)
	info, err := feed.Read(ctx, r, im.handler())
	return im.finish(info, err, "input")
}

// importer decodes on the caller's goroutine and writes batches on another,
// so that JSON decoding and SQL run side by side. At most two batches are
// in flight: memory stays bounded however large the input is.
type importer struct {
	d    *DB
	ctx  context.Context
	opt  ImportOptions
	recs []*feed.Record
	kevs []*feed.KEV
	epss []*feed.EPSS

	batches chan batch
	done    chan struct{} // closed when the writer stops
	failed  chan struct{} // closed when a write failed
	// Written by the writer goroutine; read after done is closed.
	res   ImportResult
	read  int
	dirty bool
	werr  error
}

type batch struct {
	recs []*feed.Record
	kevs []*feed.KEV
	epss []*feed.EPSS
}

func (d *DB) newImporter(ctx context.Context, opt ImportOptions) *importer {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 1000
	}
	im := &importer{d: d, ctx: ctx, opt: opt, batches: make(chan batch, 1), done: make(chan struct{}), failed: make(chan struct{})}
	go im.writer()
	return im
}

func (im *importer) writer() {
	defer close(im.done)
	for b := range im.batches {
		if im.werr != nil {
			continue // drain
		}
		if err := im.write(b); err != nil {
			im.werr = err
			close(im.failed)
		}
	}
}

// send hands the pending records to the writer.
func (im *importer) send() error {
	if len(im.recs) == 0 && len(im.kevs) == 0 && len(im.epss) == 0 {
		return nil
	}
	b := batch{recs: im.recs, kevs: im.kevs, epss: im.epss}
	im.recs, im.kevs, im.epss = nil, nil, nil
	select {
	case im.batches <- b:
		return nil
	case <-im.failed:
		return errWriteFailed
	}
}

var errWriteFailed = errors.New("write failed")

// wait stops the writer and returns its error.
func (im *importer) wait() error {
	close(im.batches)
	<-im.done
	return im.werr
}

func (im *importer) handler() feed.Handler {
	return feed.Handler{
		Record: func(r *feed.Record) error {
			im.recs = append(im.recs, r)
			if len(im.recs) >= im.opt.BatchSize {
				return im.send()
			}
			return nil
		},
		KEV: func(k *feed.KEV) error {
			im.kevs = append(im.kevs, k)
			if len(im.kevs) >= im.opt.BatchSize {
				return im.send()
			}
			return nil
		},
		EPSS: func(e *feed.EPSS) error {
			im.epss = append(im.epss, e)
			if len(im.epss) >= epssBatch {
				return im.send()
			}
			return nil
		},
	}
}

func (im *importer) finish(info feed.Info, err error, name string) (ImportResult, error) {
	// Records read before a bad spot in the input are still good: commit
	// them, and say so in the error.
	serr := im.send()
	werr := im.wait()
	switch {
	case errors.Is(err, errWriteFailed) || err == nil && errors.Is(serr, errWriteFailed):
		err = werr
	case err == nil:
		err = werr
	case werr != nil:
		err = fmt.Errorf("%w (and committing earlier records: %v)", err, werr)
	}
	im.res.Format = info.Format
	im.res.Catalog = info.Catalog
	im.res.Total = info.Total
	if im.dirty {
		im.d.invalidate()
		if info.Format == "kev-json" && info.Catalog != "" {
			if merr := im.d.setMeta(im.ctx, metaKEVCat, info.Catalog); merr != nil && err == nil {
				err = merr
			}
		}
		if info.Format == "epss" && err == nil {
			if ferr := im.d.recordEPSSFile(im.ctx, info.Catalog, im.res.EPSS); ferr != nil {
				err = ferr
			}
		}
	}
	if err != nil {
		return im.res, fmt.Errorf("import %s: %w (%d records and %d KEV entries before the error were committed)",
			name, err, im.res.Records, im.res.KEVs)
	}
	return im.res, nil
}

// fixedTime formats t with fixed-width milliseconds so that stored times
// compare correctly as strings.
func fixedTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// write commits one batch (on the writer goroutine).
func (im *importer) write(b batch) error {
	var res ImportResult
	err := im.d.st.Tx(im.ctx, func(tx *sql.Tx) error {
		var err error
		res, err = im.d.writeBatch(im.ctx, tx, b.recs, b.kevs)
		if err == nil && len(b.epss) > 0 {
			res.EPSS, err = im.d.writeEPSS(im.ctx, tx, b.epss)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	im.res.add(res)
	im.dirty = true
	im.read += len(b.recs) + len(b.kevs) + len(b.epss)
	if im.opt.Progress != nil {
		im.opt.Progress(im.read)
	}
	return nil
}

type cpeKey struct{ product, vendor, part string }

// indexValue is how an attribute is keyed in vuln_cpes: the unescaped value,
// or "*" for ANY, NA and patterns.
func indexValue(a cpe.Attr) string {
	if a.Kind != cpe.Value || a.Wild {
		return "*"
	}
	return a.Lit
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
