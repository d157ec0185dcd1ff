// Package geo attributes addresses to a country (embedded phuslu/iploc
// database) and, when the user supplies a MaxMind-format ASN database, to a
// network owner (ASN and organisation). Every attribution names the database
// and version it came from.
package geo

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/phuslu/iploc"
)

// CountryDB names the embedded country database and its version.
const CountryDB = "phuslu/iploc " + iploc.Version

// Attribution is where an address belongs.
type Attribution struct {
	Country   string `json:"country,omitempty"` // ISO 3166-1 alpha-2; empty when unknown or private
	CountryDB string `json:"country_db"`
	ASN       uint32 `json:"asn,omitempty"`
	Owner     string `json:"owner,omitempty"`
	OwnerDB   string `json:"owner_db,omitempty"` // empty when no owner database was given
}

// Attributor looks addresses up. The zero value is not usable; use New.
// It is safe for concurrent use.
type Attributor struct {
	mmdb    *maxminddb.Reader
	ownerDB string

	mu sync.Mutex // guards the cache
	// cache maps looked-up addresses to an index into attrs, the distinct
	// attributions: a few bytes per address instead of a copy of the strings.
	cache map[netip.Addr]uint32
	uniq  map[Attribution]uint32
	attrs []Attribution
}

// New returns an attributor; ownerDBPath may be empty (country only).
func New(ownerDBPath string) (*Attributor, error) {
	a := &Attributor{cache: map[netip.Addr]uint32{}, uniq: map[Attribution]uint32{}}
	if ownerDBPath == "" {
		return a, nil
	}
	db, err := maxminddb.Open(ownerDBPath)
	if err != nil {
		return nil, fmt.Errorf("open owner database %s: %w", ownerDBPath, err)
	}
	a.mmdb = db
	a.ownerDB = describe(db.Metadata)
	return a, nil
}

// NewFromBytes is New for a database already in memory.
func NewFromBytes(ownerDB []byte) (*Attributor, error) {
	db, err := maxminddb.OpenBytes(ownerDB)
	if err != nil {
		return nil, fmt.Errorf("open owner database: %w", err)
	}
	return &Attributor{cache: map[netip.Addr]uint32{}, uniq: map[Attribution]uint32{}, mmdb: db, ownerDB: describe(db.Metadata)}, nil
}

func describe(m maxminddb.Metadata) string {
	v := m.DatabaseType
	if v == "" {
		v = "mmdb"
	}
	if m.BuildEpoch > 0 {
		v += " " + time.Unix(int64(m.BuildEpoch), 0).UTC().Format("2006-01-02") + " (build " + strconv.FormatUint(uint64(m.BuildEpoch), 10) + ")"
	}
	return v
}

// OwnerDB describes the owner database in use, or "" when there is none.
func (a *Attributor) OwnerDB() string { return a.ownerDB }

// Close releases the owner database.
func (a *Attributor) Close() error {
	if a.mmdb != nil {
		return a.mmdb.Close()
	}
	return nil
}

type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// Attribute returns where addr belongs.
func (a *Attributor) Attribute(addr netip.Addr) Attribution {
	addr = addr.Unmap()
	a.mu.Lock()
	i, ok := a.cache[addr]
	if ok {
		at := a.attrs[i]
		a.mu.Unlock()
		return at
	}
	a.mu.Unlock()
	at := a.Lookup(addr)
	a.mu.Lock()
	i, ok = a.uniq[at]
	if !ok {
		i = uint32(len(a.attrs))
		a.attrs = append(a.attrs, at)
		a.uniq[at] = i
	}
	a.cache[addr] = i
	a.mu.Unlock()
	return at
}

// Lookup is Attribute without the cache, for callers that keep their own
// per-address index (a flow ingest's million peers would be held twice).
func (a *Attributor) Lookup(addr netip.Addr) Attribution {
	addr = addr.Unmap()
	if addr.Is4() {
		if t := table(); t != nil {
			b := addr.As4()
			n := t.find(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
			at := t.attrs[n]
			if a.mmdb != nil && n != 0 { // a public address
				a.owner(addr, &at)
			}
			return at
		}
	}
	return a.lookup(addr)
}

// lookup is Lookup without the IPv4 table (iploc's own search).
func (a *Attributor) lookup(addr netip.Addr) Attribution {
	at := Attribution{CountryDB: CountryDB}
	if addr.IsValid() && addr.IsGlobalUnicast() && !addr.IsPrivate() {
		at.Country = iploc.IPCountry(addr)
		if a.mmdb != nil {
			a.owner(addr, &at)
		}
	}
	return at
}

// owner adds the owner database's attribution of a public address.
func (a *Attributor) owner(addr netip.Addr, at *Attribution) {
	var rec asnRecord
	if err := a.mmdb.Lookup(addr).Decode(&rec); err == nil {
		at.ASN, at.Owner = rec.ASN, rec.Org
	}
	at.OwnerDB = a.ownerDB
}

// Index4 returns the number of the attribution of the IPv4 address p
// (Attribution4 returns it), and false when Lookup should be asked instead:
// the attributor has an owner database, or has not built its table yet.
// Numbers are the same in every attributor, and two addresses have the same
// number exactly when they have the same attribution.
func (a *Attributor) Index4(p uint32) (uint32, bool) {
	if a.mmdb != nil {
		return 0, false
	}
	t := tab4.t.Load()
	if t == nil {
		return 0, false
	}
	return t.find(p), true
}

// Ahead4 returns the memory Index4(p) reads first: the table's entry of
// p's /16, or with ranges, the /16's ranges, which it reads that entry to
// find (nil when the /16 has one attribution, or Index4 would not answer).
// A caller that looks many addresses up has the processor fetch those
// lines a few addresses ahead (the entries, then the ranges), so that the
// lookups' cache misses overlap.
func (a *Attributor) Ahead4(p uint32, ranges bool) unsafe.Pointer {
	t := tab4.t.Load()
	if t == nil || a.mmdb != nil {
		return nil
	}
	if !ranges {
		return unsafe.Pointer(&t.l1[p>>16])
	}
	if e := t.l1[p>>16]; e&uniform == 0 {
		return unsafe.Pointer(&t.ents[e])
	}
	return nil
}

// Attribution4 returns the attribution numbered i by Index4.
func (a *Attributor) Attribution4(i uint32) Attribution { return tab4.t.Load().attrs[i] }
