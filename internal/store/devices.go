package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Device is one row of the device inventory: a device as stats.Population
// samples it (an address with an open service or an accepted weak
// credential, identified by stats.Identify) or as the flow detectors name one
// (the device of an outbound alert), with what the inventory filters on. The
// inventory covers every stored run; where runs measured the same item, the
// newest run's record counts (as in LoadEvidence).
type Device struct {
	IP         netip.Addr `json:"ip"`
	Vendor     string     `json:"vendor,omitempty"`
	Product    string     `json:"product,omitempty"`
	DeviceType string     `json:"device_type,omitempty"`
	// Protocols are the protocols it exposes (open services and protocols
	// on which a credential was accepted), sorted.
	Protocols []string `json:"protocols"`
	// Scanned reports whether it has an open service (the report's
	// "devices" count); a device known only from a credential result or a
	// flow alert is not scanned.
	Scanned bool `json:"scanned"`
	// WeakOn are the protocols on which a weak credential was accepted.
	WeakOn []string `json:"weak_on"`
	Weak   bool     `json:"weak"`
	// Vulns counts the distinct vulnerabilities matched to its services;
	// KEV reports whether one is known exploited, EPSS is the highest
	// exploitation probability among them.
	Vulns int     `json:"vulns"`
	KEV   bool    `json:"kev"`
	EPSS  float64 `json:"epss"`
	// Tier is the newest assessment's label tier (A–E), empty when the
	// device was not assessed.
	Tier string `json:"tier,omitempty"`
	// AlertDays counts the days on which an outbound flow alert named it
	// (flow.DailyCompromised counts it on those days); LastAlertDay is the
	// newest of them.
	AlertDays    int       `json:"alert_days"`
	LastAlertDay string    `json:"last_alert_day,omitempty"`
	FirstSeen    time.Time `json:"first_seen,omitzero"`
	LastSeen     time.Time `json:"last_seen,omitzero"`
}

// Tri is a yes/no filter that may be unset.
type Tri int8

// Tri values.
const (
	Any Tri = iota
	Yes
	No
)

// ParseTri reads "", "1"/"true"/"yes" and "0"/"false"/"no".
func ParseTri(v string) (Tri, error) {
	switch strings.ToLower(v) {
	case "", "any":
		return Any, nil
	case "1", "true", "yes", "on":
		return Yes, nil
	case "0", "false", "no", "off":
		return No, nil
	}
	return Any, fmt.Errorf("%q: want true or false", v)
}

// DeviceFilter selects devices of the inventory; every field set must hold.
// Text comparisons are case-insensitive and exact, except Text.
type DeviceFilter struct {
	// Prefix selects an address (a /32 or /128) or a subnet.
	Prefix netip.Prefix
	// Text is a substring of the vendor or product.
	Text       string
	Vendor     string
	Product    string
	DeviceType string
	// Protocol is a protocol the device exposes.
	Protocol string
	Weak     Tri
	KEV      Tri
	// Vulnerable selects devices with (or without) a matched vulnerability.
	Vulnerable Tri
	// Scanned selects devices with (or without) an open service.
	Scanned Tri
	// CompromisedOn is a day (YYYY-MM-DD) on which an outbound flow alert
	// named the device, or "any" for any day.
	CompromisedOn string
	// Tier is the assessment's label tier (A–E), or "none" for devices
	// without an assessment.
	Tier string
}

// MaxPageSize is the largest page ListDevices returns.
const MaxPageSize = 500

// CountCap bounds the count of matching devices a first page reports, so
// that a broad filter over millions of devices stays fast.
const CountCap = 1000

// DevicePage is one page of the inventory, ordered by address.
type DevicePage struct {
	Devices []Device `json:"devices"`
	// Next is the cursor of the next page, empty on the last one.
	Next string `json:"next,omitempty"`
	// Total counts the matching devices, up to CountCap (Capped: there are
	// more), on the first page only: a later page (a cursor) leaves it -1.
	Total  int  `json:"total"`
	Capped bool `json:"total_capped,omitempty"`
}

// ErrBadCursor is returned for a page cursor ListDevices did not make.
var ErrBadCursor = errors.New("bad page cursor")

// ErrBadFilter is returned for a filter value that cannot be understood.
var ErrBadFilter = errors.New("bad device filter")

// addrKey is the sortable 16-byte form of a device address.
func addrKey(a netip.Addr) []byte {
	b := a.As16()
	return b[:]
}

// prefixRange returns the first and last keys of p.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	first := p.Addr().As16()
	last := first
	for i := bits; i < 128; i++ {
		last[i/8] |= 1 << (7 - i%8)
	}
	return first[:], last[:]
}

const deviceCols = `d.ip, d.vendor, d.product, d.device_type, d.protocols, d.scanned, d.weak, d.weak_on,
d.vulns, d.kev, d.epss, d.tier, d.alert_days, d.last_alert_day, d.first_seen, d.last_seen, d.addr`

// deviceQuery is the SQL of a filter.
type deviceQuery struct {
	// from is the FROM…WHERE clause of the page, args its arguments.
	from string
	args []any
	// order is the address column pages are ordered and cut by: d.addr, or
	// a joined table's own address (the alert days of a day; the protocol
	// rows when the filter sets KEV or nothing of the device), so that the
	// page reads that table's index in address order and stops after a
	// page instead of sorting all of its matches.
	order string
	// count is the FROM…WHERE clause of the bounded count, countArgs its
	// arguments: over the joined tables alone when every condition is
	// theirs. Every row of device_protocols and device_alert_days belongs
	// to a device of the inventory (reindex writes them with the device's
	// row and deletes them with it), so the join with devices would only
	// cost a lookup per counted device.
	count     string
	countArgs []any
}

// sideTable is a table joined to devices on the address, with conditions
// on its own columns.
type sideTable struct {
	table, alias string
	conds        []string
	args         []any
}

// where returns the query of f.
func (f DeviceFilter) where() (deviceQuery, error) {
	var sides []sideTable
	if f.Protocol != "" {
		p := sideTable{table: "device_protocols", alias: "p", conds: []string{"p.protocol = ?"}, args: []any{strings.ToLower(f.Protocol)}}
		// The device's KEV flag is copied into its protocol rows
		// (devindex.go), with an index on (protocol, kev, addr).
		switch f.KEV {
		case Yes:
			p.conds = append(p.conds, "p.kev = 1")
		case No:
			p.conds = append(p.conds, "p.kev = 0")
		}
		sides = append(sides, p)
	}
	switch day := f.CompromisedOn; day {
	case "", "any":
	default:
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			return deviceQuery{}, fmt.Errorf("%w: compromised %q: want YYYY-MM-DD or any", ErrBadFilter, day)
		}
		sides = append(sides, sideTable{table: "device_alert_days", alias: "a", conds: []string{"a.day = ?"}, args: []any{day}})
	}
	var conds []string
	var args []any
	if f.CompromisedOn == "any" {
		conds = append(conds, "d.alert_days > 0")
	}
	if f.Prefix.IsValid() {
		lo, hi := prefixRange(f.Prefix)
		conds = append(conds, "d.addr >= ? AND d.addr <= ?")
		args = append(args, lo, hi)
	}
	// The text pattern is tested on the distinct names (device_keys), not
	// on every device; textAt is the condition's index in conds and in args
	// (the count splits it, below).
	textAt, textArg, pat := -1, -1, ""
	if f.Text != "" {
		textAt, textArg = len(conds), len(args)
		conds = append(conds, "("+vendorNamed+" OR "+productNamed+")")
		pat = "%" + likeEscaper.Replace(strings.ToLower(f.Text)) + "%"
		args = append(args, pat, pat)
	}
	for _, kv := range []struct{ col, v string }{{"d.vendor_key", f.Vendor}, {"d.product_key", f.Product}, {"d.type_key", f.DeviceType}} {
		if kv.v != "" {
			conds = append(conds, kv.col+" = ?")
			args = append(args, strings.ToLower(kv.v))
		}
	}
	kev := f.KEV
	if f.Protocol != "" {
		kev = Any // a condition of the protocol rows
	}
	for _, t := range []struct {
		cond string
		v    Tri
	}{{"d.weak = 1", f.Weak}, {"d.kev = 1", kev}, {"d.vulns > 0", f.Vulnerable}, {"d.scanned = 1", f.Scanned}} {
		switch t.v {
		case Yes:
			conds = append(conds, t.cond)
		case No:
			conds = append(conds, "NOT ("+t.cond+")")
		}
	}
	switch f.Tier {
	case "":
	case "none":
		conds = append(conds, "d.tier = ''")
	default:
		t := strings.ToUpper(f.Tier)
		if len(t) != 1 || t[0] < 'A' || t[0] > 'E' {
			return deviceQuery{}, fmt.Errorf("%w: tier %q: want A, B, C, D, E or none", ErrBadFilter, f.Tier)
		}
		conds = append(conds, "d.tier = ?")
		args = append(args, t)
	}

	// The page: devices joined with the side tables (their conditions in
	// the joins, whose placeholders come before the WHERE's).
	q := deviceQuery{from: "FROM devices d", order: "d.addr"}
	for _, t := range sides {
		q.from += " JOIN " + t.table + " " + t.alias + " ON " + t.alias + ".addr = d.addr AND " + strings.Join(t.conds, " AND ")
		q.args = append(q.args, t.args...)
		// The alert days of a day are few; KEV devices on a protocol are
		// one range of device_protocols_kev, which SQLite reads in address
		// order with the device's conditions probed per row.
		if t.alias == "a" || len(conds) == 0 || len(t.conds) > 1 {
			q.order = t.alias + ".addr"
		}
	}
	joins, joinArgs := q.from, slices.Clone(q.args)
	q.args = append(q.args, args...)
	if len(conds) > 0 {
		q.from += " WHERE " + strings.Join(conds, " AND ")
	}
	if textAt >= 0 {
		// The count reads the devices of the matching vendors, then those
		// of the matching products that are not of a matching vendor, each
		// through its index and stopping at the bound (an OR of the two
		// made SQLite scan devices_text to test both on every row).
		branch := func(text string, targs ...any) (string, []any) {
			c := slices.Clone(conds)
			c[textAt] = text
			return "SELECT d.addr " + joins + " WHERE " + strings.Join(c, " AND "),
				slices.Concat(joinArgs, args[:textArg], targs, args[textArg+2:])
		}
		vq, va := branch(vendorNamed, pat)
		pq, pa := branch(productNamed+" AND d.vendor_key NOT IN "+vendorNames, pat, pat)
		q.count, q.countArgs = "FROM ("+vq+" UNION ALL "+pq+") u", slices.Concat(va, pa)
		return q, nil
	}
	if len(conds) > 0 || len(sides) == 0 {
		q.count, q.countArgs = q.from, q.args
		return q, nil
	}
	// The count: the side tables alone.
	first := sides[0]
	q.count = "FROM " + first.table + " " + first.alias
	var where []string
	for _, t := range sides {
		if t.alias != first.alias {
			q.count += " JOIN " + t.table + " " + t.alias + " ON " + t.alias + ".addr = " + first.alias + ".addr"
		}
		where = append(where, t.conds...)
		q.countArgs = append(q.countArgs, t.args...)
	}
	q.count += " WHERE " + strings.Join(where, " AND ")
	return q, nil
}

// vendorNames and productNames are the distinct names that match a LIKE
// pattern; vendorNamed and productNamed the devices that have one.
const (
	vendorNames  = "(SELECT name FROM device_keys WHERE kind = 'vendor' AND name LIKE ? ESCAPE '\\')"
	productNames = "(SELECT name FROM device_keys WHERE kind = 'product' AND name LIKE ? ESCAPE '\\')"
	vendorNamed  = "d.vendor_key IN " + vendorNames
	productNamed = "d.product_key IN " + productNames
)

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListDevices returns one page of the devices matching f, ordered by
// address, starting after the cursor (empty: from the first). Pages are
// keyset ranges on the address, so a page costs the same at any depth.
func (s *Store) ListDevices(ctx context.Context, f DeviceFilter, cursor string, limit int) (DevicePage, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = min(max(limit, 50), MaxPageSize)
	}
	dq, err := f.where()
	if err != nil {
		return DevicePage{}, err
	}
	from, args, order := dq.from, dq.args, dq.order
	page := DevicePage{Total: -1}
	// The count is bounded (a broad filter over a large inventory stops
	// counting at CountCap) and made for the first page only.
	if cursor == "" {
		if err := s.db.QueryRowContext(ctx, s.Rebind(`SELECT COUNT(*) FROM (SELECT 1 `+dq.count+` LIMIT `+fmt.Sprint(CountCap+1)+`) c`), dq.countArgs...).Scan(&page.Total); err != nil {
			return DevicePage{}, fmt.Errorf("count devices: %w", err)
		}
		if page.Total > CountCap {
			page.Total, page.Capped = CountCap, true
		}
	}
	q := `SELECT ` + deviceCols + ` ` + from
	if cursor != "" {
		after, err := hex.DecodeString(cursor)
		if err != nil || len(after) != 16 {
			return DevicePage{}, fmt.Errorf("%w %q", ErrBadCursor, cursor)
		}
		if strings.Contains(from, " WHERE ") {
			q += " AND " + order + " > ?"
		} else {
			q += " WHERE " + order + " > ?"
		}
		args = append(args, after)
	}
	q += ` ORDER BY ` + order + ` LIMIT ` + fmt.Sprint(limit+1)
	rows, err := s.db.QueryContext(ctx, s.Rebind(q), args...)
	if err != nil {
		return DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var last []byte
	for rows.Next() {
		d, key, err := scanDevice(rows)
		if err != nil {
			return DevicePage{}, fmt.Errorf("list devices: %w", err)
		}
		if len(page.Devices) == limit {
			page.Next = hex.EncodeToString(last)
			break
		}
		page.Devices, last = append(page.Devices, d), key
	}
	if err := rows.Err(); err != nil {
		return DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	if page.Devices == nil {
		page.Devices = []Device{}
	}
	return page, nil
}

// Device returns the inventory row of one device, or ErrNotFound.
func (s *Store) Device(ctx context.Context, a netip.Addr) (Device, error) {
	row := s.db.QueryRowContext(ctx, s.Rebind(`SELECT `+deviceCols+` FROM devices d WHERE d.addr = ?`), addrKey(deviceAddr(a)))
	d, _, err := scanDevice(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("device %s: %w", a, ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("read device %s: %w", a, err)
	}
	return d, nil
}

func scanDevice(sc interface{ Scan(...any) error }) (Device, []byte, error) {
	var d Device
	var ip, protos, weakOn, first, last string
	var scanned, weak, kev int
	var key []byte
	err := sc.Scan(&ip, &d.Vendor, &d.Product, &d.DeviceType, &protos, &scanned, &weak, &weakOn,
		&d.Vulns, &kev, &d.EPSS, &d.Tier, &d.AlertDays, &d.LastAlertDay, &first, &last, &key)
	if err != nil {
		return d, nil, err
	}
	d.IP, _ = netip.ParseAddr(ip)
	d.Protocols, d.WeakOn = splitList(protos), splitList(weakOn)
	d.Scanned, d.Weak, d.KEV = scanned != 0, weak != 0, kev != 0
	d.FirstSeen, d.LastSeen = ParseTime(first), ParseTime(last)
	return d, key, nil
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
