// Command flowbench generates NetFlow v9 export traffic for the flows
// benchmark (bench/flows/flows.sh): N records from D devices, written as a
// capture of exporter datagrams (for `iotwatch flows ingest --netflow-pcap`)
// and, with -send, sent to a collector (nfcapd) on loopback so that nfdump
// reads the very same records. Traffic goes to 127.0.0.1 only.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const (
	templateID = 256
	recLen     = 4 + 4 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4 // see fields
	perPacket  = 40
)

// NetFlow v9 field types of the template.
var fields = [][2]uint16{
	{8, 4},  // IPV4_SRC_ADDR
	{12, 4}, // IPV4_DST_ADDR
	{7, 2},  // L4_SRC_PORT
	{11, 2}, // L4_DST_PORT
	{4, 1},  // PROTOCOL
	{6, 1},  // TCP_FLAGS
	{2, 4},  // IN_PKTS
	{1, 4},  // IN_BYTES
	{22, 4}, // FIRST_SWITCHED
	{21, 4}, // LAST_SWITCHED
}

func main() {
	n := flag.Int("n", 5_000_000, "records")
	devices := flag.Int("devices", 20000, "devices (10.x.y.z)")
	out := flag.String("pcap", "flows-v9.pcap", "capture of the export datagrams")
	send := flag.String("send", "", "also send the datagrams to this loopback collector (host:port)")
	pps := flag.Int("pps", 20000, "datagrams per second when sending")
	flag.Parse()

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		log.Fatal(err)
	}
	var conn net.Conn
	if *send != "" {
		host, _, err := net.SplitHostPort(*send)
		if err != nil || (host != "127.0.0.1" && host != "::1" && host != "localhost") {
			log.Fatalf("-send must be a loopback address, got %q", *send)
		}
		if conn, err = net.Dial("udp", *send); err != nil {
			log.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(42, 42))
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	const uptime0 = 1_000_000 // ms
	seq := uint32(0)
	written := 0
	interval := time.Second / time.Duration(max(*pps, 1))
	next := time.Now()
	buf := gopacket.NewSerializeBuffer()
	for written < *n {
		k := min(perPacket, *n-written)
		// Records span one day: exporter time advances with the records.
		// (float: written × 24 h in nanoseconds overflows int64 past ~106,000 records)
		now := start.Add(time.Duration(float64(written) / float64(*n) * float64(24*time.Hour)))
		uptime := uint32(uptime0 + now.Sub(start).Milliseconds())
		p := make([]byte, 0, 20+4+4+len(fields)*4+4+k*recLen+4)
		p = binary.BigEndian.AppendUint16(p, 9)
		count := uint16(k)
		withTemplate := seq%20 == 0
		if withTemplate {
			count++
		}
		p = binary.BigEndian.AppendUint16(p, count)
		p = binary.BigEndian.AppendUint32(p, uptime)
		p = binary.BigEndian.AppendUint32(p, uint32(now.Unix()))
		p = binary.BigEndian.AppendUint32(p, seq)
		p = binary.BigEndian.AppendUint32(p, 1) // source id
		if withTemplate {
			p = binary.BigEndian.AppendUint16(p, 0)
			p = binary.BigEndian.AppendUint16(p, uint16(4+4+len(fields)*4))
			p = binary.BigEndian.AppendUint16(p, templateID)
			p = binary.BigEndian.AppendUint16(p, uint16(len(fields)))
			for _, fl := range fields {
				p = binary.BigEndian.AppendUint16(p, fl[0])
				p = binary.BigEndian.AppendUint16(p, fl[1])
			}
		}
		setLen := 4 + k*recLen
		pad := (4 - setLen%4) % 4
		p = binary.BigEndian.AppendUint16(p, templateID)
		p = binary.BigEndian.AppendUint16(p, uint16(setLen+pad))
		for range k {
			dev := rng.IntN(*devices)
			src := [4]byte{10, byte(dev >> 16), byte(dev >> 8), byte(dev)}
			var dst [4]byte
			var dport uint16
			var proto, flags uint8 = 6, 0x1b
			// An IoT device talks to its vendor's few cloud endpoints, DNS
			// and NTP; a small long tail goes anywhere.
			vendor := dev % 50
			switch r := rng.IntN(100); {
			case r < 70:
				h := vendor*4 + rng.IntN(4)
				dst, dport = [4]byte{52, 10, byte(h >> 8), byte(h)}, 443
				if h%3 == 0 {
					dport = 8883
				}
			case r < 85:
				dst, dport, proto, flags = [4]byte{8, 8, byte(rng.IntN(2)) * 4, 8}, 53, 17, 0
			case r < 95:
				dst, dport, proto, flags = [4]byte{129, 6, 15, 28}, 123, 17, 0
			default:
				dst, dport = [4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}, uint16(1+rng.IntN(65000))
			}
			p = append(p, src[:]...)
			p = append(p, dst[:]...)
			p = binary.BigEndian.AppendUint16(p, uint16(1024+rng.IntN(60000)))
			p = binary.BigEndian.AppendUint16(p, dport)
			p = append(p, proto, flags)
			pk := uint32(1 + rng.IntN(50))
			p = binary.BigEndian.AppendUint32(p, pk)
			p = binary.BigEndian.AppendUint32(p, pk*uint32(60+rng.IntN(1200)))
			p = binary.BigEndian.AppendUint32(p, uptime-uint32(rng.IntN(5000)))
			p = binary.BigEndian.AppendUint32(p, uptime)
		}
		p = append(p, make([]byte, pad)...)
		written += k
		seq++

		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1), Protocol: layers.IPProtocolUDP}
		udp := &layers.UDP{SrcPort: 40000, DstPort: 9995}
		_ = udp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, udp, gopacket.Payload(p)); err != nil {
			log.Fatal(err)
		}
		b := buf.Bytes()
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			log.Fatal(err)
		}
		if conn != nil {
			if _, err := conn.Write(p); err != nil {
				log.Fatal(err)
			}
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		log.Fatal(err)
	}
	f.Close()
	fmt.Printf("records=%d datagrams=%d pcap=%s\n", written, seq, *out)
}
