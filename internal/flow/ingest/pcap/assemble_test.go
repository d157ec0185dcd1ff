package pcap

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/synth"
)

// as6 maps the IPv4 test addresses to IPv6 ones.
var as6 = map[netip.Addr]netip.Addr{
	synth.Addr("10.0.0.7"):     synth.Addr("fd00::7"),
	synth.Addr("198.51.100.9"): synth.Addr("2001:db8::9"),
}

// writePCAP6 writes TCP packets as synth.WritePCAP does, over IPv6 (the
// addresses mapped by as6): 60 bytes of IP packet each.
func writePCAP6(w io.Writer, pkts []synth.Packet) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	buf := gopacket.NewSerializeBuffer()
	for _, p := range pkts {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: as6[p.Src].AsSlice(), DstIP: as6[p.Dst].AsSlice()}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(p.SrcPort), DstPort: layers.TCPPort(p.DstPort), Window: 1024, Seq: 1,
			SYN: bytes.ContainsRune([]byte(p.Flags), 'S'), ACK: bytes.ContainsRune([]byte(p.Flags), 'A'), FIN: bytes.ContainsRune([]byte(p.Flags), 'F'),
			RST: bytes.ContainsRune([]byte(p.Flags), 'R'), PSH: bytes.ContainsRune([]byte(p.Flags), 'P')}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			return err
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
			return err
		}
		b := buf.Bytes()
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			return err
		}
	}
	return nil
}

// TestAssembly checks how packets become flows: which side opened the flow
// (whatever packet of it the capture starts with), the counters of each
// direction, and the ends by FIN, RST, idle and active timeouts; over IPv4
// and IPv6 (the assembler keys them differently).
func TestAssembly(t *testing.T) {
	checkingHints(t)
	dev, srv := synth.Addr("10.0.0.7"), synth.Addr("198.51.100.9")
	at := func(s float64) time.Time { return synth.Base.Add(time.Duration(s * float64(time.Second))) }
	out := func(s float64, fl string) synth.Packet {
		return synth.Packet{Time: at(s), Src: dev, Dst: srv, SrcPort: 40000, DstPort: 443, Proto: flow.ProtoTCP, Flags: fl}
	}
	in := func(s float64, fl string) synth.Packet {
		return synth.Packet{Time: at(s), Src: srv, Dst: dev, SrcPort: 443, DstPort: 40000, Proto: flow.ProtoTCP, Flags: fl}
	}
	type want struct {
		src        string
		pk, rev    uint64
		start, end float64
		flags      uint8
	}
	for _, tc := range []struct {
		name string
		pkts []synth.Packet
		want []want
	}{
		{"handshake and FINs", []synth.Packet{out(0, "S"), in(0.1, "SA"), out(0.2, "A"), out(1, "FA"), in(1.1, "FA")},
			[]want{{"10.0.0.7", 3, 2, 0, 1.1, 0x13}}},
		{"capture starts at the SYN-ACK", []synth.Packet{in(0, "SA"), out(0.1, "A"), in(0.2, "PA")},
			[]want{{"10.0.0.7", 1, 2, 0, 0.2, 0x1a}}},
		{"capture starts mid-flow from the server", []synth.Packet{in(0, "PA"), out(0.1, "A")},
			[]want{{"198.51.100.9", 1, 1, 0, 0.1, 0x18}}},
		{"RST ends the flow, the next SYN opens another", []synth.Packet{out(0, "S"), in(0.1, "R"), out(5, "S")},
			[]want{{"10.0.0.7", 1, 1, 0, 0.1, 0x06}, {"10.0.0.7", 1, 0, 5, 5, 0x02}}},
		{"idle timeout splits", []synth.Packet{out(0, "S"), out(30, "A"), out(100, "A")},
			[]want{{"10.0.0.7", 2, 0, 0, 30, 0x12}, {"10.0.0.7", 1, 0, 100, 100, 0x10}}},
		{"active timeout splits", func() []synth.Packet {
			var p []synth.Packet
			for s := 0.0; s <= 1900; s += 50 {
				p = append(p, out(s, "A"))
			}
			return p
		}(), []want{{"10.0.0.7", 37, 0, 0, 1800, 0x10}, {"10.0.0.7", 2, 0, 1850, 1900, 0x10}}},
	} {
		for _, fam := range []struct {
			name  string
			write func(io.Writer, []synth.Packet) error
			size  uint64 // bytes of IP packet
		}{{"IPv4", synth.WritePCAP, 40}, {"IPv6", writePCAP6, 60}} {
			t.Run(tc.name+"/"+fam.name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := fam.write(&buf, tc.pkts); err != nil {
					t.Fatal(err)
				}
				c := &synth.Collect{}
				st, err := Read(context.Background(), &buf, c, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Records) != len(tc.want) || st.Flows != int64(len(tc.want)) {
					t.Fatalf("%d flows (stats %d), want %d: %+v", len(c.Records), st.Flows, len(tc.want), c.Records)
				}
				for i, w := range tc.want {
					r := c.Records[i]
					if w6, ok := as6[synth.Addr(w.src)]; ok && fam.name == "IPv6" {
						w.src = w6.String()
					}
					got := want{r.Src.String(), r.Packets, r.RevPackets, r.Start.Sub(synth.Base).Seconds(), r.End.Sub(synth.Base).Seconds(), r.TCPFlags}
					if got != w {
						t.Errorf("flow %d = %+v, want %+v", i, got, w)
					}
					if r.Bytes != fam.size*r.Packets || r.RevBytes != fam.size*r.RevPackets {
						t.Errorf("flow %d bytes %d/%d for %d/%d packets of %d bytes", i, r.Bytes, r.RevBytes, r.Packets, r.RevPackets, fam.size)
					}
				}
			})
		}
	}
}

// TestClockGoingBack reads a capture whose clock goes back (two captures
// concatenated): a flow idle behind one seen "later" is still emitted when
// it is idle, not held until that one is.
func TestClockGoingBack(t *testing.T) {
	dev, srv := synth.Addr("10.0.0.7"), synth.Addr("198.51.100.9")
	syn := func(s int, port uint16) synth.Packet {
		return synth.Packet{Time: synth.Base.Add(time.Duration(s) * time.Second), Src: dev, Dst: srv, SrcPort: port, DstPort: 443, Proto: flow.ProtoTCP, Flags: "S"}
	}
	var first, second bytes.Buffer
	if err := synth.WritePCAP(&first, []synth.Packet{syn(0, 40000), syn(200, 40001)}); err != nil {
		t.Fatal(err)
	}
	if err := synth.WritePCAP(&second, []synth.Packet{syn(100, 40002), syn(230, 40003), syn(500, 40004)}); err != nil {
		t.Fatal(err)
	}
	capture := append(first.Bytes(), second.Bytes()[24:]...) // the second's packets after the first's
	c := &synth.Collect{}
	if _, err := Read(context.Background(), bytes.NewReader(capture), c, Options{}); err != nil {
		t.Fatal(err)
	}
	var ports []uint16
	for _, r := range c.Records {
		ports = append(ports, r.SrcPort)
	}
	// At 230 s the flow of 100 s is idle; the one of 200 s is not.
	if len(ports) != 5 || ports[0] != 40000 || ports[1] != 40002 {
		t.Fatalf("flows emitted from source ports %v, want 40000 then 40002 (idle at 230 s) first, 5 in all", ports)
	}
}
