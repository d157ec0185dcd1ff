package audit

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"iotwatch/internal/model"
)

// Embedded dictionaries (see data/): the Mirai scanner list, the DefaultCreds
// cheat sheet (MIT, data/LICENSE-defaultcreds.txt) and SNMP communities.
var (
	//go:embed data/mirai.txt
	miraiTxt string
	//go:embed data/defaultcreds.csv
	defaultCredsCSV string
	//go:embed data/snmp-communities.txt
	communitiesTxt string
)

// Dictionary sources, recorded in CredentialResult.Source.
const (
	SourceMirai        = "mirai"
	SourceDefaultCreds = "defaultcreds"
	SourceCommunities  = "snmp-communities"
	SourceAnonymous    = "anonymous"
)

// Entry is one credential to try and the list it came from.
type Entry struct {
	Username string
	Password string
	Source   string
	// Default marks entries from vendor-default lists (reported as
	// default-credential rather than weak-password).
	Default bool
	// Note says where a proven entry came from (the firmware image and
	// file of the account); it heads the evidence of a result it gives.
	Note string
}

// Dictionary holds the credentials of an audit: vendor defaults keyed by
// vendor, tried first for services whose fingerprint names that vendor; a
// generic list tried for every service; and SNMP communities.
type Dictionary struct {
	Vendors     map[string][]Entry // normalised vendor key → defaults
	Generic     []Entry
	Communities []Entry
	// Firmware are accounts proven by analysed firmware images, tried first
	// on devices of the image's product (WithFirmware, ForDevice).
	Firmware []model.FirmwareAccount

	mu    sync.Mutex
	cache map[string][]Entry // vendor+product → matching vendor entries
}

var builtin = sync.OnceValues(func() (*Dictionary, error) {
	mirai, err := ParseUserPass(strings.NewReader(miraiTxt), SourceMirai)
	if err != nil {
		return nil, err
	}
	for i := range mirai {
		mirai[i].Default = true
	}
	d, err := ParseDefaultCreds(strings.NewReader(defaultCredsCSV), SourceDefaultCreds)
	if err != nil {
		return nil, err
	}
	d.Generic = mirai
	d.Communities, err = ParseCommunities(strings.NewReader(communitiesTxt), SourceCommunities)
	return d, err
})

// Builtin returns the embedded dictionary: Mirai as the generic list,
// DefaultCreds by vendor, and the SNMP community list.
func Builtin() *Dictionary {
	d, err := builtin()
	if err != nil {
		panic(fmt.Sprintf("audit: embedded dictionary: %v", err)) // tested
	}
	return d
}

// ErrDictionary marks malformed dictionary input.
var ErrDictionary = errors.New("bad dictionary")

// ParseUserPass reads `user:pass` lines. Blank lines and lines starting with
// '#' are skipped; the password is everything after the first colon;
// "<blank>" and "(none)" mean empty.
func ParseUserPass(r io.Reader, source string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: %s line %d: want user:pass", ErrDictionary, source, n)
		}
		e := Entry{Username: blank(user), Password: blank(pass), Source: source}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrDictionary, source, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	return out, nil
}

// ParseCommunities reads one SNMP community per line ('#' comments).
func ParseCommunities(r io.Reader, source string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e := Entry{Password: line, Source: source, Default: true}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrDictionary, source, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// ParseDefaultCreds reads the DefaultCreds cheat-sheet CSV
// (productvendor,username,password; "<blank>" for empty) into vendor lists.
func ParseDefaultCreds(r io.Reader, source string) (*Dictionary, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	d := &Dictionary{Vendors: map[string][]Entry{}}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrDictionary, source, err)
		}
		if n == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "productvendor") {
			continue
		}
		vendor := strings.TrimSpace(rec[0])
		e := Entry{Username: blank(rec[1]), Password: blank(rec[2]), Source: source + ":" + vendor, Default: true}
		if vendor == "" || e.check() != nil {
			continue // a malformed row is skipped, not fatal: the sheet is community-edited
		}
		key := vendorKey(vendor)
		if key == "" {
			continue
		}
		d.Vendors[key] = append(d.Vendors[key], e)
	}
	return d, nil
}

func blank(s string) string {
	switch strings.TrimSpace(s) {
	case "<blank>", "(none)", "<none>", "<empty>":
		return ""
	}
	return s
}

// check rejects credentials that would break line-based protocols.
func (e Entry) check() error {
	if strings.ContainsAny(e.Username+e.Password, "\r\n\x00") {
		return errors.New("control characters in credential")
	}
	if len(e.Username) > 256 || len(e.Password) > 256 {
		return errors.New("credential longer than 256 bytes")
	}
	return nil
}

// vendorKey normalises a vendor name to its first word, lower case, letters
// and digits only ("D-Link DIR300 (CVE-…)" → "dlink").
func vendorKey(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " (/,"); i > 0 {
		s = s[:i]
	}
	return alnum(s)
}

func alnum(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// vendorEntries returns the defaults for a fingerprint's vendor; rows whose
// product text matches the fingerprint's product come first.
func (d *Dictionary) vendorEntries(fp *model.Fingerprint) []Entry {
	if fp == nil || fp.Vendor == "" || len(d.Vendors) == 0 {
		return nil
	}
	ck := fp.Vendor + "\x00" + fp.Product
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.cache[ck]; ok {
		return v
	}
	key := vendorKey(fp.Vendor)
	full := alnum(fp.Vendor)
	list := d.Vendors[key]
	if list == nil && full != key {
		list = d.Vendors[full]
	}
	if list == nil && len(key) >= 4 {
		// "Hangzhou Hikvision" style names: try every word.
		for _, w := range strings.Fields(fp.Vendor) {
			if l := d.Vendors[alnum(w)]; l != nil && len(alnum(w)) >= 4 {
				list = l
				break
			}
		}
	}
	var first, rest []Entry
	prod := alnum(fp.Product)
	for _, e := range list {
		_, text, _ := strings.Cut(e.Source, ":")
		if prod != "" && strings.Contains(alnum(text), prod) {
			first = append(first, e)
		} else {
			rest = append(rest, e)
		}
	}
	out := append(first, rest...)
	if d.cache == nil {
		d.cache = map[string][]Entry{}
	}
	d.cache[ck] = out
	return out
}

// For returns the ordered, de-duplicated credentials to try on a service of
// protocol proto with fingerprint fp: protocol specials (anonymous FTP and
// MQTT), then the vendor's defaults, then the generic list. SNMP gets the
// community list only.
func (d *Dictionary) For(proto string, fp *model.Fingerprint) []Entry {
	if proto == model.ProtoSNMP {
		return dedup(d.Communities)
	}
	var out []Entry
	switch proto {
	case model.ProtoFTP:
		out = append(out, Entry{Username: "anonymous", Password: "iotwatch@example.invalid", Source: SourceAnonymous, Default: true})
	case model.ProtoMQTT, model.ProtoMQTTS:
		out = append(out, Entry{Source: SourceAnonymous, Default: true}) // CONNECT without credentials
	case model.ProtoONVIF:
		out = append(out, Entry{Source: SourceAnonymous, Default: true}) // no WS-Security header at all
	}
	out = append(out, d.vendorEntries(fp)...)
	out = append(out, d.Generic...)
	if needsUser[proto] {
		out = slices.DeleteFunc(out, func(e Entry) bool { return e.Username == "" })
	}
	out = dedup(out)
	if proto == model.ProtoSSH {
		out = groupByUser(out)
	}
	return out
}

// groupByUser keeps users in order of first appearance and each user's
// passwords in order, so that an SSH session can try a user's passwords on
// one connection.
func groupByUser(in []Entry) []Entry {
	var users []string
	by := map[string][]Entry{}
	for _, e := range in {
		if _, ok := by[e.Username]; !ok {
			users = append(users, e.Username)
		}
		by[e.Username] = append(by[e.Username], e)
	}
	out := make([]Entry, 0, len(in))
	for _, u := range users {
		out = append(out, by[u]...)
	}
	return out
}

// needsUser lists protocols where an empty user name cannot log in.
var needsUser = map[string]bool{model.ProtoSSH: true, model.ProtoFTP: true}

func dedup(in []Entry) []Entry {
	seen := make(map[[2]string]bool, len(in))
	out := make([]Entry, 0, len(in))
	for _, e := range in {
		k := [2]string{e.Username, e.Password}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}
