package flow_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/geo"
	"iotwatch/internal/model"
	"iotwatch/internal/store"
	"iotwatch/internal/store/backends"
)

// stores returns a new SQLite store and, when IOTWATCH_TEST_PG names a
// server, a new PostgreSQL one.
func stores(t *testing.T) map[string]*store.Store { return backends.Stores(t) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

type fixedObserver struct{ alerts []flow.Alert }

func (f *fixedObserver) Observe(*flow.Record, flow.Orientation) {}
func (f *fixedObserver) ObserveDNS(flow.DNSAnswer)              {}
func (f *fixedObserver) Alerts() []flow.Alert                   { return f.alerts }

func TestOrient(t *testing.T) {
	id := flow.NewIdentity([]model.Asset{{IP: addr("203.0.113.5")}})
	if err := id.ReadDeviceList(strings.NewReader("# devices\n10.9.0.0/16 lab\n192.0.2.7, camera\n")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		r                         flow.Record
		dev                       string
		out, known                bool
		internal, transit, setNet bool
	}{
		{flow.Record{Src: addr("203.0.113.5"), Dst: addr("8.8.8.8"), DstPort: 53}, "203.0.113.5", true, true, false, false, false},
		{flow.Record{Src: addr("8.8.8.8"), Dst: addr("192.0.2.7"), SrcPort: 53}, "192.0.2.7", false, true, false, false, false},
		{flow.Record{Src: addr("10.9.3.3"), Dst: addr("1.1.1.1")}, "10.9.3.3", true, true, false, false, false},
		{flow.Record{Src: addr("1.1.1.1"), Dst: addr("192.168.0.9"), SrcPort: 443, DstPort: 50000}, "192.168.0.9", false, false, false, false, false},
		{flow.Record{Src: addr("192.168.0.1"), Dst: addr("192.168.0.9"), SrcPort: 80, DstPort: 50000}, "192.168.0.9", false, false, true, false, false},
		{flow.Record{Src: addr("192.168.0.9"), Dst: addr("192.168.0.1"), SrcPort: 50000, DstPort: 80}, "192.168.0.9", true, false, true, false, false},
		// An outside host opening a connection to an outside host: no device.
		{flow.Record{Src: addr("193.201.9.232"), Dst: addr("147.32.81.167"), SrcPort: 46563, DstPort: 3933}, "193.201.9.232", true, false, false, true, false},
		// With the monitored network given, the attacked host is the device
		// and the outside initiator its peer.
		{flow.Record{Src: addr("193.201.9.232"), Dst: addr("147.32.81.167"), SrcPort: 46563, DstPort: 3933}, "147.32.81.167", false, false, false, false, true},
		// ... and private ranges are no longer devices by default.
		{flow.Record{Src: addr("192.168.0.9"), Dst: addr("1.1.1.1"), DstPort: 443}, "192.168.0.9", true, false, false, true, true},
	}
	for _, tc := range cases {
		id := id
		if tc.setNet {
			id = flow.NewIdentity([]model.Asset{{IP: addr("203.0.113.5")}})
			nets, err := flow.ParseNetworks([]string{"147.32.0.0/16, 2001:db8::/32"})
			if err != nil || len(nets) != 2 {
				t.Fatal(nets, err)
			}
			id.SetNetworks(nets)
		}
		o := id.Orient(&tc.r)
		if o.Device.String() != tc.dev || o.Outbound != tc.out || o.Known != tc.known || o.Internal != tc.internal || o.Transit != tc.transit {
			t.Errorf("Orient(%s→%s) = %+v, want device %s outbound %v known %v internal %v transit %v", tc.r.Src, tc.r.Dst, o, tc.dev, tc.out, tc.known, tc.internal, tc.transit)
		}
	}
	if _, err := flow.ParseNetworks([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad network accepted")
	}
	if err := id.ReadDeviceList(strings.NewReader("not-an-ip\n")); err == nil {
		t.Error("bad device list accepted")
	}
}

// TestPipelineStoreRoundTrip runs records through a pipeline, saves the
// result and reads it back through the API the report stage uses.
func TestPipelineStoreRoundTrip(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) { roundTrip(t, st) })
	}
}

func roundTrip(t *testing.T, st *store.Store) {
	ctx := context.Background()
	day1 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	obs := &fixedObserver{alerts: []flow.Alert{
		{Detector: "scanning", Device: addr("192.168.1.10"), Time: day1, Reason: "r"},
		{Detector: "c2-beaconing", Device: addr("192.168.1.10"), Peer: addr("1.1.1.1"), Time: day1.Add(time.Hour), Reason: "r"},
		{Detector: "scanning", Device: addr("192.168.1.11"), Time: day1.Add(25 * time.Hour), Reason: "r"},
		{Detector: "brute-force", Device: addr("45.1.1.1"), Peer: addr("192.168.1.12"), Inbound: true, Time: day1, Reason: "r"},
	}}
	at, _ := geo.New("")
	p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{obs}, BatchSize: 3, Attribute: at.Attribute})
	for i := range 10 {
		p.Flow(flow.Record{Start: day1.Add(time.Duration(i) * time.Minute), Src: addr("192.168.1.10"), Dst: addr("1.1.1.1"), DstPort: 443, SrcPort: uint16(40000 + i), Proto: flow.ProtoTCP, Packets: 10, Bytes: 1000, RevPackets: 5, RevBytes: 500})
	}
	p.Flow(flow.Record{Start: day1.Add(90 * time.Minute), Src: addr("192.168.1.10"), Dst: addr("8.8.8.8"), DstPort: 53, Proto: flow.ProtoUDP, Packets: 1, Bytes: 70})
	p.DNS(flow.DNSAnswer{Time: day1, Name: "one.one.one.one", Addr: addr("1.1.1.1")})
	res, err := p.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 1.1.1.1 (AU) in hour 10, 8.8.8.8 (US) in hour 11: two hourly roll-ups, two relations.
	if res.Counts[flow.CountRecords] != 11 || len(res.Rollups.Hourly) != 2 || res.Rollups.NumRelations() != 2 {
		t.Fatalf("counts %v, %d roll-ups, %d relations; want 11 records in 2 and 2", res.Counts, len(res.Rollups.Hourly), res.Rollups.NumRelations())
	}
	run := &model.Run{Kind: flow.RunKind}
	if err := st.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := flow.Save(ctx, st, run.ID, res); err != nil {
		t.Fatal(err)
	}
	days, err := flow.DailyCompromised(ctx, st, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []flow.DayCount{{Day: "2026-11-20", Devices: 1}, {Day: "2026-11-21", Devices: 1}}
	if len(days) != 2 || days[0] != want[0] || days[1] != want[1] {
		t.Errorf("DailyCompromised = %+v, want %+v (inbound attacker not counted)", days, want)
	}
	if days, _ := flow.DailyCompromised(ctx, st, day1.Add(24*time.Hour)); len(days) != 1 {
		t.Errorf("since day 2: %+v, want one day", days)
	}
	ds, err := flow.Destinations(ctx, st, addr("192.168.1.10"))
	if err != nil {
		t.Fatal(err)
	}
	// iploc places 1.1.1.1 (APNIC research prefix) in AU and 8.8.8.8 in US.
	if len(ds) != 2 || ds[0].Country != "AU" || ds[0].Bytes != 15000 || ds[0].Flows != 10 || ds[0].Peers != 1 || ds[1].Country != "US" || ds[1].Bytes != 70 || ds[0].CountryDB != geo.CountryDB {
		t.Errorf("Destinations = %+v, want AU 15000 bytes/10 flows then US 70 bytes, db %s", ds, geo.CountryDB)
	}
	if all, _ := flow.Destinations(ctx, st, netip.Addr{}); len(all) != 2 {
		t.Errorf("all destinations = %+v", all)
	}
	uses, err := flow.PeerUses(ctx, st, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, u := range uses {
		if u.Peer == addr("1.1.1.1") && len(u.Names) == 1 && u.Names[0] == "one.one.one.one" && u.Port == 443 && u.Outbound {
			named = true
		}
	}
	if !named {
		t.Errorf("PeerUses = %+v, want 1.1.1.1:443 named one.one.one.one", uses)
	}
	as, err := flow.Alerts(ctx, st, time.Time{})
	if err != nil || len(as) != 4 {
		t.Errorf("Alerts = %d (%v), want 4", len(as), err)
	}
}

// TestDropPolicy fills a tiny queue faster than the consumer can empty it
// and checks that every record is either accepted and processed or counted
// as dropped.
func TestDropPolicy(t *testing.T) {
	block := make(chan struct{})
	slow := &blockingObserver{release: block}
	p := flow.NewPipeline(flow.PipelineConfig{Observers: []flow.Observer{slow}, Policy: flow.Drop, BatchSize: 10, Queue: 2})
	const n = 1000
	for i := range n {
		p.Flow(flow.Record{Start: time.Unix(int64(i), 0), Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Packets: 1})
	}
	close(block)
	res, err := p.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	acc, drop := res.Counts[flow.CountRecords], res.Counts[flow.CountDropped]
	if acc+drop != n || drop == 0 || int64(slow.seen) != acc {
		t.Errorf("accepted %d + dropped %d != %d, or observer saw %d", acc, drop, n, slow.seen)
	}
}

type blockingObserver struct {
	release chan struct{}
	seen    int
}

func (b *blockingObserver) Observe(*flow.Record, flow.Orientation) {
	<-b.release
	b.seen++
}
func (b *blockingObserver) ObserveDNS(flow.DNSAnswer) {}
func (b *blockingObserver) Alerts() []flow.Alert      { return nil }

func BenchmarkPipeline(b *testing.B) {
	recs := make([]flow.Record, 1<<14)
	for i := range recs {
		recs[i] = flow.Record{Start: time.Unix(1700000000+int64(i), 0), Src: netip.AddrFrom4([4]byte{192, 168, byte(i >> 8 & 3), byte(i)}),
			Dst: netip.AddrFrom4([4]byte{93, 184, 216, byte(i % 50)}), DstPort: 443, Proto: flow.ProtoTCP, Packets: 10, Bytes: 5000}
	}
	b.ReportAllocs()
	p := flow.NewPipeline(flow.PipelineConfig{})
	i := 0
	for b.Loop() {
		p.Flow(recs[i&(len(recs)-1)])
		i++
	}
	if _, err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// TestStateStore: a stream's state is saved, replaced and loaded on both
// stores; an unknown stream has none.
func TestStateStore(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			run := &model.Run{Kind: flow.RunKind}
			if err := st.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if d, _, err := flow.LoadState(ctx, st, "edge"); err != nil || d != nil {
				t.Fatalf("unknown stream: %q, %v", d, err)
			}
			for _, data := range [][]byte{[]byte("first\x00state"), {0xff, 0x00, 0x01}} {
				if err := flow.SaveState(ctx, st, "edge", run.ID, data); err != nil {
					t.Fatal(err)
				}
				got, rid, err := flow.LoadState(ctx, st, "edge")
				if err != nil || !bytes.Equal(got, data) || rid != run.ID {
					t.Fatalf("LoadState = %q, %d, %v; want %q, %d", got, rid, err, data, run.ID)
				}
			}
			if d, _, err := flow.LoadState(ctx, st, "other"); err != nil || d != nil {
				t.Fatalf("other stream: %q, %v", d, err)
			}
		})
	}
}

// TestSpilledRelationsStored stores the same records through a pipeline that
// keeps every relation in memory and through one that spills most of them
// (ActiveRelations 32): the relations read back are the same, on each store.
func TestSpilledRelationsStored(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var recs []flow.Record
	for i := range 3000 {
		dev := netip.AddrFrom4([4]byte{192, 168, 1, byte(1 + i%5)})
		peer := netip.AddrFrom4([4]byte{198, 51, 100, byte(i * 7 % 250)})
		if i%3 == 0 {
			peer = addr("203.0.113.9") // seen all along
		}
		recs = append(recs, flow.Record{Start: t0.Add(time.Duration(i) * 3 * time.Second), Src: dev, Dst: peer, SrcPort: uint16(40000 + i%1000),
			DstPort: uint16(443 + i%2), Proto: flow.ProtoTCP, Packets: uint64(1 + i%4), Bytes: uint64(100 + i%50), RevPackets: 1, RevBytes: 60})
	}
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var counts [2]flow.Counts
			for i, active := range []int{-1, 32} {
				p := flow.NewPipeline(flow.PipelineConfig{ActiveRelations: active, SpillDir: t.TempDir(), BatchSize: 64})
				for _, r := range recs {
					p.Flow(r)
				}
				res, err := p.Close(ctx)
				if err != nil {
					t.Fatal(err)
				}
				run := &model.Run{Kind: flow.RunKind}
				if err := st.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				if err := flow.Save(ctx, st, run.ID, res); err != nil {
					t.Fatal(err)
				}
				counts[i] = res.Counts
			}
			if counts[1][flow.CountSpilled] == 0 || counts[0][flow.CountSpilled] != 0 {
				t.Fatalf("spilled %d and %d records, want 0 then some", counts[0][flow.CountSpilled], counts[1][flow.CountSpilled])
			}
			n := counts[0][flow.CountRelations]
			if counts[1][flow.CountRelations] != n || n < 200 {
				t.Fatalf("relations %d in memory, %d spilled", n, counts[1][flow.CountRelations])
			}
			// Each relation is stored by both runs, the same.
			all, err := flow.PeerUses(ctx, st, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			byKey := map[string][]flow.PeerUse{}
			for _, u := range all {
				k := netip.AddrPortFrom(u.Device, 0).String() + " " + netip.AddrPortFrom(u.Peer, u.Port).String()
				byKey[k] = append(byKey[k], u)
			}
			if len(all) != int(2*n) || len(byKey) != int(n) {
				t.Fatalf("read back %d relations under %d keys, want %d under %d", len(all), len(byKey), 2*n, n)
			}
			for k, us := range byKey {
				a, b := us[0], us[1]
				if len(us) != 2 || a.Flows != b.Flows || a.Packets != b.Packets || a.Bytes != b.Bytes || !a.First.Equal(b.First) || !a.Last.Equal(b.Last) || a.Outbound != b.Outbound {
					t.Fatalf("%s: stored %+v", k, us)
				}
			}
		})
	}
}
