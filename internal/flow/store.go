package flow

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"iotwatch/internal/geo"
	"iotwatch/internal/store"
)

// RunKind is the store run kind for flow ingests and their findings.
const RunKind = "flows"

// insertRows writes rows with one prepared single-row INSERT inside tx:
// single-row statements need no statement journal, which makes them faster
// in SQLite than multi-row VALUES lists here.
func insertRows(ctx context.Context, st *store.Store, tx *sql.Tx, q string, rows func(yield func(...any) error) error) error {
	stmt, err := tx.PrepareContext(ctx, st.Rebind(q))
	if err != nil {
		return err
	}
	defer stmt.Close()
	return rows(func(args ...any) error {
		_, err := stmt.ExecContext(ctx, args...)
		return err
	})
}

// Save writes a pipeline result under runID: hourly roll-ups, relations,
// DNS answers and alerts, in one transaction.
func Save(ctx context.Context, st *store.Store, runID int64, res *Result) error {
	attrs := res.Rollups.Attributions
	at := func(i uint32) geo.Attribution {
		if int(i) < len(attrs) {
			return attrs[i]
		}
		return geo.Attribution{}
	}
	return st.Tx(ctx, func(tx *sql.Tx) error {
		err := insertRows(ctx, st, tx, `INSERT INTO flow_hourly (run_id, hour, device, known, outbound, country, asn, owner,
			country_db, owner_db, flows, packets, bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, func(exec func(...any) error) error {
			for _, h := range res.Rollups.Hourly {
				g := at(h.Attr)
				if err := exec(runID, store.Time(h.HourTime()), h.Device.String(), b2i(h.Known), b2i(h.Outbound), g.Country, int64(g.ASN), g.Owner,
					g.CountryDB, g.OwnerDB, int64(h.Flows), int64(h.Packets), int64(h.Bytes)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save hourly roll-ups: %w", err)
		}
		err = insertRows(ctx, st, tx, `INSERT INTO flow_peers (run_id, device, peer, proto, port, outbound, known, flows, packets, bytes,
			first_seen, last_seen, country, asn, owner, country_db, owner_db) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, func(exec func(...any) error) error {
			for _, r := range res.Rollups.Relations {
				g := at(r.Attr)
				if err := exec(runID, r.Device.String(), r.Peer.String(), int64(r.Proto), int64(r.Port), b2i(r.Outbound), b2i(r.Known),
					int64(r.Flows), int64(r.Packets), int64(r.Bytes), store.Time(time.Unix(0, r.First)), store.Time(time.Unix(0, r.Last)),
					g.Country, int64(g.ASN), g.Owner, g.CountryDB, g.OwnerDB); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save relations: %w", err)
		}
		err = insertRows(ctx, st, tx, `INSERT INTO flow_dns (run_id, name, addr) VALUES (?,?,?)`, func(exec func(...any) error) error {
			for _, d := range res.DNS {
				if err := exec(runID, d.Name, d.Addr.String()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save dns answers: %w", err)
		}
		seen := map[string]bool{}
		err = insertRows(ctx, st, tx, `INSERT INTO flow_alerts (run_id, day, device, detector, peer, known, inbound, seen_at, reason)
			VALUES (?,?,?,?,?,?,?,?,?)`, func(exec func(...any) error) error {
			for _, a := range res.Alerts {
				peer := ""
				if a.Peer.IsValid() {
					peer = a.Peer.String()
				}
				k := a.Day() + "|" + a.Device.String() + "|" + a.Detector + "|" + peer
				if seen[k] {
					continue
				}
				seen[k] = true
				if err := exec(runID, a.Day(), a.Device.String(), a.Detector, peer, b2i(a.Known), b2i(a.Inbound), store.Time(a.Time), a.Reason); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save alerts: %w", err)
		}
		return nil
	})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// DayCount is how many distinct devices had at least one alert on a UTC day:
// the devices counted as under unauthorized control that day.
type DayCount struct {
	Day     string `json:"day"` // YYYY-MM-DD
	Devices int    `json:"devices"`
}

// DailyCompromised counts, per UTC day since since (zero = all), the devices
// with at least one stored alert.
func DailyCompromised(ctx context.Context, st *store.Store, since time.Time) ([]DayCount, error) {
	day := ""
	if !since.IsZero() {
		day = since.UTC().Format(time.DateOnly)
	}
	rows, err := st.DB().QueryContext(ctx, st.Rebind(
		`SELECT day, COUNT(DISTINCT device) FROM flow_alerts WHERE day >= ? AND inbound = 0 GROUP BY day ORDER BY day`), day)
	if err != nil {
		return nil, fmt.Errorf("daily compromised devices: %w", err)
	}
	defer rows.Close()
	var out []DayCount
	for rows.Next() {
		var d DayCount
		if err := rows.Scan(&d.Day, &d.Devices); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// StoredAlert is an alert as read back from the store.
type StoredAlert struct {
	Alert
	RunID int64  `json:"run_id"`
	Day   string `json:"day"`
}

// Alerts returns stored alerts since since (zero = all), oldest first.
func Alerts(ctx context.Context, st *store.Store, since time.Time) ([]StoredAlert, error) {
	rows, err := st.DB().QueryContext(ctx, st.Rebind(
		`SELECT run_id, day, device, detector, peer, known, inbound, seen_at, reason FROM flow_alerts
		 WHERE seen_at >= ? ORDER BY seen_at, device, detector`), store.Time(since))
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []StoredAlert
	for rows.Next() {
		var a StoredAlert
		var dev, peer, seen string
		var known, inbound int64
		if err := rows.Scan(&a.RunID, &a.Day, &dev, &a.Detector, &peer, &known, &inbound, &seen, &a.Reason); err != nil {
			return nil, err
		}
		a.Device, _ = netip.ParseAddr(dev)
		a.Peer, _ = netip.ParseAddr(peer)
		a.Known, a.Inbound = known != 0, inbound != 0
		a.Time = store.ParseTime(seen)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Destination is where one device's traffic went, per country and network
// owner, with the databases that made the attribution.
type Destination struct {
	Device    netip.Addr `json:"device"`
	Country   string     `json:"country"`
	ASN       uint32     `json:"asn,omitempty"`
	Owner     string     `json:"owner,omitempty"`
	Flows     int64      `json:"flows"`
	Packets   int64      `json:"packets"`
	Bytes     int64      `json:"bytes"`
	Peers     int        `json:"peers"`
	CountryDB string     `json:"country_db"`
	OwnerDB   string     `json:"owner_db,omitempty"`
}

// Destinations sums stored hourly roll-ups per device, country and owner
// over the traffic each device sent or initiated (connections opened by
// outside hosts are left out); a zero device means all devices. Peers counts
// distinct peer addresses from the stored relations. Biggest byte counts first.
func Destinations(ctx context.Context, st *store.Store, device netip.Addr) ([]Destination, error) {
	where, args := ` WHERE outbound = 1`, []any{}
	if device.IsValid() {
		where += ` AND device = ?`
		args = append(args, device.Unmap().String())
	}
	rows, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT device, country, asn, owner, country_db, owner_db, SUM(flows), SUM(packets), SUM(bytes)
		FROM flow_hourly`+where+` GROUP BY device, country, asn, owner, country_db, owner_db`), args...)
	if err != nil {
		return nil, fmt.Errorf("read destinations: %w", err)
	}
	type key struct {
		dev, country, owner string
		asn                 int64
	}
	idx := map[key]int{}
	var out []Destination
	for rows.Next() {
		var d Destination
		var dev string
		var asn int64
		if err := rows.Scan(&dev, &d.Country, &asn, &d.Owner, &d.CountryDB, &d.OwnerDB, &d.Flows, &d.Packets, &d.Bytes); err != nil {
			rows.Close()
			return nil, err
		}
		d.Device, _ = netip.ParseAddr(dev)
		d.ASN = uint32(asn)
		idx[key{dev, d.Country, d.Owner, asn}] = len(out)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	pr, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT device, country, asn, owner, COUNT(DISTINCT peer) FROM flow_peers`+where+
		` GROUP BY device, country, asn, owner`), args...)
	if err != nil {
		return nil, fmt.Errorf("read destination peers: %w", err)
	}
	defer pr.Close()
	for pr.Next() {
		var k key
		var n int
		if err := pr.Scan(&k.dev, &k.country, &k.asn, &k.owner, &n); err != nil {
			return nil, err
		}
		if i, ok := idx[k]; ok {
			out[i].Peers = n
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Device.Less(out[j].Device)
	})
	return out, pr.Err()
}

// PeerUse is one device→peer relation as stored, for MUD and export checks.
type PeerUse struct {
	Device   netip.Addr `json:"device"`
	Peer     netip.Addr `json:"peer"`
	Proto    uint8      `json:"proto"`
	Port     uint16     `json:"port"`
	Outbound bool       `json:"outbound"`
	Known    bool       `json:"known"`
	First    time.Time  `json:"first_seen"`
	Last     time.Time  `json:"last_seen"`
	Flows    int64      `json:"flows"`
	Packets  int64      `json:"packets"`
	Bytes    int64      `json:"bytes"`
	Country  string     `json:"country,omitempty"`
	ASN      uint32     `json:"asn,omitempty"`
	Owner    string     `json:"owner,omitempty"`
	Names    []string   `json:"names,omitempty"` // DNS names observed for the peer
}

// PeerUses returns the stored device↔peer relations with the DNS names seen
// for each peer; a zero device means all devices.
func PeerUses(ctx context.Context, st *store.Store, device netip.Addr) ([]PeerUse, error) {
	names := map[string][]string{}
	dr, err := st.DB().QueryContext(ctx, `SELECT DISTINCT addr, name FROM flow_dns ORDER BY addr, name`)
	if err != nil {
		return nil, fmt.Errorf("read dns answers: %w", err)
	}
	for dr.Next() {
		var a, n string
		if err := dr.Scan(&a, &n); err != nil {
			dr.Close()
			return nil, err
		}
		names[a] = append(names[a], n)
	}
	dr.Close()
	q := `SELECT device, peer, proto, port, outbound, known, flows, packets, bytes, first_seen, last_seen, country, asn, owner FROM flow_peers`
	var args []any
	if device.IsValid() {
		q += ` WHERE device = ?`
		args = append(args, device.Unmap().String())
	}
	q += ` ORDER BY device, peer, port`
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read roll-ups: %w", err)
	}
	defer rows.Close()
	var out []PeerUse
	for rows.Next() {
		var u PeerUse
		var dev, peer, first, last string
		var proto, port, outb, known, asn int64
		if err := rows.Scan(&dev, &peer, &proto, &port, &outb, &known, &u.Flows, &u.Packets, &u.Bytes, &first, &last, &u.Country, &asn, &u.Owner); err != nil {
			return nil, err
		}
		u.First, u.Last = store.ParseTime(first), store.ParseTime(last)
		u.Device, _ = netip.ParseAddr(dev)
		u.Peer, _ = netip.ParseAddr(peer)
		u.Proto, u.Port, u.Outbound, u.Known, u.ASN = uint8(proto), uint16(port), outb != 0, known != 0, uint32(asn)
		u.Names = names[peer]
		out = append(out, u)
	}
	return out, rows.Err()
}
