package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/fsutil"
	"iotwatch/internal/simulate"
	"iotwatch/internal/stage"
	"iotwatch/internal/store"
)

// The telemetry stage: the fourth headline number of a CERT assessment,
// devices under unauthorized remote control per day, comes from traffic,
// not from scans. The demo writes one synthetic capture of the fleet's day
// (it sends nothing: the packets only exist in the file): every device's
// ordinary traffic to its maker's cloud, DNS and NTP, and for a share of the
// devices with weak credentials (the ones botnets recruit) one botnet
// behaviour each: Mirai-style telnet scanning, C2 beaconing or a UDP flood.
// The capture is ingested like any other (internal/flow/ingest), and the
// detections are compared with the ground truth in telemetry.json.

// TelemetryTruth is the ground truth of the synthetic capture.
type TelemetryTruth struct {
	Capture     string            `json:"capture"`
	Day         string            `json:"day"`
	Devices     int               `json:"devices"`
	Compromised map[string]string `json:"compromised"` // device → behaviour
}

const (
	behaviourScan   = "mirai-scan"
	behaviourBeacon = "c2-beacon"
	behaviourFlood  = "udp-flood"
)

// telemetry writes the capture and its truth into dir, ingests it into st
// and returns the truth and the ingest's summary.
func telemetry(ctx context.Context, st *store.Store, truth simulate.Truth, share float64, seed int64, dir string) (*TelemetryTruth, *ingest.Summary, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7e1e))
	var devs, weak []netip.Addr
	for _, d := range truth.Devices {
		a, err := netip.ParseAddr(d.IP)
		if err != nil {
			continue
		}
		devs = append(devs, a)
		if d.Weak {
			weak = append(weak, a)
		}
	}
	n := min(int(share*float64(len(devs))+0.5), len(weak))
	rng.Shuffle(len(weak), func(i, j int) { weak[i], weak[j] = weak[j], weak[i] })
	bad := weak[:n]
	slices.SortFunc(bad, netip.Addr.Compare)

	// The day of the capture: today (UTC), from 10:00.
	day := time.Now().UTC().Truncate(24 * time.Hour)
	shift := day.Add(10 * time.Hour).Sub(synth.Base)
	tt := &TelemetryTruth{Capture: filepath.Join(dir, "telemetry.pcap"), Day: day.Format(time.DateOnly), Devices: len(devs), Compromised: map[string]string{}}
	var pkts []synth.Packet
	for _, d := range devs {
		pkts = append(pkts, ordinaryDay(rng, d)...)
	}
	c2 := netip.MustParseAddr("203.0.113.66")      // documentation range: never a real host
	victim := netip.MustParseAddr("198.51.100.80") // likewise
	for i, d := range bad {
		switch i % 3 {
		case 0:
			pkts = append(pkts, synth.MiraiScan(rng, d, 120, 2*time.Minute)...)
			tt.Compromised[d.String()] = behaviourScan
		case 1:
			pkts = append(pkts, synth.Beacon(rng, d, c2, 8443, 2*time.Minute, 0.15, 30)...)
			tt.Compromised[d.String()] = behaviourBeacon
		case 2:
			pkts = append(pkts, synth.DDoS(d, victim, 100, time.Minute)...)
			tt.Compromised[d.String()] = behaviourFlood
		}
	}
	for i := range pkts {
		pkts[i].Time = pkts[i].Time.Add(shift)
	}
	slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
	if err := fsutil.WriteFileAtomic(tt.Capture, 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := synth.WritePCAP(w, pkts); err != nil {
			return err
		}
		return w.Flush()
	}); err != nil {
		return nil, nil, fmt.Errorf("telemetry capture: %w", err)
	}
	pkts = nil
	tj, _ := json.MarshalIndent(tt, "", "  ")
	if err := fsutil.WriteFileAtomicBytes(filepath.Join(dir, "telemetry.json"), 0o644, tj); err != nil {
		return nil, nil, err
	}
	sum, err := stage.Flows(ctx, st, []ingest.Source{{Kind: ingest.PCAP, Path: tt.Capture}}, ingest.Options{})
	if err != nil {
		return tt, sum, fmt.Errorf("ingest telemetry: %w", err)
	}
	if sum.Counts["inputs_skipped"] > 0 {
		// The same capture was ingested by an earlier demo into this
		// database: its alerts are the stored ones, counted once.
		stored, err := flow.Alerts(ctx, st, day)
		if err != nil {
			return tt, sum, err
		}
		for _, a := range stored {
			sum.Alerts = append(sum.Alerts, a.Alert)
		}
	}
	return tt, sum, nil
}

// ordinaryDay is a device's benign traffic: DNS answers for its maker's
// cloud, a dozen HTTPS exchanges at irregular times, NTP.
func ordinaryDay(rng *rand.Rand, dev netip.Addr) []synth.Packet {
	resolver := netip.MustParseAddr("192.168.1.1")
	api, cdn, ntp := netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("151.101.1.69"), netip.MustParseAddr("129.6.15.28")
	t := synth.Base.Add(time.Duration(rng.IntN(600)) * time.Second)
	out := []synth.Packet{
		synth.DNSAnswerPacket(t, resolver, dev, "api.vendor.example", api),
		synth.DNSAnswerPacket(t.Add(time.Second), resolver, dev, "cdn.vendor.example", cdn),
	}
	for i := range 12 {
		t = t.Add(time.Duration(5+rng.IntN(600)) * time.Second)
		peer := api
		if rng.IntN(3) == 0 {
			peer = cdn
		}
		out = append(out, synth.Conn(t, dev, peer, uint16(41000+i), 443, make([]byte, 200+rng.IntN(800)), make([]byte, 300+rng.IntN(2000)))...)
	}
	for i := range 3 {
		out = append(out, synth.Packet{Time: synth.Base.Add(time.Duration(i*1024) * time.Second), Src: dev, Dst: ntp, SrcPort: 123, DstPort: 123, Proto: flow.ProtoUDP, Payload: make([]byte, 48)})
	}
	return out
}
