package flow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

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
// DNS answers, alerts and the inputs read, in one transaction. It releases
// the relations' spill file (Rollups.Close) after.
func Save(ctx context.Context, st *store.Store, runID int64, res *Result) error {
	// The spill file is read once the rows are written: it is released
	// while the rest is written and committed (the system's freeing of its
	// pages took 4 ms of the 1M-flow save).
	closed := make(chan error, 1)
	closing := false
	err := st.BulkTx(ctx, savedSize(res), func(tx *sql.Tx) error {
		if err := claimInputs(ctx, st, tx, res.Inputs); err != nil {
			return err
		}
		err := saveDevices(ctx, st, tx, runID, res.Rollups)
		closing = true
		go func() { closed <- res.Rollups.Close() }()
		if err != nil {
			return fmt.Errorf("save device roll-ups: %w", err)
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
		err = insertRows(ctx, st, tx, `INSERT INTO flow_alerts (run_id, day, device, detector, peer, known, inbound, seen_at, reason,
			src_port, port, proto, sampling, scores) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, func(exec func(...any) error) error {
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
				scores := ""
				if len(a.Scores) > 0 {
					b, err := json.Marshal(a.Scores)
					if err != nil {
						return err
					}
					scores = string(b)
				}
				if err := exec(runID, a.Day(), a.Device.String(), a.Detector, peer, b2i(a.Known), b2i(a.Inbound), store.Time(a.Time), a.Reason,
					int64(a.SrcPort), int64(a.Port), int64(a.Proto), int64(a.Sampling), scores); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save alerts: %w", err)
		}
		if err := saveInputs(ctx, st, tx, runID, res.Inputs); err != nil {
			return fmt.Errorf("save ingested inputs: %w", err)
		}
		return nil
	})
	var cerr error
	if closing {
		cerr = <-closed
	} else {
		cerr = res.Rollups.Close() // the transaction did not begin
	}
	if cerr != nil && err == nil {
		err = fmt.Errorf("save device roll-ups: %w", cerr)
	}
	return err
}

// savedSize is about how many bytes Save writes for res: a packed relation
// takes 15-17 bytes, an hourly roll-up 5-10 (measured on bench/flows's
// captures), alerts and DNS answers are few.
func savedSize(res *Result) int64 {
	return 16*int64(res.Rollups.NumRelations()) + 8*int64(len(res.Rollups.Hourly))
}

// saveRowsAhead is how many encoded rows may wait for their INSERT.
const saveRowsAhead = 32

// saveDevices writes the flow_devices rows of r in tx.
func saveDevices(ctx context.Context, st *store.Store, tx *sql.Tx, runID int64, r Rollups) error {
	// flow_devices is partitioned by day on PostgreSQL (store.DayKey).
	day, dayCol, dayVal, err := st.DayKey(ctx, tx, runID)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, st.Rebind(`INSERT INTO flow_devices (run_id, device, known, first_hour, last_hour, flows, packets, bytes,
		country_db, owner_db, hours, peers, packed`+dayCol+`) VALUES (?,?,?,?,?,?,?,?,?,?,'','',?`+dayVal+`)`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	return pipeDevices(ctx, r, func(ctx context.Context, d *deviceRow) error {
		// The drivers copy the blob before Exec returns (modernc.org/sqlite
		// into SQLite's memory, pgx into its wire buffer): the row's buffer
		// may then be reused.
		_, err := stmt.ExecContext(ctx, day(runID, d.device.String(), b2i(d.known), store.Time(time.Unix(d.firstHour, 0)),
			store.Time(time.Unix(d.lastHour, 0)), int64(d.flows), int64(d.packets), int64(d.bytes), d.countryDB, d.ownerDB, d.packed)...)
		return err
	})
}

// pipeDevices calls insert with each of r's device rows. Goroutines encode
// them (sorting the hourly roll-ups, merging the spilled relations, packing
// each device's) while this one inserts, up to saveRowsAhead rows behind:
// two of them, each for a part of the devices (splitDevices), when there
// are many, for the encoding takes longer than the INSERTs. The rows of
// a part come in order, those of the two parts interleaved. An error on
// either side, or ctx's end, stops all; the encoders have returned when
// pipeDevices does. insert must not keep the row: its buffers are reused.
func pipeDevices(ctx context.Context, r Rollups, insert func(context.Context, *deviceRow) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := splitDevices(r)
	// A row goes from an encoder to rows, is inserted, and comes back
	// through free with its buffer: at most saveRowsAhead+1 (inserted) +
	// one per encoder (being sent) exist.
	rows := make(chan *deviceRow, saveRowsAhead)
	free := make(chan *deviceRow, saveRowsAhead+1+len(parts))
	send := func(d *deviceRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var row *deviceRow
		select {
		case row = <-free:
		default:
			row = new(deviceRow)
		}
		buf := row.packed[:0]
		*row = *d
		row.packed = append(buf, d.packed...)
		select {
		case rows <- row:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// An encoder's error is sent before it cancels the others: the first
	// error received is the cause.
	encoded := make(chan error, len(parts))
	var wg sync.WaitGroup
	enc := newDeviceEncoder(r.Attributions)
	for i, part := range parts {
		e := enc
		if i > 0 {
			e = enc.fork()
		}
		wg.Go(func() {
			part.ord = orderHourly(part.hours, nil)
			err := groupPart(part, func(dev netip.Addr, hours []Hourly, rels []Relation, slots []relSlot) error {
				return send(e.encode(dev, hours, rels, slots))
			})
			encoded <- err
			if err != nil {
				cancel()
			}
		})
	}
	go func() {
		wg.Wait()
		close(rows)
	}()
	// err is insert's; stopped, ctx's end seen before an insert.
	var err, stopped error
	for d := range rows {
		if err == nil && stopped == nil {
			if stopped = ctx.Err(); stopped == nil {
				if err = insert(ctx, d); err != nil {
					cancel() // the encoders stop at their next row
				}
			}
		}
		free <- d
	}
	var encErr error
	for range parts {
		if e := <-encoded; encErr == nil {
			encErr = e
		}
	}
	switch {
	case err != nil && (encErr == nil || !errors.Is(err, context.Canceled)):
		return err // not the encoders' end
	case encErr != nil:
		return encErr
	}
	return stopped
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
	return queryAlerts(ctx, st, `seen_at >= ?`, store.Time(since))
}

// DeviceAlerts returns the stored alerts about one device, oldest first:
// those it acted in and the inbound ones whose peer it was.
func DeviceAlerts(ctx context.Context, st *store.Store, device netip.Addr) ([]StoredAlert, error) {
	d := device.Unmap().String()
	return queryAlerts(ctx, st, `device = ? OR (inbound = 1 AND peer = ?)`, d, d)
}

// queryAlerts returns the stored alerts that match where.
func queryAlerts(ctx context.Context, st *store.Store, where string, args ...any) ([]StoredAlert, error) {
	rows, err := st.DB().QueryContext(ctx, st.Rebind(
		`SELECT run_id, day, device, detector, peer, known, inbound, seen_at, reason, src_port, port, proto, sampling, scores FROM flow_alerts
		 WHERE `+where+` ORDER BY seen_at, device, detector`), args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []StoredAlert
	for rows.Next() {
		var a StoredAlert
		var dev, peer, seen, scores string
		var known, inbound, srcPort, port, proto, sampling int64
		if err := rows.Scan(&a.RunID, &a.Day, &dev, &a.Detector, &peer, &known, &inbound, &seen, &a.Reason, &srcPort, &port, &proto, &sampling, &scores); err != nil {
			return nil, err
		}
		a.SrcPort, a.Port, a.Proto, a.Sampling = uint16(srcPort), uint16(port), uint8(proto), uint32(sampling)
		if scores != "" {
			if err := json.Unmarshal([]byte(scores), &a.Scores); err != nil {
				return nil, fmt.Errorf("read alerts: scores: %w", err)
			}
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

// Destinations sums the stored hourly roll-ups per device, country and
// owner over the traffic each device sent or initiated (connections opened
// by outside hosts are left out); a zero device means all devices. Peers
// counts distinct peer addresses from the stored relations. Biggest byte
// counts first.
func Destinations(ctx context.Context, st *store.Store, device netip.Addr) ([]Destination, error) {
	type key struct {
		dev            netip.Addr
		country, owner string
		asn            uint32
	}
	acc := map[key]*Destination{}
	peers := map[key]map[netip.Addr]struct{}{}
	err := scanDevices(ctx, st, device, func(d *deviceRow, hours []hourEntry, rels []relEntry) error {
		for _, h := range hours {
			if !h.outbound {
				continue
			}
			k := key{d.device, h.country, h.owner, h.asn}
			a := acc[k]
			if a == nil {
				a = &Destination{Device: d.device, Country: h.country, ASN: h.asn, Owner: h.owner, CountryDB: d.countryDB, OwnerDB: d.ownerDB}
				acc[k] = a
			}
			a.Flows += int64(h.flows)
			a.Packets += int64(h.packets)
			a.Bytes += int64(h.bytes)
		}
		for _, r := range rels {
			if !r.outbound {
				continue
			}
			k := key{d.device, r.country, r.owner, r.asn}
			if peers[k] == nil {
				peers[k] = map[netip.Addr]struct{}{}
			}
			peers[k][r.peer] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read destinations: %w", err)
	}
	out := make([]Destination, 0, len(acc))
	for k, a := range acc {
		a.Peers = len(peers[k])
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		if out[i].Device != out[j].Device {
			return out[i].Device.Less(out[j].Device)
		}
		return out[i].Country < out[j].Country
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
	var out []PeerUse
	err = scanDevices(ctx, st, device, func(d *deviceRow, _ []hourEntry, rels []relEntry) error {
		for _, r := range rels {
			out = append(out, PeerUse{Device: d.device, Peer: r.peer, Proto: r.proto, Port: r.port, Outbound: r.outbound, Known: d.known,
				First: time.Unix(0, r.first).UTC(), Last: time.Unix(0, r.last).UTC(), Flows: int64(r.flows), Packets: int64(r.packets), Bytes: int64(r.bytes),
				Country: r.country, ASN: r.asn, Owner: r.owner, Names: names[r.peer.String()]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read relations: %w", err)
	}
	return out, nil
}
