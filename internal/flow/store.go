package flow

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"iotwatch/internal/geo"
	"iotwatch/internal/store"
)

// RunKind is the store run kind for flow ingests and their findings.
const RunKind = "flows"

// insertRows writes rows with multi-row INSERT statements of up to chunk rows.
func insertRows(ctx context.Context, st *store.Store, tx *sql.Tx, head, conflict string, ncol int, rows [][]any) error {
	const chunk = 200
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", ncol), ",") + ")"
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		args := make([]any, 0, n*ncol)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(ph)
			args = append(args, rows[i]...)
		}
		b.WriteByte(' ')
		b.WriteString(conflict)
		if _, err := tx.ExecContext(ctx, st.Rebind(b.String()), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// Save writes a pipeline result under runID: roll-ups (attributed with at,
// which may be nil), DNS answers and alerts, in one transaction.
func Save(ctx context.Context, st *store.Store, runID int64, res *Result, at *geo.Attributor) error {
	return st.Tx(ctx, func(tx *sql.Tx) error {
		rows := make([][]any, 0, len(res.Rollups))
		for _, r := range res.Rollups {
			var g geo.Attribution
			if at != nil {
				g = at.Attribute(r.Peer)
			}
			rows = append(rows, []any{runID, store.Time(r.HourTime()), r.Device.String(), r.Peer.String(),
				int64(r.Proto), int64(r.Port), b2i(r.Outbound), b2i(r.Known), int64(r.Flows), int64(r.Packets), int64(r.Bytes),
				store.Time(time.Unix(0, r.First)), store.Time(time.Unix(0, r.Last)),
				g.Country, g.CountryDB, int64(g.ASN), g.Owner, g.OwnerDB})
		}
		if err := insertRows(ctx, st, tx, `INSERT INTO flow_rollups (run_id, hour, device, peer, proto, port, outbound, known,
			flows, packets, bytes, first_seen, last_seen, country, country_db, asn, owner, owner_db)`,
			`ON CONFLICT (run_id, hour, device, peer, proto, port, outbound) DO UPDATE SET
			flows = flow_rollups.flows + excluded.flows, packets = flow_rollups.packets + excluded.packets,
			bytes = flow_rollups.bytes + excluded.bytes`, 18, rows); err != nil {
			return fmt.Errorf("save flow roll-ups: %w", err)
		}
		rows = rows[:0]
		for _, d := range res.DNS {
			rows = append(rows, []any{runID, d.Name, d.Addr.String()})
		}
		if err := insertRows(ctx, st, tx, `INSERT INTO flow_dns (run_id, name, addr)`, `ON CONFLICT DO NOTHING`, 3, rows); err != nil {
			return fmt.Errorf("save dns answers: %w", err)
		}
		rows = rows[:0]
		seen := map[string]bool{}
		for _, a := range res.Alerts {
			peer := ""
			if a.Peer.IsValid() {
				peer = a.Peer.String()
			}
			k := a.Day() + a.Device.String() + a.Detector + peer
			if seen[k] {
				continue
			}
			seen[k] = true
			rows = append(rows, []any{runID, a.Day(), a.Device.String(), a.Detector, peer, b2i(a.Known), b2i(a.Inbound), store.Time(a.Time), a.Reason})
		}
		if err := insertRows(ctx, st, tx, `INSERT INTO flow_alerts (run_id, day, device, detector, peer, known, inbound, seen_at, reason)`,
			`ON CONFLICT DO NOTHING`, 9, rows); err != nil {
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

// Destinations sums stored roll-ups per device, country and owner over the
// traffic each device sent or initiated (connections opened by outside hosts
// are left out); a zero device means all devices. Biggest byte counts first.
func Destinations(ctx context.Context, st *store.Store, device netip.Addr) ([]Destination, error) {
	q := `SELECT device, country, asn, owner, country_db, owner_db, SUM(flows), SUM(packets), SUM(bytes), COUNT(DISTINCT peer)
		FROM flow_rollups WHERE outbound = 1`
	var args []any
	if device.IsValid() {
		q += ` AND device = ?`
		args = append(args, device.Unmap().String())
	}
	q += ` GROUP BY device, country, asn, owner, country_db, owner_db`
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read destinations: %w", err)
	}
	defer rows.Close()
	var out []Destination
	for rows.Next() {
		var d Destination
		var dev string
		var asn int64
		if err := rows.Scan(&dev, &d.Country, &asn, &d.Owner, &d.CountryDB, &d.OwnerDB, &d.Flows, &d.Packets, &d.Bytes, &d.Peers); err != nil {
			return nil, err
		}
		d.Device, _ = netip.ParseAddr(dev)
		d.ASN = uint32(asn)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Device.Less(out[j].Device)
	})
	return out, nil
}

// PeerUse is one device→peer relation as stored, for MUD and export checks.
type PeerUse struct {
	Device   netip.Addr `json:"device"`
	Peer     netip.Addr `json:"peer"`
	Proto    uint8      `json:"proto"`
	Port     uint16     `json:"port"`
	Outbound bool       `json:"outbound"`
	Known    bool       `json:"known"`
	Hour     time.Time  `json:"hour"`
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

// PeerUses returns stored roll-ups, one per hour and relation, with the DNS
// names seen for each peer; a zero device means all devices.
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
	q := `SELECT hour, device, peer, proto, port, outbound, known, flows, packets, bytes, first_seen, last_seen, country, asn, owner FROM flow_rollups`
	var args []any
	if device.IsValid() {
		q += ` WHERE device = ?`
		args = append(args, device.Unmap().String())
	}
	q += ` ORDER BY hour, device, peer, port`
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read roll-ups: %w", err)
	}
	defer rows.Close()
	var out []PeerUse
	for rows.Next() {
		var u PeerUse
		var hour, dev, peer, first, last string
		var proto, port, outb, known, asn int64
		if err := rows.Scan(&hour, &dev, &peer, &proto, &port, &outb, &known, &u.Flows, &u.Packets, &u.Bytes, &first, &last, &u.Country, &asn, &u.Owner); err != nil {
			return nil, err
		}
		u.Hour, u.First, u.Last = store.ParseTime(hour), store.ParseTime(first), store.ParseTime(last)
		u.Device, _ = netip.ParseAddr(dev)
		u.Peer, _ = netip.ParseAddr(peer)
		u.Proto, u.Port, u.Outbound, u.Known, u.ASN = uint8(proto), uint16(port), outb != 0, known != 0, uint32(asn)
		u.Names = names[peer]
		out = append(out, u)
	}
	return out, rows.Err()
}
