package ingest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/testpeer"
)

// TestCollectorAlertsBounded feeds one collector twelve simulated days of
// an exporter's traffic (softflowd replaying a capture in which two new
// devices a day scan like Mirai or flood a target) with its summary bound
// lowered to 5 alerts: every alert is stored as its interval is, the
// summary counts them all but holds only the newest 5, and its list does
// not grow with the days.
func TestCollectorAlertsBounded(t *testing.T) {
	const days, bound = 12, 5
	rng := rand.New(rand.NewPCG(15, 12))
	var pkts []synth.Packet
	for d := range days {
		var day []synth.Packet
		day = append(day, synth.MiraiScan(rng, synth.Addr(fmt.Sprintf("192.168.7.%d", 10+2*d)), 200, time.Minute)...)
		day = append(day, synth.DDoS(synth.Addr(fmt.Sprintf("192.168.7.%d", 11+2*d)), synth.Addr("198.51.100.80"), 800, 10*time.Second)...)
		for i := range day {
			day[i].Time = day[i].Time.Add(time.Duration(d-days) * 24 * time.Hour)
		}
		pkts = append(pkts, day...)
	}
	slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
	var buf bytes.Buffer
	if err := synth.WritePCAP(&buf, pkts); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(t.TempDir(), "days.pcap")
	if err := os.WriteFile(capture, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { summaryAlerts = n }(summaryAlerts)
	summaryAlerts = bound

	for name, dsn := range testpeer.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := openAt(t, dsn())
			c := startCollector(t, st, 100*time.Millisecond)
			exported := testpeer.Softflowd(t, capture, c.addr, "9")
			deadline := time.Now().Add(15 * time.Second)
			for storedRecords(t, st) < int64(exported) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			sum := c.stop(t)

			stored, err := flow.Alerts(ctx, st, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			daily, err := flow.DailyCompromised(ctx, st, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(daily) != days || len(stored) < 2*days {
				t.Fatalf("%d days with devices under control, %d alerts stored; want %d days, two devices a day", len(daily), len(stored), days)
			}
			t.Logf("%d days: %d alerts stored, summary holds %d (capacity %d)", len(daily), len(stored), len(sum.Alerts), cap(sum.Alerts))
			if sum.Counts[flow.CountAlerts] != int64(len(stored)) {
				t.Errorf("summary counts %d alerts, %d stored", sum.Counts[flow.CountAlerts], len(stored))
			}
			if len(sum.Alerts) != bound || cap(sum.Alerts) > 2*bound {
				t.Errorf("summary holds %d alerts (capacity %d) after %d days, want the newest %d", len(sum.Alerts), cap(sum.Alerts), days, bound)
			}
			last := daily[len(daily)-1].Day
			if !slices.ContainsFunc(sum.Alerts, func(a flow.Alert) bool { return a.Day() == last }) {
				t.Errorf("summary alerts %v: none of the last day %s", sum.Alerts, last)
			}
		})
	}
}
