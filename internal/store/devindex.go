package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
)

// The inventory (table devices) is derived from the evidence tables: when a
// run ends, FinishRun re-indexes every device the run stored something
// about, together with the devices of any other ended run not indexed yet
// (a run killed before it could, a database older than the inventory).
// Re-indexing a device reads all of its evidence, so the row is the same
// whichever order runs end in.

// analyzeAfter is how many re-indexed devices make SQLite's planner
// statistics worth refreshing.
const analyzeAfter = 5000

// indexBatch is how many devices are re-indexed per transaction.
const indexBatch = 400

// IndexDevices brings the inventory up to date with every run that has
// ended and is not indexed yet. When indexed runs were deleted (retention),
// the inventory is rebuilt from what is left.
func (s *Store) IndexDevices(ctx context.Context) error {
	var gone int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM device_index_runs WHERE run_id NOT IN (SELECT id FROM runs)`).Scan(&gone); err != nil {
		return fmt.Errorf("index devices: %w", err)
	}
	if gone > 0 {
		if err := s.Tx(ctx, func(tx *sql.Tx) error {
			if err := s.lockDeviceIndex(ctx, tx); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM device_index_runs`, `DELETE FROM device_protocols`, `DELETE FROM device_alert_days`, `DELETE FROM devices`} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("index devices: rebuild: %w", err)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT id FROM runs WHERE status <> ? AND id NOT IN (SELECT run_id FROM device_index_runs) ORDER BY id`), model.RunRunning)
	if err != nil {
		return fmt.Errorf("index devices: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("index devices: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index devices: %w", err)
	}
	for len(ids) > 0 { // a few runs at a time keeps the IN lists short
		n := min(len(ids), 50)
		if err := s.indexRuns(ctx, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// indexRuns re-indexes every device the runs stored evidence of and records
// the runs as indexed.
func (s *Store) indexRuns(ctx context.Context, ids []int64) error {
	in, args := inList(ids)
	q := `SELECT ip FROM services WHERE run_id IN ` + in +
		` UNION SELECT ip FROM credentials WHERE run_id IN ` + in +
		` UNION SELECT subject FROM vuln_matches WHERE run_id IN ` + in +
		` UNION SELECT subject FROM findings WHERE run_id IN ` + in +
		` UNION SELECT device FROM flow_alerts WHERE run_id IN ` + in
	var all []any
	for range 5 {
		all = append(all, args...)
	}
	rows, err := s.db.QueryContext(ctx, s.Rebind(q), all...)
	if err != nil {
		return fmt.Errorf("index devices of runs %v: %w", ids, err)
	}
	seen := map[netip.Addr]bool{}
	var addrs []netip.Addr
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("index devices of runs %v: %w", ids, err)
		}
		a, err := netip.ParseAddr(v)
		if err != nil { // a firmware image or a product, not a device
			continue
		}
		if a = deviceAddr(a); !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index devices of runs %v: %w", ids, err)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	if len(addrs) >= analyzeAfter && s.dialect == SQLite {
		// Many new rows: refresh the planner's statistics so that it picks
		// the most selective filter index (PostgreSQL's autovacuum does).
		defer func() {
			_, _ = s.db.ExecContext(ctx, `ANALYZE devices`) // best effort: statistics only
			_, _ = s.db.ExecContext(ctx, `ANALYZE device_protocols`)
		}()
	}
	for len(addrs) > 0 {
		n := min(len(addrs), indexBatch)
		if err := s.reindex(ctx, addrs[:n]); err != nil {
			return err
		}
		addrs = addrs[n:]
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		now := Time(time.Now())
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO device_index_runs (run_id, indexed_at) VALUES (?, ?)
				ON CONFLICT (run_id) DO UPDATE SET indexed_at = excluded.indexed_at`), id, now); err != nil {
				return fmt.Errorf("record indexed run %d: %w", id, err)
			}
		}
		return nil
	})
}

// reindex recomputes the inventory rows of addrs from their evidence.
func (s *Store) reindex(ctx context.Context, addrs []netip.Addr) error {
	evs, err := s.evidenceOfDevices(ctx, addrs)
	if err != nil {
		return fmt.Errorf("index devices: %w", err)
	}
	return s.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockDeviceIndex(ctx, tx); err != nil {
			return err
		}
		keys := make([]any, len(addrs))
		for i, a := range addrs {
			keys[i] = addrKey(a)
		}
		in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ") + ")"
		for _, t := range []string{"devices", "device_protocols", "device_alert_days"} {
			if _, err := tx.ExecContext(ctx, s.Rebind(`DELETE FROM `+t+` WHERE addr IN `+in), keys...); err != nil {
				return fmt.Errorf("index devices: %w", err)
			}
		}
		devStmt, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO devices (ip, addr, vendor, product, device_type,
			vendor_key, product_key, type_key, protocols, scanned, weak, weak_on, vulns, kev, epss, tier,
			alert_days, last_alert_day, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("index devices: %w", err)
		}
		defer devStmt.Close()
		protoStmt, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO device_protocols (protocol, addr, weak, kev) VALUES (?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("index devices: %w", err)
		}
		defer protoStmt.Close()
		dayStmt, err := tx.PrepareContext(ctx, s.Rebind(`INSERT INTO device_alert_days (day, addr) VALUES (?, ?)`))
		if err != nil {
			return fmt.Errorf("index devices: %w", err)
		}
		defer dayStmt.Close()
		// The distinct vendor and product names, for the text search.
		names := map[[2]string]bool{}
		for _, a := range addrs {
			d, ok := evs[a].summarize(a)
			if !ok {
				continue
			}
			if _, err := devStmt.ExecContext(ctx, a.String(), addrKey(a), d.Vendor, d.Product, d.DeviceType,
				strings.ToLower(d.Vendor), strings.ToLower(d.Product), strings.ToLower(d.DeviceType),
				strings.Join(d.Protocols, ","), b2i(d.Scanned), b2i(d.Weak), strings.Join(d.WeakOn, ","),
				d.Vulns, b2i(d.KEV), d.EPSS, d.Tier, d.AlertDays, d.LastAlertDay, Time(d.FirstSeen), Time(d.LastSeen)); err != nil {
				return fmt.Errorf("index device %s: %w", a, err)
			}
			for _, n := range [][2]string{{"vendor", strings.ToLower(d.Vendor)}, {"product", strings.ToLower(d.Product)}} {
				if n[1] != "" {
					names[n] = true
				}
			}
			for _, day := range evs[a].alertDays {
				if _, err := dayStmt.ExecContext(ctx, day, addrKey(a)); err != nil {
					return fmt.Errorf("index device %s: %w", a, err)
				}
			}
			// The device's KEV flag is copied into its protocol rows (the
			// "KEV and a protocol" filter reads them alone, devices.go).
			for _, p := range d.Protocols {
				if _, err := protoStmt.ExecContext(ctx, strings.ToLower(p), addrKey(a), b2i(slices.Contains(d.WeakOn, p)), b2i(d.KEV)); err != nil {
					return fmt.Errorf("index device %s: %w", a, err)
				}
			}
		}
		for n := range names {
			if _, err := tx.ExecContext(ctx, s.Rebind(`INSERT INTO device_keys (kind, name) VALUES (?, ?) ON CONFLICT (kind, name) DO NOTHING`), n[0], n[1]); err != nil {
				return fmt.Errorf("index devices: %w", err)
			}
		}
		return nil
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inList returns "(?, ?, …)" and its arguments.
func inList[T any](vs []T) (string, []any) {
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ") + ")", args
}

// deviceEvidence is everything stored about one device over every run, each
// item once: the newest run's record (as LoadEvidence keeps them).
type deviceEvidence struct {
	services keyed[model.Service]
	creds    keyed[model.CredentialResult]
	vulns    keyed[model.VulnMatch]
	findings keyed[model.Finding]
	// alertDays are the days of its outbound flow alerts, oldest first.
	alertDays []string
}

// summarize computes the inventory row of device a; ok is false when the
// evidence does not make a device (only closed ports, a lockout, a match).
func (ev *deviceEvidence) summarize(a netip.Addr) (Device, bool) {
	if ev == nil {
		return Device{}, false
	}
	d := Device{IP: a, Protocols: []string{}, WeakOn: []string{}, AlertDays: len(ev.alertDays)}
	if n := len(ev.alertDays); n > 0 {
		d.LastAlertDay = ev.alertDays[n-1]
	}
	pop := stats.Population(ev.services.items, ev.creds.items)
	if len(pop) == 0 && d.AlertDays == 0 {
		return Device{}, false
	}
	if len(pop) > 0 {
		p := pop[0]
		d.Vendor, d.Product, d.DeviceType = p.Identity.Vendor, p.Identity.Product, p.Identity.DeviceType
		d.Scanned, d.Weak = p.Scanned, p.Weak()
		for proto := range p.Protocols {
			d.Protocols = append(d.Protocols, proto)
		}
		for proto := range p.WeakOn {
			d.WeakOn = append(d.WeakOn, proto)
		}
		slices.Sort(d.Protocols)
		slices.Sort(d.WeakOn)
	}
	cves := map[string]bool{}
	for _, v := range ev.vulns.items {
		cves[v.CVE] = true
		d.KEV = d.KEV || v.KEV
		d.EPSS = max(d.EPSS, v.EPSS)
	}
	d.Vulns = len(cves)
	for _, f := range ev.findings.items { // oldest run first: the newest tier wins
		if t := assessedTier(f); t != "" {
			d.Tier = t
		}
	}
	seen := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if d.FirstSeen.IsZero() || t.Before(d.FirstSeen) {
			d.FirstSeen = t
		}
		if t.After(d.LastSeen) {
			d.LastSeen = t
		}
	}
	for _, sv := range ev.services.items {
		seen(sv.Time)
	}
	for _, c := range ev.creds.items {
		seen(c.Time)
	}
	return d, true
}

// assessedTier returns the label tier an "assessment" finding records (the
// data assess.AssessmentRecord carries), or "".
func assessedTier(f model.Finding) string {
	if f.Kind != "assessment" || len(f.Evidence) == 0 {
		return ""
	}
	m, _ := f.Evidence[0].Data.(map[string]any)
	t, _ := m["tier"].(string)
	return t
}

// evidenceOfDevices reads every stored item about addrs, oldest run first
// so that newer records replace older ones.
func (s *Store) evidenceOfDevices(ctx context.Context, addrs []netip.Addr) (map[netip.Addr]*deviceEvidence, error) {
	out := make(map[netip.Addr]*deviceEvidence, len(addrs))
	get := func(v string) *deviceEvidence {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil
		}
		a = deviceAddr(a)
		ev := out[a]
		if ev == nil {
			ev = &deviceEvidence{}
			out[a] = ev
		}
		return ev
	}
	names := make([]string, len(addrs))
	for i, a := range addrs {
		names[i] = a.String()
	}
	in, args := inList(names)

	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT `+serviceCols+` FROM services WHERE ip IN `+in+` ORDER BY run_id, ip, port, transport`), args...)
	if err != nil {
		return nil, fmt.Errorf("read services of devices: %w", err)
	}
	svcs, err := s.scanServices(rows)
	if err != nil {
		return nil, err
	}
	for _, sv := range svcs {
		sv.IP = deviceAddr(sv.IP)
		if ev := get(sv.IP.String()); ev != nil {
			ev.services.put(fmt.Sprintf("%d|%s", sv.Port, sv.Transport), sv)
		}
	}

	// Passwords are read as stored; the dashboard redacts them.
	rows, err = s.db.QueryContext(ctx, s.Rebind(`SELECT ip, port, protocol, username, password, kind, source,
		attempts, lockout_suspected, seen_at FROM credentials WHERE ip IN `+in+` ORDER BY run_id, ip, port, protocol, username`), args...)
	if err != nil {
		return nil, fmt.Errorf("read credentials of devices: %w", err)
	}
	for rows.Next() {
		var c model.CredentialResult
		var ip, seen string
		var port, lock int
		if err := rows.Scan(&ip, &port, &c.Protocol, &c.Username, &c.Password, &c.Kind, &c.Source, &c.Attempts, &lock, &seen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read credentials of devices: %w", err)
		}
		ev := get(ip)
		if ev == nil {
			continue
		}
		c.IP, _ = netip.ParseAddr(ip)
		c.IP = deviceAddr(c.IP)
		c.Port, c.LockoutSuspected, c.Time = uint16(port), lock != 0, ParseTime(seen)
		c.Password = s.secrets.OpenOrPlaceholder(c.Password) // sealed at rest (secrets.go)
		if c.Kind == model.KindLockoutSuspected {
			c.LockoutSuspected = true
		}
		ev.creds.put(fmt.Sprintf("%d|%s|%s|%s", c.Port, c.Protocol, c.Username, c.Password), c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read credentials of devices: %w", err)
	}

	looked, err := s.lookedAt(ctx, in, args)
	if err != nil {
		return nil, err
	}
	err = scanJSONRows(ctx, s, `SELECT subject, run_id, data FROM vuln_matches WHERE subject IN `+in+` ORDER BY run_id`, args,
		func(subject string, run int64, v model.VulnMatch) {
			if ev := get(subject); ev != nil {
				if !v.IP.IsValid() {
					v.IP, _ = netip.ParseAddr(subject)
				}
				key := fmt.Sprintf("%s|%d|%s|%s", deviceAddr(v.IP), v.Port, v.CVE, v.CPE)
				ev.vulns.put(key, v)
				looked.matched(run, key)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("read vulnerability matches of devices: %w", err)
	}
	for _, ev := range out {
		ev.vulns.items = looked.current(ev.vulns)
		ev.vulns.at = nil // items no longer line up with the keys
	}
	err = scanJSONRows(ctx, s, `SELECT subject, run_id, data FROM findings WHERE subject IN `+in+` ORDER BY run_id`, args,
		func(subject string, _ int64, f model.Finding) {
			if ev := get(subject); ev != nil {
				ev.findings.put(f.Kind+"|"+f.Title, f)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("read findings of devices: %w", err)
	}

	// Outbound alerts only: flow.DailyCompromised counts those.
	rows, err = s.db.QueryContext(ctx, s.Rebind(`SELECT DISTINCT device, day FROM flow_alerts WHERE inbound = 0 AND device IN `+in+` ORDER BY device, day`), args...)
	if err != nil {
		return nil, fmt.Errorf("read flow alerts of devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dev, day string
		if err := rows.Scan(&dev, &day); err != nil {
			return nil, fmt.Errorf("read flow alerts of devices: %w", err)
		}
		if ev := get(dev); ev != nil && !slices.Contains(ev.alertDays, day) {
			ev.alertDays = append(ev.alertDays, day)
			slices.Sort(ev.alertDays)
		}
	}
	return out, rows.Err()
}

// lookedAt returns, for the devices in (in, args), which runs matching
// vulnerabilities observed which of their ports (see rematched).
func (s *Store) lookedAt(ctx context.Context, in string, args []any) (*rematched, error) {
	rows, err := s.db.QueryContext(ctx, s.Rebind(`SELECT DISTINCT ip, port, run_id FROM services WHERE ip IN `+in+` AND status <> ?`),
		append(slices.Clip(args), string(model.StatusTimeout))...)
	if err != nil {
		return nil, fmt.Errorf("read services of devices: %w", err)
	}
	type seen struct {
		ip   string
		port int
		run  int64
	}
	var all []seen
	for rows.Next() {
		var x seen
		if err := rows.Scan(&x.ip, &x.port, &x.run); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read services of devices: %w", err)
		}
		all = append(all, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read services of devices: %w", err)
	}
	m, runs := &rematched{}, map[int64]model.Run{}
	for _, x := range all {
		r, ok := runs[x.run]
		if !ok {
			if r, err = s.Run(ctx, x.run); err != nil {
				return nil, fmt.Errorf("read services of devices: %w", err)
			}
			runs[x.run] = r
		}
		a, err := netip.ParseAddr(x.ip)
		if err != nil {
			continue
		}
		m.observe(r, model.Service{IP: a, Port: uint16(x.port)})
	}
	return m, nil
}

// scanJSONRows runs q (selecting a subject, a run id and a JSON document)
// and hands every decoded row to fn.
func scanJSONRows[T any](ctx context.Context, s *Store, q string, args []any, fn func(string, int64, T)) error {
	rows, err := s.db.QueryContext(ctx, s.Rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var subject, data string
		var run int64
		if err := rows.Scan(&subject, &run, &data); err != nil {
			return err
		}
		data, err := s.openJSON(data) // secrets sealed at rest (secrets.go)
		if err != nil {
			return fmt.Errorf("%s: %w", subject, err)
		}
		var v T
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return fmt.Errorf("%s: %w", subject, err)
		}
		fn(subject, run, v)
	}
	return rows.Err()
}

// DeviceRecord is everything stored about one device: its inventory row
// and its evidence over every run, each item once (the newest run's record).
type DeviceRecord struct {
	Device
	Services []model.Service `json:"services"`
	// Credentials hold passwords as stored: callers redact them.
	Credentials []model.CredentialResult `json:"credentials"`
	// Vulns are ranked for work: KEV, then EPSS, then CVSS.
	Vulns []model.VulnMatch `json:"vulnerabilities"`
	// Findings are the findings whose subject is the device: provisions of
	// the assessment with their evidence, flow and firmware findings.
	Findings []model.Finding `json:"findings"`
}

// DeviceRecord returns everything stored about device a, or ErrNotFound
// when the inventory has no such device.
func (s *Store) DeviceRecord(ctx context.Context, a netip.Addr) (*DeviceRecord, error) {
	a = deviceAddr(a)
	d, err := s.Device(ctx, a)
	if err != nil {
		return nil, err
	}
	evs, err := s.evidenceOfDevices(ctx, []netip.Addr{a})
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", a, err)
	}
	rec := &DeviceRecord{Device: d, Services: []model.Service{}, Credentials: []model.CredentialResult{},
		Vulns: []model.VulnMatch{}, Findings: []model.Finding{}}
	if ev := evs[a]; ev != nil {
		rec.Services = append(rec.Services, ev.services.items...)
		rec.Credentials = append(rec.Credentials, ev.creds.items...)
		rec.Vulns = append(rec.Vulns, ev.vulns.items...)
		rec.Findings = append(rec.Findings, ev.findings.items...)
	}
	slices.SortFunc(rec.Services, func(x, y model.Service) int {
		return cmp.Or(cmp.Compare(x.Port, y.Port), cmp.Compare(x.Transport, y.Transport))
	})
	slices.SortStableFunc(rec.Vulns, model.CompareVulnMatches)
	slices.SortStableFunc(rec.Findings, func(x, y model.Finding) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Title, y.Title))
	})
	return rec, nil
}

// lockDeviceIndex makes the transactions that rewrite the inventory's rows
// take turns on PostgreSQL, as SQLite's do (its transactions hold the
// write lock): two processes ending runs at once re-index the same devices,
// and the second's delete must see the first's rows, not meet them in the
// unique index when it inserts.
func (s *Store) lockDeviceIndex(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('iotwatch.device_index'))`); err != nil {
		return fmt.Errorf("index devices: lock: %w", err)
	}
	return nil
}
