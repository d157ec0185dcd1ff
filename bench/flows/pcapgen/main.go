// Command pcapgen writes a synthetic capture of single-packet TCP flows (a
// SYN each, from DEVICES private addresses to random public ones, evenly
// over SPAN) for timing `flows ingest --pcap` against nfdump's nfpcapd
// (bench/flows/pcap.sh). The capture is synth.WriteSYNs's.
//
//	pcapgen -n 1000000 -devices 10000 -span 1h > flows.pcap
package main

import (
	"flag"
	"log"
	"os"
	"time"

	"iotwatch/internal/flow/synth"
)

func main() {
	n := flag.Int("n", 1000000, "flows (one SYN packet each)")
	devices := flag.Int("devices", 10000, "source devices (10.0.0.0/8)")
	span := flag.Duration("span", time.Hour, "time the capture spans")
	flag.Parse()
	if err := synth.WriteSYNs(os.Stdout, *n, *devices, *span); err != nil {
		log.Fatal(err)
	}
}
