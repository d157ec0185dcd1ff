// Command detect is the evaluation harness of the flow detectors
// (internal/flow/detect): it ingests labelled captures with default settings,
// exactly as `iotwatch flows ingest` does, and prints, per capture and
// detector, the devices flagged against the labels (true/false positives
// and negatives per device), precision and recall over all captures, and the
// daily count of devices under unauthorized control against the labels.
// Captures and their labels are listed in captures below and described,
// with source and licence, in README.md.
//
//	go run ./bench/detect [-data ../shared/data/flows/labelled] [-shared ../shared/data/flows] [-v]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/detect"
	"iotwatch/internal/flow/ingest"
	"iotwatch/internal/flow/synth"
	"iotwatch/internal/store"
)

// capture is one labelled input. Devices are the addresses of the monitored
// networks seen sending traffic; infected are those the labels name.
type capture struct {
	name     string
	kind     ingest.Kind
	path     string // under -data, or "shared:" under -shared, or "gen:" generated
	networks []string
	infected []string
	benign   bool // a benign capture: every alert is a false positive
}

var captures = []capture{
	{"CTU test-cc-1 (HTTPS C2 every 2–3 s)", ingest.PCAP, "test-cc_test-cc-capture-1.pcap", []string{"147.32.0.0/16"}, []string{"147.32.80.37"}, false},
	{"CTU test-cc-2 (HTTPS C2 every 3 s)", ingest.PCAP, "test-cc_test-cc-capture-2.pcap", []string{"147.32.0.0/16"}, []string{"147.32.80.37"}, false},
	{"CTU-SME-11 RemcosRAT (labelled)", ingest.Zeek, "test18-malicious-ctu-sme-11-win_conn.log.labeled", nil, []string{"192.168.1.107"}, false},
	{"Slips test7 malicious pcap", ingest.PCAP, "test7-malicious.pcap", nil, []string{"192.168.2.16"}, false},
	{"nmap port scans (zeek)", ingest.Zeek, "shared:zeek/portscan-nmap.conn.log", nil, []string{"172.16.1.11"}, false},
	{"nmap vertical scan (zeek)", ingest.Zeek, "port-scans_vertical_conn.log", nil, []string{"192.168.1.9"}, false},
	{"ssh brute force (pcap)", ingest.PCAP, "shared:ssh-bruteforce.pcap", []string{"147.32.0.0/16"}, []string{"147.32.80.40"}, false},
	{"IoT-23 34-1 Mirai: IRC C2 reconnecting in bursts", ingest.PCAP, "iot23-malware-34-1-mirai.irc.pcap", nil, []string{"192.168.1.195"}, false},
	{"IoT-23 42-1 Trojan (labelled): one long C2 connection", ingest.Zeek, "iot23-malware-42-1-trojan.conn.log.labeled", nil, []string{"192.168.1.197"}, false},
	{"IoT-23 honeypot 4-1 Philips Hue bridge (benign, pcap)", ingest.PCAP, "iot23-honeypot-4-1-philips-hue.pcap", nil, nil, true},
	{"IoT-23 honeypot 4-1 Philips Hue bridge (benign, labelled)", ingest.Zeek, "iot23-honeypot-4-1-philips-hue.conn.log.labeled", nil, nil, true},
	{"CTU-Normal-40 Windows host under attack (labelled)", ingest.Zeek, "shared:zeek/normal-mixed-ctu-normal-40-day1.conn.log.labeled", []string{"147.32.0.0/16"}, nil, true},
	{"generated: normal, beacons 2 s/60 s/1 h ±30%, Mirai, DDoS, Mozi DHT, IRC C2, hourly timer", ingest.PCAP, "gen:mixed", nil,
		[]string{"192.168.1.11", "192.168.1.12", "192.168.1.13", "192.168.1.14", "192.168.1.15", "192.168.1.16", "192.168.1.17"}, false},
}

var detectors = []string{detect.Scan, detect.Mirai, detect.P2P, detect.BruteForce, detect.Beacon, detect.DDoS, detect.LongConn, detect.KnownBad}

type tally struct{ tp, fp, fn int }

func main() {
	dataDir := flag.String("data", "../shared/data/flows/labelled", "directory of the labelled captures (copies of public captures; see README)")
	shared := flag.String("shared", "../shared/data/flows", "shared fixtures directory (flows)")
	verbose := flag.Bool("v", false, "print every alert")
	rates := flag.String("sample", "1", "packet sampling rates to emulate, comma-separated (1 = unsampled; e.g. 1,100,1000)")
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "detect-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range strings.Split(*rates, ",") {
		var rate uint32
		if _, err := fmt.Sscan(f, &rate); err != nil || rate == 0 {
			log.Fatalf("-sample %q: want positive integers", f)
		}
		if rate > 1 {
			fmt.Printf("\n== packet sampling 1:%d (flow.Sampler)\n\n", rate)
		}
		run(ctx, tmp, *dataDir, *shared, *verbose, rate)
	}
}

func run(ctx context.Context, tmp, dataDir, shared string, verbose bool, rate uint32) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "capture\tdetector\tTP\tFP\tFN\tflagged devices")
	total := map[string]*tally{}
	for _, d := range append(slices.Clone(detectors), "any") {
		total[d] = &tally{}
	}
	var days []string
	for i, c := range captures {
		path := filepath.Join(dataDir, c.path)
		switch {
		case strings.HasPrefix(c.path, "shared:"):
			path = filepath.Join(shared, strings.TrimPrefix(c.path, "shared:"))
		case strings.HasPrefix(c.path, "gen:"):
			path = filepath.Join(tmp, "generated.pcap")
			if err := writeGenerated(path); err != nil {
				log.Fatal(err)
			}
		}
		if _, err := os.Stat(path); err != nil {
			fmt.Fprintf(tw, "%s\t(missing: %v)\n", c.name, err)
			continue
		}
		st, err := store.Open(ctx, filepath.Join(tmp, fmt.Sprintf("c%d-%d.db", i, rate)))
		if err != nil {
			log.Fatal(err)
		}
		sum, err := ingest.Run(ctx, st, ingest.Source{Kind: c.kind, Path: path}, ingest.Options{Networks: c.networks, Sample: rate})
		if err != nil {
			log.Fatalf("%s: %v", c.name, err)
		}
		if verbose {
			for _, k := range []string{"beacons_heartbeat", "beacons_allowed", "beacons_declared"} {
				if n := sum.Counts[k]; n > 0 {
					fmt.Fprintf(os.Stderr, "%s: %s %d (not alerted)\n", c.name, k, n)
				}
			}
		}
		infected := map[netip.Addr]bool{}
		for _, s := range c.infected {
			infected[netip.MustParseAddr(s)] = true
		}
		flagged := map[string]map[netip.Addr]bool{"any": {}}
		for _, a := range sum.Alerts {
			if a.Inbound {
				continue
			}
			if flagged[a.Detector] == nil {
				flagged[a.Detector] = map[netip.Addr]bool{}
			}
			flagged[a.Detector][a.Device] = true
			flagged["any"][a.Device] = true
			if verbose {
				fmt.Fprintf(os.Stderr, "%s: %s %s→%s: %s\n", c.name, a.Detector, a.Device, a.Peer, a.Reason)
			}
		}
		for _, d := range append(slices.Clone(detectors), "any") {
			var t tally
			var devs []string
			for dev := range flagged[d] {
				devs = append(devs, dev.String())
				if infected[dev] {
					t.tp++
				} else {
					t.fp++
				}
			}
			if d == "any" {
				t.fn = len(infected) - t.tp
			}
			total[d].tp += t.tp
			total[d].fp += t.fp
			total[d].fn += t.fn
			if d != "any" && t.tp == 0 && t.fp == 0 {
				continue
			}
			slices.Sort(devs)
			fn := "-"
			if d == "any" {
				fn = fmt.Sprint(t.fn)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", c.name, d, t.tp, t.fp, fn, strings.Join(devs, " "))
		}
		dc, err := flow.DailyCompromised(ctx, st, time.Time{})
		if err != nil {
			log.Fatal(err)
		}
		var got []string
		for _, d := range dc {
			got = append(got, fmt.Sprintf("%s: %d", d.Day, d.Devices))
		}
		days = append(days, fmt.Sprintf("%s\t%d\t%s", c.name, len(c.infected), strings.Join(got, ", ")))
		st.Close()
	}
	tw.Flush()

	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "detector\tTP\tFP\tprecision\trecall (any: over infected devices)")
	for _, d := range append(slices.Clone(detectors), "any") {
		t := total[d]
		rec := "-"
		if d == "any" {
			rec = ratio(t.tp, t.tp+t.fn)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", d, t.tp, t.fp, ratio(t.tp, t.tp+t.fp), rec)
	}
	tw.Flush()

	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "capture\tinfected (labels)\tdevices under unauthorized control per day")
	for _, d := range days {
		fmt.Fprintln(tw, d)
	}
	tw.Flush()
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// writeGenerated writes the generated capture: a normal device (.10), C2
// beacons at 2 s, 60 s and 1 h with ±30% jitter and 10% missed beats (.11,
// .12, .13), Mirai-style telnet scanning (.14, 30,000 SYNs in 5 minutes) and
// a UDP flood (.15, 2,000 packets/s for 15 s) and a Mozi-style DHT overlay
// (.16, find_node to 600 nodes in 5 minutes), Mirai's IRC C2 held for
// hours with burst reconnects (.17), and a benign hourly device timer's
// check-ins to AWS (.18).
func writeGenerated(path string) error {
	rng := rand.New(rand.NewPCG(17, 17))
	c2 := synth.Addr("203.0.113.66")
	pkts := synth.Normal(rng, synth.Addr("192.168.1.10"))
	for i, p := range []struct {
		period time.Duration
		n      int
	}{{2 * time.Second, 80}, {time.Minute, 60}, {time.Hour, 30}} {
		dev := synth.Addr(fmt.Sprintf("192.168.1.%d", 11+i))
		pkts = append(pkts, synth.BeaconMissing(rng, dev, c2, 443, p.period, 0.3, p.n)...)
	}
	// Mirai's scanner at a modest 100 SYNs/s for 5 minutes (real bots send
	// hundreds per second): enough to be seen under 1:100 and 1:1000 sampling.
	pkts = append(pkts, synth.MiraiScan(rng, synth.Addr("192.168.1.14"), 30000, 5*time.Minute)...)
	pkts = append(pkts, synth.DDoS(synth.Addr("192.168.1.15"), synth.Addr("198.51.100.10"), 2000, 15*time.Second)...)
	pkts = append(pkts, synth.MoziDHT(rng, synth.Addr("192.168.1.16"), 600, 5*time.Minute)...)
	// Mirai's IRC control channel as in IoT-23 34-1: two sessions held 5 h
	// (a PING every 90 s ±10%), reconnect bursts for 10 minutes between.
	pkts = append(pkts, synth.IRCC2(rng, synth.Addr("192.168.1.17"), synth.Addr("185.244.25.235"), 6667, 2, 5*time.Hour, 90*time.Second, 0.1, 10*time.Minute)...)
	// A benign device timer: the same check-in on the hour to its cloud on
	// AWS, 26 times (as the Philips Hue bridge of IoT-23 4-1).
	pkts = append(pkts, synth.Beacon(rng, synth.Addr("192.168.1.18"), synth.Addr("52.209.221.67"), 80, time.Hour, 0, 26)...)
	var buf bytes.Buffer
	if err := synth.WritePCAP(&buf, pkts); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
