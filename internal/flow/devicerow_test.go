package flow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/geo"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// testRollups aggregates the same records on every call: IPv4 and IPv6
// peers under many attributions, with relations spilled.
func testRollups(t *testing.T) Rollups {
	t.Helper()
	t0 := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)
	attribute := func(a netip.Addr) geo.Attribution {
		b := a.As16()
		return geo.Attribution{Country: fmt.Sprintf("C%d", b[15]%9), CountryDB: "test-country", ASN: uint32(b[14]) * 100,
			Owner: fmt.Sprintf("net \"%d\"", b[13]%4), OwnerDB: "test-owner"}
	}
	ag := NewAggregator(attribute, 0)
	ag.SpillTo(t.TempDir(), 64)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 4000 {
		dev := netip.AddrFrom4([4]byte{192, 168, 1, byte(rng.IntN(6))})
		if i%50 == 0 {
			dev = netip.MustParseAddr("fd00::10")
		}
		peer := netip.AddrFrom4([4]byte{198, 51, byte(rng.IntN(4)), byte(rng.IntN(200))})
		if i%7 == 0 {
			peer = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 7: byte(rng.IntN(3)), 15: byte(rng.IntN(40))})
		}
		o := Orientation{Device: dev, Peer: peer, Port: uint16(443 + rng.IntN(3)), Outbound: rng.IntN(5) > 0, Known: rng.IntN(3) == 0}
		r := &Record{Start: t0.Add(time.Duration(i) * 1500 * time.Millisecond), Proto: []uint8{ProtoTCP, ProtoUDP}[rng.IntN(2)],
			Packets: uint64(1 + rng.IntN(9)), Bytes: uint64(60 + rng.IntN(900))}
		r.End = r.Start.Add(time.Duration(rng.IntN(5000)) * time.Microsecond)
		ag.Add(r, o)
	}
	ro := ag.take()
	t.Cleanup(func() { ro.Close() })
	if ro.Spilled == 0 || len(ro.Attributions) < 20 {
		t.Fatalf("%d records spilled, %d attributions: the data tests too little", ro.Spilled, len(ro.Attributions))
	}
	return ro
}

// saveJSON stores r as the flow_devices rows Save wrote before 00048: the
// JSON arrays in "hours" and "peers", no packed form.
func saveJSON(ctx context.Context, t *testing.T, st *store.Store, runID int64, r Rollups) {
	t.Helper()
	err := st.Tx(ctx, func(tx *sql.Tx) error {
		day, dayCol, dayVal, err := st.DayKey(ctx, tx, runID)
		if err != nil {
			return err
		}
		return groupDevices(r, func(dev netip.Addr, hours []Hourly, rels []Relation) error {
			known, first, last := false, int64(-1), int64(0)
			var fl, pk, by uint64
			for _, h := range hours {
				known = known || h.Known
				fl, pk, by = fl+h.Flows, pk+h.Packets, by+h.Bytes
				if first < 0 || h.Hour < first {
					first = h.Hour
				}
				last = max(last, h.Hour)
			}
			for _, r := range rels {
				known = known || r.Known
			}
			hj, pj := jsonRow(hours, rels, r.Attributions)
			_, err := tx.ExecContext(ctx, st.Rebind(`INSERT INTO flow_devices (run_id, device, known, first_hour, last_hour, flows, packets, bytes,
				country_db, owner_db, hours, peers`+dayCol+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?`+dayVal+`)`),
				day(runID, dev.String(), b2i(known), store.Time(time.Unix(max(first, 0), 0)), store.Time(time.Unix(last, 0)),
					int64(fl), int64(pk), int64(by), "test-country", "test-owner", hj, pj)...)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestJSONRowsReadAsPacked: a database holding the JSON rows of earlier
// versions reads the same relations and destinations as one holding the
// packed rows Save writes now, on both backends, in a day partition made
// before 00048 (today's) and in one made after (the records' day).
func TestJSONRowsReadAsPacked(t *testing.T) {
	ctx := context.Background()
	for name, open := range backends.Openers(t) {
		t.Run(name, func(t *testing.T) {
			packed, old := open(), open()
			for _, started := range []time.Time{time.Now(), time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)} {
				run := &model.Run{Kind: RunKind, StartedAt: started}
				if err := packed.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				if err := Save(ctx, packed, run.ID, &Result{Rollups: testRollups(t)}); err != nil {
					t.Fatal(err)
				}
				run = &model.Run{Kind: RunKind, StartedAt: started}
				if err := old.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				saveJSON(ctx, t, old, run.ID, testRollups(t))
			}
			var rows, jsonLeft int
			if err := packed.DB().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE hours <> '' OR peers <> '' OR packed IS NULL) FROM flow_devices`).
				Scan(&rows, &jsonLeft); err != nil {
				t.Fatal(err)
			}
			if rows != 14 || jsonLeft != 0 {
				t.Errorf("Save wrote %d rows, %d with JSON arrays or no packed form; want 14 rows, all packed only", rows, jsonLeft)
			}
			for _, dev := range []netip.Addr{{}, netip.MustParseAddr("192.168.1.3"), netip.MustParseAddr("fd00::10")} {
				want, err := PeerUses(ctx, old, dev)
				if err != nil {
					t.Fatal(err)
				}
				got, err := PeerUses(ctx, packed, dev)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) < 20 || !reflect.DeepEqual(got, want) {
					t.Errorf("device %v: packed rows read %d relations, JSON rows %d, or they differ", dev, len(got), len(want))
				}
				wd, err := Destinations(ctx, old, dev)
				if err != nil {
					t.Fatal(err)
				}
				gd, err := Destinations(ctx, packed, dev)
				if err != nil {
					t.Fatal(err)
				}
				if len(wd) < 2 || !reflect.DeepEqual(gd, wd) {
					t.Errorf("device %v: packed rows read destinations\n%+v\nJSON rows\n%+v", dev, gd, wd)
				}
			}
		})
	}
}

// TestCorruptPackedRowRead: a damaged packed row fails the read with an
// error that names the device.
func TestCorruptPackedRowRead(t *testing.T) {
	ctx := context.Background()
	st := backends.Open(t, t.TempDir()+"/c.db")
	run := &model.Run{Kind: RunKind}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := Save(ctx, st, run.ID, &Result{Rollups: testRollups(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE flow_devices SET packed = substr(packed, 1, length(packed) - 3) WHERE device = '192.168.1.2'`); err != nil {
		t.Fatal(err)
	}
	_, err := PeerUses(ctx, st, netip.Addr{})
	if err == nil || !errors.Is(err, errPacked) || !strings.Contains(err.Error(), "192.168.1.2") {
		t.Errorf("read of a cut row: %v, want errPacked naming 192.168.1.2", err)
	}
}

// TestSortHours: the two-goroutine sort of a large slice gives
// compareHourly's order, entry for entry, however the devices split.
func TestSortHours(t *testing.T) {
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}) }
	mixed := func(i int) netip.Addr {
		if i%3 == 0 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		}
		return v4(i)
	}
	hourly := func(i int) int64 { return 1795168800 + int64(i)*3600 }
	tests := []struct {
		name    string
		n, ndev int
		dev     func(int) netip.Addr
	}{
		{"small", 1000, 50, v4},
		{"IPv4", 50000, 3000, v4},
		{"IPv4 and IPv6", 50000, 3000, mixed},
		{"twelve devices", 40000, 12, v4}, // a part holds few devices
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := randHourly(rng, tc.n, tc.ndev, tc.dev, hourly)
			want := slices.Clone(h)
			slices.SortFunc(want, compareHourly)
			sortHours(h)
			for i := range h {
				if h[i] != want[i] {
					t.Fatalf("entry %d is %+v, want %+v", i, h[i], want[i])
				}
			}
		})
	}
}
