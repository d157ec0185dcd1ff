package detect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/flow"
)

// TestExpiryBounded runs a collector's pipeline over many days of traffic
// in which the devices change every day (new devices come, old ones go
// quiet), checkpointing every hour as `worker --collect` does. The engine
// that expires idle state holds about as much on the last day as on the
// third, while one that never expires grows every day, and both report the
// same detections.
func TestExpiryBounded(t *testing.T) {
	const days = 9
	day0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	id := flow.NewIdentity(nil)
	id.SetNetworks([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})

	type collector struct {
		eng    *Engine
		p      *flow.Pipeline
		alerts []string
		sizes  []int // state size at the end of each day
	}
	mk := func(idle time.Duration) *collector {
		e := New(DefaultRules(), nil)
		e.Idle = idle
		return &collector{eng: e, p: flow.NewPipeline(flow.PipelineConfig{Identity: id, Observers: []flow.Observer{e}, BatchSize: 64})}
	}
	expiring, forever := mk(0), mk(-1)
	both := []*collector{expiring, forever}
	take := func(c *collector, res *flow.Result) {
		for _, a := range res.Alerts {
			c.alerts = append(c.alerts, fmt.Sprintf("%s %s %s %s", a.Detector, a.Device, a.Peer, a.Day()))
		}
	}

	rng := rand.New(rand.NewPCG(7, 15))
	for d := range days {
		var recs []flow.Record
		var dns []flow.DNSAnswer
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		for dev := range 40 {
			src := netip.AddrFrom4([4]byte{10, 1, byte(d), byte(dev + 1)})
			// One-off connections to peers never seen again, with their names.
			for range 60 {
				peer := netip.AddrFrom4([4]byte{byte(20 + rng.IntN(150)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))})
				ts := start.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
				dns = append(dns, flow.DNSAnswer{Time: ts, Name: fmt.Sprintf("h%d.example.net", rng.IntN(1e6)), Addr: peer})
				recs = append(recs, flow.Record{Start: ts, End: ts.Add(3 * time.Second), Src: src, Dst: peer, Proto: flow.ProtoTCP,
					SrcPort: uint16(30000 + rng.IntN(30000)), DstPort: 443, TCPFlags: 0x1b, Packets: 12, Bytes: 4000, RevPackets: 10, RevBytes: 9000})
			}
			// A fifth of the devices beacon to their C2 every 20 minutes
			// (±25%, commands of varying size) on their day.
			if dev%5 == 0 {
				c2 := netip.AddrFrom4([4]byte{198, 51, 100, byte(d*8 + dev/5 + 1)}) // TEST-NET-2
				for b := range 70 {
					ts := start.Add(time.Duration(b)*20*time.Minute + time.Duration(rng.Int64N(int64(10*time.Minute))))
					recs = append(recs, flow.Record{Start: ts, End: ts.Add(time.Second), Src: src, Dst: c2, Proto: flow.ProtoTCP,
						SrcPort: uint16(40000 + b), DstPort: 8443, TCPFlags: 0x1b, Packets: 6, Bytes: uint64(300 + rng.IntN(900)), RevPackets: 5, RevBytes: 400})
				}
			}
		}
		// One device a day scans telnet.
		scanner := netip.AddrFrom4([4]byte{10, 1, byte(d), 7})
		for i := range 80 {
			ts := start.Add(13*time.Hour + time.Duration(i)*time.Second)
			recs = append(recs, flow.Record{Start: ts, End: ts, Src: scanner, Dst: netip.AddrFrom4([4]byte{100, 64, byte(d), byte(i + 1)}),
				Proto: flow.ProtoTCP, SrcPort: 50000, DstPort: 23, TCPFlags: 0x02, Packets: 1, Bytes: 60})
		}
		slices.SortFunc(recs, func(a, b flow.Record) int { return a.Start.Compare(b.Start) })
		slices.SortFunc(dns, func(a, b flow.DNSAnswer) int { return a.Time.Compare(b.Time) })

		// Hour by hour, then a checkpoint (the collector's flush).
		for h := range 24 {
			end := start.Add(time.Duration(h+1) * time.Hour)
			for _, c := range both {
				for _, a := range dns {
					if !a.Time.Before(end.Add(-time.Hour)) && a.Time.Before(end) {
						c.p.DNS(a)
					}
				}
				for _, r := range recs {
					if !r.Start.Before(end.Add(-time.Hour)) && r.Start.Before(end) {
						c.p.Flow(r)
					}
				}
				c.p.Flush()
				res, err := c.p.Checkpoint(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				take(c, res)
			}
		}
		for _, c := range both {
			c.sizes = append(c.sizes, c.eng.stateSize())
		}
	}
	for _, c := range both {
		res, err := c.p.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		take(c, res)
		slices.Sort(c.alerts)
	}

	count := func(det string) int {
		n := 0
		for _, a := range expiring.alerts {
			if len(a) > len(det) && a[:len(det)] == det {
				n++
			}
		}
		return n
	}
	// 8 beaconing devices and one telnet scanner a day.
	if b, s := count(Beacon), count(Scan); b != 8*days || s != days {
		t.Errorf("expiring engine: %d beacon and %d scan alerts, want %d and %d:\n%v", b, s, 8*days, days, expiring.alerts)
	}
	if !slices.Equal(expiring.alerts, forever.alerts) {
		t.Errorf("detections differ with expiry:\n%v\nwithout:\n%v", expiring.alerts, forever.alerts)
	}
	t.Logf("state by day: expiring %v, never %v", expiring.sizes, forever.sizes)
	last := expiring.sizes[days-1]
	if ref := expiring.sizes[2]; last > ref+ref/5 {
		t.Errorf("expiring engine's state grew from %d (day 3) to %d (day %d)", ref, last, days)
	}
	if never := forever.sizes[days-1]; never < 2*last {
		t.Errorf("engine without expiry holds %d on the last day, expiring %d: the test traffic does not make state grow", never, last)
	}
}
