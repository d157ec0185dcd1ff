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
// not from scans. The demo writes a synthetic capture of each simulated day
// of the fleet (it sends nothing: the packets only exist in the files):
// every device's ordinary traffic to its maker's cloud, DNS and NTP, and
// for the devices a botnet holds that day one botnet behaviour each:
// Mirai-style telnet scanning, C2 beaconing or a UDP flood. The botnet
// recruits among the devices with weak credentials, a few more each day,
// until it holds the --compromised share on the last day; a unit that
// installs a firmware update reboots, which clears the memory-resident bot,
// and is not recruited again. Each capture is ingested like any other
// (internal/flow/ingest), and the detections are compared with the ground
// truth in telemetry.json.

// TelemetryTruth is the ground truth of the synthetic captures.
type TelemetryTruth struct {
	Devices int `json:"devices"`
	// Day is today's, the last of Days.
	Day string `json:"day"`
	// Days are the captures, one a simulated day, oldest first.
	Days []TelemetryDay `json:"days"`
	// Compromised are the devices under control on any day, with their
	// behaviour.
	Compromised map[string]string `json:"compromised"`
}

// TelemetryDay is one simulated day's capture and the devices under
// control in it.
type TelemetryDay struct {
	Day         string   `json:"day"` // YYYY-MM-DD
	Capture     string   `json:"capture"`
	Compromised []string `json:"compromised"`
}

const (
	behaviourScan   = "mirai-scan"
	behaviourBeacon = "c2-beacon"
	behaviourFlood  = "udp-flood"
)

// telemetry writes a capture for each of days (the simulated days, oldest
// first) and their truth into dir, ingests them into st and returns the
// truth, the devices the detectors found under control on each day, and
// the flow records read; it appends the id of each day's flows run to runs
// (their alerts are evidence the assessment and the report cover).
func telemetry(ctx context.Context, st *store.Store, truth *simulate.Truth, share float64, seed int64, dir string, days []time.Time, runs *[]int64) (*TelemetryTruth, []map[string]bool, int64, error) {
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
	bad := weak[:n] // in the order the botnet recruits them
	// recruited[k] is the day bad[k] is recruited: by day d the botnet has
	// recruited (d+1)/days of its members.
	recruited := make([]int, n)
	for k := range bad {
		for d := range days {
			if k < n*(d+1)/len(days) {
				recruited[k] = d
				break
			}
		}
	}
	tt := &TelemetryTruth{Devices: len(devs), Compromised: map[string]string{}}
	c2 := netip.MustParseAddr("203.0.113.66")      // documentation range: never a real host
	victim := netip.MustParseAddr("198.51.100.80") // likewise
	var detected []map[string]bool
	var records int64
	for d, at := range days {
		day := at.UTC().Truncate(24 * time.Hour)
		td := TelemetryDay{Day: day.Format(time.DateOnly), Capture: filepath.Join(dir, fmt.Sprintf("telemetry-day%d.pcap", d)), Compromised: []string{}}
		var pkts []synth.Packet
		for _, a := range devs {
			pkts = append(pkts, ordinaryDay(rng, a)...)
		}
		for k, a := range bad {
			if recruited[k] > d {
				continue
			}
			// An update installed since recruitment rebooted the unit.
			then, _ := truth.FirmwareOn(a.String(), recruited[k])
			now, _ := truth.FirmwareOn(a.String(), d)
			if then != now {
				continue
			}
			switch k % 3 {
			case 0:
				pkts = append(pkts, synth.MiraiScan(rng, a, 120, 2*time.Minute)...)
				tt.Compromised[a.String()] = behaviourScan
			case 1:
				pkts = append(pkts, synth.Beacon(rng, a, c2, 8443, 2*time.Minute, 0.15, 30)...)
				tt.Compromised[a.String()] = behaviourBeacon
			case 2:
				pkts = append(pkts, synth.DDoS(a, victim, 100, time.Minute)...)
				tt.Compromised[a.String()] = behaviourFlood
			}
			td.Compromised = append(td.Compromised, a.String())
		}
		slices.SortFunc(td.Compromised, func(a, b string) int {
			return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
		})
		tt.Days, tt.Day = append(tt.Days, td), td.Day
		found, nrec, err := ingestDay(ctx, st, td, day, pkts, runs)
		if err != nil {
			return tt, detected, records, err
		}
		detected = append(detected, found)
		records += nrec
	}
	tj, _ := json.MarshalIndent(tt, "", "  ")
	if err := fsutil.WriteFileAtomicBytes(filepath.Join(dir, "telemetry.json"), 0o644, tj); err != nil {
		return tt, detected, records, err
	}
	return tt, detected, records, nil
}

// ingestDay writes one day's packets (synth times, moved to 10:00 that
// day) as td's capture, ingests it and returns the devices with an
// outbound alert that day and the records read.
func ingestDay(ctx context.Context, st *store.Store, td TelemetryDay, day time.Time, pkts []synth.Packet, runs *[]int64) (map[string]bool, int64, error) {
	shift := day.Add(10 * time.Hour).Sub(synth.Base)
	for i := range pkts {
		pkts[i].Time = pkts[i].Time.Add(shift)
	}
	slices.SortStableFunc(pkts, func(a, b synth.Packet) int { return a.Time.Compare(b.Time) })
	if err := fsutil.WriteFileAtomic(td.Capture, 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := synth.WritePCAP(w, pkts); err != nil {
			return err
		}
		return w.Flush()
	}); err != nil {
		return nil, 0, fmt.Errorf("telemetry capture: %w", err)
	}
	sum, err := stage.Flows(ctx, st, []ingest.Source{{Kind: ingest.PCAP, Path: td.Capture}}, ingest.Options{})
	if err != nil {
		return nil, 0, fmt.Errorf("ingest telemetry: %w", err)
	}
	*runs = append(*runs, sum.RunID)
	alerts := sum.Alerts
	if sum.Counts["inputs_skipped"] > 0 {
		// The same capture was ingested by an earlier demo into this
		// database: its alerts are the stored ones, counted once, and the
		// runs that hold them are the day's flows evidence for the
		// assessment and the report (the new run holds none).
		stored, err := flow.Alerts(ctx, st, day)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range stored {
			if a.Day != td.Day {
				continue
			}
			alerts = append(alerts, a.Alert)
			if !slices.Contains(*runs, a.RunID) {
				*runs = append(*runs, a.RunID)
			}
		}
	}
	found := map[string]bool{}
	for _, a := range alerts {
		if !a.Inbound && a.Day() == td.Day {
			found[a.Device.String()] = true
		}
	}
	return found, sum.Counts["records"], nil
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
