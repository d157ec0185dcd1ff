// Package affiliation screens the companies behind a product — manufacturer,
// parent company, component suppliers and data recipients — against entity
// lists the user supplies (the FCC Covered List, the US Commerce Entity List,
// the DoD 1260H list, or a CERT's own), with alias and fuzzy name matching.
// A hit names the list it came from and the list's date.
package affiliation

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MaxListSize is the largest list file accepted, in bytes.
const MaxListSize = 64 << 20

// Entry is one listed entity.
type Entry struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Country string   `json:"country,omitempty"`
	Source  string   `json:"source,omitempty"` // list name, e.g. "FCC Covered List"; defaults to the list's
	Date    string   `json:"date,omitempty"`   // date the entity was listed or the list was published
	Note    string   `json:"note,omitempty"`   // program, reason or citation
}

// List is a named, dated entity list.
type List struct {
	Name    string  `json:"name"`
	Date    string  `json:"date,omitempty"`
	Entries []Entry `json:"entities"`
}

// ErrFormat is wrapped by every error about the content of a list file.
var ErrFormat = errors.New("bad entity list")

// Load reads an entity list from a .csv or .json file. The list name
// defaults to the file name without extension.
func Load(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read entity list: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxListSize+1))
	if err != nil {
		return nil, fmt.Errorf("read entity list %s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var l *List
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		l, err = ParseJSON(b, name)
	case ".csv", ".tsv", ".txt":
		l, err = ParseCSV(b, name)
	default:
		if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			l, err = ParseJSON(b, name)
		} else {
			l, err = ParseCSV(b, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// ParseJSON reads a list in JSON: {"name","date","entities":[...]}, a bare
// array of entries, or the US Consolidated Screening List API shape
// {"results":[{"name","alt_names","source","start_date","programs"}]}.
func ParseJSON(b []byte, name string) (*List, error) {
	if len(b) > MaxListSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxListSize)
	}
	t := bytes.TrimSpace(b)
	l := &List{Name: name}
	switch {
	case len(t) > 0 && t[0] == '[':
		if err := json.Unmarshal(t, &l.Entries); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
	default:
		var doc struct {
			List
			Results []struct {
				Name      string   `json:"name"`
				AltNames  []string `json:"alt_names"`
				Source    string   `json:"source"`
				StartDate string   `json:"start_date"`
				Programs  []string `json:"programs"`
			} `json:"results"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		*l = doc.List
		if l.Name == "" {
			l.Name = name
		}
		for _, r := range doc.Results {
			l.Entries = append(l.Entries, Entry{Name: r.Name, Aliases: r.AltNames, Source: r.Source, Date: r.StartDate, Note: strings.Join(r.Programs, ", ")})
		}
	}
	return l, l.finish()
}

// CSV columns recognised in the header row (case-insensitive); only a name
// column is required. Aliases are separated by ";" or "|". Besides simple
// name,aliases,country,source,date,note files this reads the US
// Consolidated Screening List CSV (name, alt_names, source, start_date,
// programs, federal_register_notice) and OpenSanctions "simple" CSV (name,
// aliases, countries, dataset, first_seen).
var csvColumns = map[string]string{
	"name": "name", "entity": "name", "entity name": "name", "company": "name",
	"aliases": "aliases", "alias": "aliases", "aka": "aliases", "alternate names": "aliases", "alt_names": "aliases",
	"country": "country", "countries": "country",
	"source": "source", "list": "source", "dataset": "source",
	"date": "date", "date listed": "date", "listed": "date", "effective date": "date", "start_date": "date", "first_seen": "date",
	"note": "note", "notes": "note", "program": "note", "programs": "note", "federal register citation": "note",
	"federal_register_notice": "note",
}

// ParseCSV reads a list in CSV (or TSV) with a header row.
func ParseCSV(b []byte, name string) (*List, error) {
	if len(b) > MaxListSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxListSize)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8 text", ErrFormat)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if bytes.Count(first, []byte("\t")) > bytes.Count(first, []byte(",")) {
		r.Comma = '\t'
	}
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		if c, ok := csvColumns[strings.ToLower(strings.TrimSpace(h))]; ok {
			if _, dup := cols[c]; !dup {
				cols[c] = i
			}
		}
	}
	if _, ok := cols["name"]; !ok {
		return nil, fmt.Errorf("%w: header %q has no name column", ErrFormat, strings.Join(header, ","))
	}
	l := &List{Name: name}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		get := func(c string) string {
			if i, ok := cols[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		e := Entry{Name: get("name"), Country: get("country"), Source: get("source"), Date: get("date"), Note: get("note")}
		if e.Name == "" {
			continue
		}
		for _, a := range strings.FieldsFunc(get("aliases"), func(r rune) bool { return r == ';' || r == '|' }) {
			if a = strings.TrimSpace(a); a != "" {
				e.Aliases = append(e.Aliases, a)
			}
		}
		l.Entries = append(l.Entries, e)
	}
	return l, l.finish()
}

// finish fills per-entry defaults and rejects empty lists.
func (l *List) finish() error {
	if len(l.Entries) == 0 {
		return fmt.Errorf("%w: no entities", ErrFormat)
	}
	kept := l.Entries[:0]
	for _, e := range l.Entries {
		if strings.TrimSpace(e.Name) == "" {
			continue
		}
		if e.Source == "" {
			e.Source = l.Name
		}
		if e.Date == "" {
			e.Date = l.Date
		}
		kept = append(kept, e)
	}
	l.Entries = kept
	if len(kept) == 0 {
		return fmt.Errorf("%w: no named entities", ErrFormat)
	}
	return nil
}
