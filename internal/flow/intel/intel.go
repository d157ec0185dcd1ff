// Package intel loads known-bad indicators (addresses, networks and domains)
// from plain lists, CSV files and STIX 2.1 bundles of indicator objects, and
// matches addresses and DNS names against them.
package intel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
)

// Format of an indicator file.
type Format string

// Formats; FormatAuto sniffs the content.
const (
	FormatAuto  Format = ""
	FormatPlain Format = "plain"
	FormatCSV   Format = "csv"
	FormatSTIX  Format = "stix"
)

// ErrFormat reports content that is not an indicator list.
var ErrFormat = errors.New("not an indicator list")

// Indicator is one known-bad address, network or domain and where it came from.
type Indicator struct {
	Value  string `json:"value"`
	Source string `json:"source,omitempty"` // file name, STIX indicator id, CSV row
	Label  string `json:"label,omitempty"`  // STIX name or CSV description
}

// Set is a collection of indicators. The zero value is empty and usable.
type Set struct {
	addrs    map[netip.Addr]Indicator
	prefixes []pref
	domains  map[string]Indicator
}

type pref struct {
	p   netip.Prefix
	ind Indicator
}

// Len returns the number of indicators.
func (s *Set) Len() int { return len(s.addrs) + len(s.prefixes) + len(s.domains) }

// Add adds one indicator value: an address, CIDR or domain. It reports
// whether the value was understood.
func (s *Set) Add(ind Indicator) bool {
	v := strings.TrimSpace(strings.ToLower(ind.Value))
	v = strings.Trim(v, "[]\"'")
	v = strings.ReplaceAll(v, "[.]", ".") // defanged
	if v == "" {
		return false
	}
	ind.Value = v
	if a, err := netip.ParseAddr(v); err == nil {
		if s.addrs == nil {
			s.addrs = map[netip.Addr]Indicator{}
		}
		s.addrs[a.Unmap()] = ind
		return true
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		s.prefixes = append(s.prefixes, pref{p.Masked(), ind})
		return true
	}
	if host, ok := hostOf(v); ok {
		if s.domains == nil {
			s.domains = map[string]Indicator{}
		}
		ind.Value = host
		s.domains[host] = ind
		return true
	}
	return false
}

var domainRE = regexp.MustCompile(`^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}$`)

func hostOf(v string) (string, bool) {
	if i := strings.Index(v, "://"); i >= 0 { // URL indicator: keep its host
		v = v[i+3:]
		if j := strings.IndexAny(v, "/?#"); j >= 0 {
			v = v[:j]
		}
		if h, _, ok := strings.Cut(v, ":"); ok {
			v = h
		}
	}
	v = strings.TrimSuffix(v, ".")
	if !domainRE.MatchString(v) {
		return "", false
	}
	return strings.TrimPrefix(v, "*."), true
}

// MatchAddr returns the indicator that covers a.
func (s *Set) MatchAddr(a netip.Addr) (Indicator, bool) {
	if s == nil {
		return Indicator{}, false
	}
	if ind, ok := s.addrs[a]; ok {
		return ind, true
	}
	for _, p := range s.prefixes {
		if p.p.Contains(a) {
			return p.ind, true
		}
	}
	return Indicator{}, false
}

// MatchName returns the indicator for name or one of its parent domains.
func (s *Set) MatchName(name string) (Indicator, bool) {
	if s == nil || len(s.domains) == 0 {
		return Indicator{}, false
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for name != "" {
		if ind, ok := s.domains[name]; ok {
			return ind, true
		}
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			break
		}
		name = rest
	}
	return Indicator{}, false
}

// Load reads an indicator file, sniffing its format.
func (s *Set) Load(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open indicators: %w", err)
	}
	defer f.Close()
	n, err := s.Read(f, FormatAuto, path)
	if err != nil {
		return n, fmt.Errorf("indicators %s: %w", path, err)
	}
	return n, nil
}

// Read adds the indicators in r and returns how many were added.
func (s *Set) Read(r io.Reader, f Format, source string) (int, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return 0, err
	}
	if f == FormatAuto {
		f = sniff(data)
	}
	switch f {
	case FormatSTIX:
		return s.readSTIX(data)
	case FormatCSV:
		return s.readCSV(data, source)
	case FormatPlain:
		return s.readPlain(data, source)
	}
	return 0, fmt.Errorf("format %q: %w", f, ErrFormat)
}

func sniff(data []byte) Format {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return FormatSTIX
	}
	sc := bufio.NewScanner(bytes.NewReader(t))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.Contains(l, ",") {
			return FormatCSV
		}
		return FormatPlain
	}
	return FormatPlain
}

// notIndicator says why a value of an indicator file was refused: a list
// with garbage in it is an error that names the line, never a silent skip.
func notIndicator(line int, v string) error {
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return fmt.Errorf("line %d: %q is not an address, network, domain or URL: %w", line, v, ErrFormat)
}

func (s *Set) readPlain(data []byte, source string) (int, error) {
	n, line := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line++
		l := sc.Text()
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if !s.Add(Indicator{Value: f[0], Source: source, Label: strings.Join(f[1:], " ")}) {
			return n, notIndicator(line, f[0])
		}
		n++
	}
	return n, sc.Err()
}

var valueCols = []string{"indicator", "value", "ioc", "ip", "ip_address", "address", "domain", "host", "hostname", "url", "dst_ip"}

func (s *Set) readCSV(data []byte, source string) (int, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.LazyQuotes = true
	var rows [][]string
	var lines []int // line of each row
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("csv: %w", err)
		}
		l, _ := cr.FieldPos(0)
		rows, lines = append(rows, row), append(lines, l)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	vc, lc, start := 0, -1, 0
	head := map[string]int{}
	for i, h := range rows[0] {
		head[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, name := range valueCols {
		if i, ok := head[name]; ok {
			vc, start = i, 1
			break
		}
	}
	for _, name := range []string{"description", "label", "name", "malware", "threat", "comment"} {
		if i, ok := head[name]; ok {
			lc = i
			break
		}
	}
	n := 0
	for i, row := range rows[start:] {
		if vc >= len(row) {
			continue
		}
		if strings.TrimSpace(row[vc]) == "" {
			continue
		}
		line := lines[i+start]
		ind := Indicator{Value: row[vc], Source: fmt.Sprintf("%s:%d", source, line)}
		if lc >= 0 && lc < len(row) {
			ind.Label = row[lc]
		}
		if !s.Add(ind) {
			return n, notIndicator(line, row[vc])
		}
		n++
	}
	return n, nil
}

// stixObject is the part of a STIX 2.1 object we read.
type stixObject struct {
	Type        string       `json:"type"`
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Pattern     string       `json:"pattern"`
	PatternType string       `json:"pattern_type"`
	Value       string       `json:"value"` // SCOs: ipv4-addr, domain-name, url
	Objects     []stixObject `json:"objects"`
}

// patternRE finds comparisons on address, domain and URL values in STIX patterns.
var patternRE = regexp.MustCompile(`(ipv4-addr|ipv6-addr|domain-name|url|network-traffic:dst_ref)(?::value)?\s*(=|IN)\s*(\([^)]*\)|'(?:[^'\\]|\\.)*')`)

var quotedRE = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

func (s *Set) readSTIX(data []byte) (int, error) {
	var objs []stixObject
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &objs); err != nil {
			return 0, fmt.Errorf("stix: %w", err)
		}
	} else {
		var o stixObject
		if err := json.Unmarshal(t, &o); err != nil {
			return 0, fmt.Errorf("stix: %w", err)
		}
		if o.Type == "bundle" {
			objs = o.Objects
		} else {
			objs = []stixObject{o}
		}
	}
	n := 0
	for _, o := range objs {
		switch o.Type {
		case "indicator":
			if o.PatternType != "" && o.PatternType != "stix" {
				continue
			}
			for _, m := range patternRE.FindAllStringSubmatch(o.Pattern, -1) {
				for _, q := range quotedRE.FindAllStringSubmatch(m[3], -1) {
					if s.Add(Indicator{Value: strings.ReplaceAll(q[1], `\'`, `'`), Source: o.ID, Label: o.Name}) {
						n++
					}
				}
			}
		case "ipv4-addr", "ipv6-addr", "domain-name", "url":
			if s.Add(Indicator{Value: o.Value, Source: o.ID}) {
				n++
			}
		}
	}
	if n == 0 && len(objs) > 0 && !hasIndicator(objs) {
		return 0, fmt.Errorf("stix: no indicator objects: %w", ErrFormat)
	}
	return n, nil
}

func hasIndicator(objs []stixObject) bool {
	for _, o := range objs {
		if o.Type == "indicator" {
			return true
		}
	}
	return false
}
