// Package feed reads vulnerability data as the public sources publish it and
// streams it, record by record, into a handler: NVD CVE API 2.0 JSON (single
// records, API pages and the yearly feed files), CVE JSON 5 records, the CISA
// Known Exploited Vulnerabilities catalogue (JSON and CSV) and OSV JSON.
// Files may be plain, gzip, xz or zip. Nothing is loaded whole: a full NVD
// feed is decoded one record at a time, and a single record larger than
// MaxRecordBytes is refused with an error instead of exhausting memory.
package feed

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// Record is one vulnerability, normalised from whichever source it came from.
type Record struct {
	ID           string    `json:"id"`
	Source       string    `json:"source"` // nvd, cve5, osv
	Published    time.Time `json:"published"`
	LastModified time.Time `json:"last_modified"`
	Status       string    `json:"status,omitempty"`
	Description  string    `json:"description,omitempty"`
	CVSS3        Score     `json:"cvss3,omitzero"` // v3.1, else v3.0
	CVSS4        Score     `json:"cvss4,omitzero"`
	CVSS2        Score     `json:"cvss2,omitzero"`
	CWEs         []string  `json:"cwes,omitempty"`
	Configs      []Config  `json:"configs,omitempty"`
	References   []string  `json:"references,omitempty"`
	KEV          *KEV      `json:"kev,omitempty"` // NVD's own cisaExploitAdd fields
	Aliases      []string  `json:"aliases,omitempty"`
	// Rejected records withdraw an ID; importers delete what they hold for it.
	Rejected bool `json:"rejected,omitempty"`
	// Distro holds the ranges of a distribution advisory (OSV Debian,
	// Ubuntu, Alpine); DistroOnly says the record has nothing else, so it
	// is no upstream vulnerability record (Alpine's ids are CVE ids).
	Distro     []DistroFix `json:"distro,omitempty"`
	DistroOnly bool        `json:"distro_only,omitempty"`
	// Products and Severity are what national archives (CNVD, JVN, EUVD)
	// give instead of CPE configurations: affected products as text and
	// their own severity rating.
	Products []string `json:"products,omitempty"`
	Severity string   `json:"severity,omitempty"`
}

// Score is a CVSS base score with its vector.
type Score struct {
	Version string  `json:"version,omitempty"`
	Score   float64 `json:"score,omitempty"`
	Vector  string  `json:"vector,omitempty"`
}

// Config is one NVD configuration: nodes joined by Operator (OR when empty).
type Config struct {
	Operator string `json:"op,omitempty"`
	Negate   bool   `json:"neg,omitempty"`
	Nodes    []Node `json:"nodes"`
}

// Node is a list of CPE criteria joined by Operator (OR when empty).
type Node struct {
	Operator string  `json:"op,omitempty"`
	Negate   bool    `json:"neg,omitempty"`
	Matches  []Match `json:"m"`
}

// Match is one CPE criterion with an optional version range. Vulnerable false
// marks a platform the vulnerable product must run on, not a vulnerable product.
type Match struct {
	Vulnerable bool   `json:"v"`
	Criteria   string `json:"c"`
	StartIncl  string `json:"si,omitempty"`
	StartExcl  string `json:"se,omitempty"`
	EndIncl    string `json:"ei,omitempty"`
	EndExcl    string `json:"ee,omitempty"`
}

// HasRange reports whether the criterion carries a version range.
func (m Match) HasRange() bool {
	return m.StartIncl != "" || m.StartExcl != "" || m.EndIncl != "" || m.EndExcl != ""
}

// KEV is one entry of CISA's Known Exploited Vulnerabilities catalogue.
type KEV struct {
	CVE        string `json:"cve"`
	Vendor     string `json:"vendor,omitempty"`
	Product    string `json:"product,omitempty"`
	Name       string `json:"name,omitempty"`
	DateAdded  string `json:"date_added,omitempty"`
	DueDate    string `json:"due_date,omitempty"`
	Action     string `json:"action,omitempty"`
	Ransomware string `json:"ransomware,omitempty"`
}

// Handler receives what a feed holds. Either function may be nil when the
// caller does not expect that kind; the reader then fails on it.
type Handler struct {
	Record func(*Record) error
	KEV    func(*KEV) error
	EPSS   func(*EPSS) error
}

// Info says what a read found.
type Info struct {
	Format  string `json:"format"`  // nvd-api, nvd-record, cve5, kev-json, kev-csv, osv, epss
	Records int    `json:"records"` // vulnerability records, or EPSS rows
	KEVs    int    `json:"kevs"`
	Skipped int    `json:"skipped"` // rejected or withdrawn records
	// Catalog is the KEV catalogue version or the NVD page timestamp.
	Catalog string `json:"catalog,omitempty"`
	// Total is totalResults of an NVD API page (for paging).
	Total int `json:"total,omitempty"`
}

// MaxRecordBytes bounds one JSON record (or one top-level value): the
// largest real NVD records are a few MiB.
var MaxRecordBytes int64 = 64 << 20

// Errors wrapped by Read.
var (
	ErrUnknownFormat = errors.New("unknown vulnerability data format")
	ErrSchemaVersion = errors.New("unsupported schema version")
	ErrTooLarge      = errors.New("record too large")
)

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicXZ   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZip  = []byte("PK\x03\x04")
)

// ReadFile reads the file at path, which may be plain, gzip, xz or zip
// (every .json or .csv member of a zip is read in turn).
func ReadFile(ctx context.Context, path string, h Handler) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if n == 4 && bytes.Equal(head[:], magicZip) {
		st, err := f.Stat()
		if err != nil {
			return Info{}, err
		}
		return readZip(ctx, f, st.Size(), h)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Info{}, err
	}
	return Read(ctx, f, h)
}

func readZip(ctx context.Context, f io.ReaderAt, size int64, h Handler) (Info, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return Info{}, fmt.Errorf("zip: %w", err)
	}
	var total Info
	for _, zf := range zr.File {
		ext := strings.ToLower(filepath.Ext(zf.Name))
		if zf.FileInfo().IsDir() || (ext != ".json" && ext != ".csv" && ext != ".gz" && ext != ".xz") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return total, fmt.Errorf("zip member %s: %w", zf.Name, err)
		}
		info, err := Read(ctx, rc, h)
		rc.Close()
		total.Format = info.Format
		total.Records += info.Records
		total.KEVs += info.KEVs
		total.Skipped += info.Skipped
		total.Catalog = info.Catalog
		if err != nil {
			return total, fmt.Errorf("zip member %s: %w", zf.Name, err)
		}
	}
	if total.Format == "" {
		return total, fmt.Errorf("zip: no .json or .csv member: %w", ErrUnknownFormat)
	}
	return total, nil
}

// Read detects the format of r (decompressing gzip and xz) and streams its
// records into h. On error, Info counts what was handed to h before it.
func Read(ctx context.Context, r io.Reader, h Handler) (Info, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Info{}, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		return Read(ctx, zr, h)
	case bytes.HasPrefix(head, magicXZ):
		xr, err := xz.NewReader(br)
		if err != nil {
			return Info{}, fmt.Errorf("xz: %w", err)
		}
		return Read(ctx, xr, h)
	case bytes.HasPrefix(head, magicZip):
		return Info{}, fmt.Errorf("zip archive in a stream: read it from a file: %w", ErrUnknownFormat)
	}
	// Skip a byte-order mark and whitespace to find the first significant byte.
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Info{}, fmt.Errorf("empty input: %w", ErrUnknownFormat)
			}
			return Info{}, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte() // the byte just peeked
			continue
		case 0xef:
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xef, 0xbb, 0xbf}) {
				_, _ = br.Discard(3) // the three bytes just peeked
				continue
			}
		}
		break
	}
	b, _ := br.Peek(1)
	switch b[0] {
	case '{', '[':
		return readJSON(ctx, br, h)
	case '<':
		return readXML(ctx, br, h)
	}
	if head, _ := br.Peek(16); isEPSS(head) {
		return readEPSS(ctx, br, h)
	}
	return readKEVCSV(ctx, br, h)
}

// parseTime parses NVD's and CVE 5's timestamps, with or without a zone.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// validID reports whether id looks like a vulnerability identifier: letters,
// digits, dashes, dots and underscores, at most 64 bytes.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' && c != '_' && c != ':' {
			return false
		}
	}
	return true
}
