// Package synth generates synthetic traffic for `iotwatch demo`'s telemetry
// stage and for the flow packages' tests and benchmarks: pcaps (written with gopacket) of Mirai-style scanning,
// jittered C2 beaconing, DDoS bursts, brute force and normal device traffic,
// and a collecting flow.Sink.
package synth

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"iotwatch/internal/flow"
)

// Collect is a flow.Sink that keeps everything.
type Collect struct {
	Records []flow.Record
	Answers []flow.DNSAnswer
}

// Flow implements flow.Sink.
func (c *Collect) Flow(r flow.Record) { c.Records = append(c.Records, r) }

// DNS implements flow.Sink.
func (c *Collect) DNS(a flow.DNSAnswer) { c.Answers = append(c.Answers, a) }

// Flush implements the collector's sink.
func (c *Collect) Flush() {}

// Packet is one packet to write.
type Packet struct {
	Time             time.Time
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Flags            string // TCP: any of "SAFRP"
	Seq              uint32 // TCP sequence number (0: 1)
	Payload          []byte
}

// Base is the start time of every scenario.
var Base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// WritePCAP writes packets (sorted by time) as an Ethernet pcap.
func WritePCAP(w io.Writer, pkts []Packet) error {
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].Time.Before(pkts[j].Time) })
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, p := range pkts {
		if err := buf.Clear(); err != nil {
			return err
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: p.Src.AsSlice(), DstIP: p.Dst.AsSlice(), Protocol: layers.IPProtocol(p.Proto)}
		var ls []gopacket.SerializableLayer
		switch p.Proto {
		case flow.ProtoTCP:
			tcp := &layers.TCP{SrcPort: layers.TCPPort(p.SrcPort), DstPort: layers.TCPPort(p.DstPort), Window: 1024, Seq: max(p.Seq, 1)}
			for _, f := range p.Flags {
				switch f {
				case 'S':
					tcp.SYN = true
				case 'A':
					tcp.ACK = true
				case 'F':
					tcp.FIN = true
				case 'R':
					tcp.RST = true
				case 'P':
					tcp.PSH = true
				}
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(p.Payload)}
		default:
			ip.Protocol = layers.IPProtocolUDP
			udp := &layers.UDP{SrcPort: layers.UDPPort(p.SrcPort), DstPort: layers.UDPPort(p.DstPort)}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload(p.Payload)}
		}
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			return err
		}
		b := buf.Bytes()
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			return err
		}
	}
	return nil
}

// Addr parses an address or panics (test data).
func Addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// conn appends a short TCP exchange: SYN, SYN-ACK, data both ways, FIN both ways.
func conn(out []Packet, t time.Time, c, s netip.Addr, cp, sp uint16, req, resp []byte) []Packet {
	ms := time.Millisecond
	return append(out,
		Packet{Time: t, Src: c, Dst: s, SrcPort: cp, DstPort: sp, Proto: flow.ProtoTCP, Flags: "S"},
		Packet{Time: t.Add(1 * ms), Src: s, Dst: c, SrcPort: sp, DstPort: cp, Proto: flow.ProtoTCP, Flags: "SA"},
		Packet{Time: t.Add(2 * ms), Src: c, Dst: s, SrcPort: cp, DstPort: sp, Proto: flow.ProtoTCP, Flags: "PA", Payload: req},
		Packet{Time: t.Add(3 * ms), Src: s, Dst: c, SrcPort: sp, DstPort: cp, Proto: flow.ProtoTCP, Flags: "PA", Payload: resp},
		Packet{Time: t.Add(4 * ms), Src: c, Dst: s, SrcPort: cp, DstPort: sp, Proto: flow.ProtoTCP, Flags: "FA"},
		Packet{Time: t.Add(5 * ms), Src: s, Dst: c, SrcPort: sp, DstPort: cp, Proto: flow.ProtoTCP, Flags: "FA"},
	)
}

// MiraiScan: device sends SYNs to n random public addresses on 23 (90%) and
// 2323 within span, each with the destination address as its TCP sequence
// number (Mirai's stateless scanner); a few answer with RST.
func MiraiScan(rng *rand.Rand, dev netip.Addr, n int, span time.Duration) []Packet {
	var out []Packet
	for i := range n {
		t := Base.Add(time.Duration(i) * span / time.Duration(n))
		dst := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		port := uint16(23)
		if rng.IntN(10) == 0 {
			port = 2323
		}
		sp := uint16(30000 + rng.IntN(30000))
		b := dst.As4()
		out = append(out, Packet{Time: t, Src: dev, Dst: dst, SrcPort: sp, DstPort: port, Proto: flow.ProtoTCP, Flags: "S", Seq: binary.BigEndian.Uint32(b[:])})
		if i%7 == 0 {
			out = append(out, Packet{Time: t.Add(20 * time.Millisecond), Src: dst, Dst: dev, SrcPort: port, DstPort: sp, Proto: flow.ProtoTCP, Flags: "RA"})
		}
	}
	return out
}

// Beacon: device connects to c2 every period ± jitter (share of period), n times.
func Beacon(rng *rand.Rand, dev, c2 netip.Addr, port uint16, period time.Duration, jitter float64, n int) []Packet {
	var out []Packet
	t := Base.Add(7 * time.Second)
	for i := range n {
		out = conn(out, t, dev, c2, uint16(40000+i), port, []byte("GET /cmd HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 204 No Content\r\n\r\n"))
		j := (rng.Float64()*2 - 1) * jitter
		t = t.Add(time.Duration(float64(period) * (1 + j)))
	}
	return out
}

// BeaconMissing is Beacon with every tenth beat missed (the first, the
// eleventh, …): the whole connection of that beat is left out, as when a
// bot is busy or its C2 does not answer.
func BeaconMissing(rng *rand.Rand, dev, c2 netip.Addr, port uint16, period time.Duration, jitter float64, n int) []Packet {
	all := Beacon(rng, dev, c2, port, period, jitter, n)
	out := all[:0]
	for _, pk := range all {
		sp := pk.SrcPort // the beat's connection's source port, 40000 + its index
		if pk.Src == c2 {
			sp = pk.DstPort
		}
		if (sp-40000)%10 != 0 {
			out = append(out, pk)
		}
	}
	return out
}

// MoziDHT: device sends DHT find_node queries (KRPC over UDP) to n random
// public nodes on random high ports within span, as Mozi-family bots keep
// their P2P overlay.
func MoziDHT(rng *rand.Rand, dev netip.Addr, n int, span time.Duration) []Packet {
	var out []Packet
	id := make([]byte, 20)
	for i := range n {
		t := Base.Add(time.Duration(i) * span / time.Duration(n))
		dst := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		for j := range id {
			id[j] = byte(rng.IntN(256))
		}
		payload := []byte("d1:ad2:id20:" + string(id) + "6:target20:" + string(id) + "e1:q9:find_node1:t2:aa1:y1:qe")
		out = append(out, Packet{Time: t, Src: dev, Dst: dst, SrcPort: 6881, DstPort: uint16(1024 + rng.IntN(60000)), Proto: flow.ProtoUDP, Payload: payload})
	}
	return out
}

// DDoS: device floods target with small UDP packets at pps for dur.
func DDoS(dev, target netip.Addr, pps int, dur time.Duration) []Packet {
	n := int(dur.Seconds() * float64(pps))
	out := make([]Packet, 0, n)
	payload := make([]byte, 64)
	for i := range n {
		t := Base.Add(2*time.Minute + time.Duration(i)*time.Second/time.Duration(pps))
		out = append(out, Packet{Time: t, Src: dev, Dst: target, SrcPort: uint16(1024 + i%60000), DstPort: 80, Proto: flow.ProtoUDP, Payload: payload})
	}
	return out
}

// SSHBruteForce: attacker opens n SSH connections to victim:port within span.
func SSHBruteForce(attacker, victim netip.Addr, port uint16, n int, span time.Duration) []Packet {
	var out []Packet
	for i := range n {
		t := Base.Add(time.Duration(i) * span / time.Duration(n))
		out = conn(out, t, attacker, victim, uint16(50000+i), port, []byte("SSH-2.0-libssh\r\n"), []byte("SSH-2.0-dropbear_2019.78\r\n"))
	}
	return out
}

// DNSAnswerPacket is a DNS response mapping name to addr, from resolver to dev.
func DNSAnswerPacket(t time.Time, resolver, dev netip.Addr, name string, addr netip.Addr) Packet {
	d := &layers.DNS{ID: 1, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers:   []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: addr.AsSlice()}}}
	buf := gopacket.NewSerializeBuffer()
	_ = d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true})
	return Packet{Time: t, Src: resolver, Dst: dev, SrcPort: 53, DstPort: 5353 + 1, Proto: flow.ProtoUDP, Payload: append([]byte(nil), buf.Bytes()...)}
}

// Normal: a device's ordinary day in a few minutes: DNS lookups, HTTPS to a
// handful of cloud hosts at irregular times, one larger upload, NTP.
func Normal(rng *rand.Rand, dev netip.Addr) []Packet {
	var out []Packet
	resolver := Addr("192.168.1.1")
	clouds := []struct {
		name string
		addr netip.Addr
	}{{"api.vendor.example", Addr("93.184.216.34")}, {"cdn.vendor.example", Addr("151.101.1.69")}, {"time.example", Addr("129.6.15.28")}}
	t := Base
	for i, c := range clouds {
		out = append(out, DNSAnswerPacket(t.Add(time.Duration(i)*time.Second), resolver, dev, c.name, c.addr))
	}
	for i := range 40 {
		t = t.Add(time.Duration(2+rng.IntN(120)) * time.Second)
		c := clouds[rng.IntN(2)]
		out = conn(out, t, dev, c.addr, uint16(41000+i), 443, make([]byte, 200+rng.IntN(1200)), make([]byte, 500+rng.IntN(4000)))
	}
	for i := range 6 { // NTP every 64 s: periodic but ignored by port
		tt := Base.Add(time.Duration(i*64) * time.Second)
		out = append(out, Packet{Time: tt, Src: dev, Dst: clouds[2].addr, SrcPort: 123, DstPort: 123, Proto: flow.ProtoUDP, Payload: make([]byte, 48)})
	}
	for i := range 300 { // a camera clip upload: large packets
		out = append(out, Packet{Time: Base.Add(3*time.Minute + time.Duration(i)*time.Millisecond), Src: dev, Dst: clouds[1].addr, SrcPort: 42000, DstPort: 443, Proto: flow.ProtoTCP, Flags: "PA", Payload: make([]byte, 1400)})
	}
	return out
}

// Conn is a short TCP exchange at t (see conn): SYN, SYN-ACK, request,
// response, FIN both ways.
func Conn(t time.Time, c, s netip.Addr, cp, sp uint16, req, resp []byte) []Packet {
	return conn(nil, t, c, s, cp, sp, req, resp)
}

// IRCC2 is a Mirai-style bot's IRC control channel, as in IoT-23's
// capture 34-1: the bot holds a TCP session to c2:port for hold, in which
// the server sends a PING every ping ± jitter (a share of ping) and the bot
// answers PONG, until the server drops it (RST); the bot then reconnects in
// bursts for outage: an attempt every 10 s when its SYN goes unanswered
// (retransmitted after 1, 3 and 7 s), every ~1 s when the server accepts and
// closes at once; then it holds the next session. sessions sessions are
// held in all.
func IRCC2(rng *rand.Rand, dev, c2 netip.Addr, port uint16, sessions int, hold, ping time.Duration, jitter float64, outage time.Duration) []Packet {
	var out []Packet
	t := Base
	sp := uint16(48000)
	next := func() uint16 { sp += 2; return sp }
	tcp := func(t time.Time, fromDev bool, p uint16, flags string, payload string) Packet {
		if fromDev {
			return Packet{Time: t, Src: dev, Dst: c2, SrcPort: p, DstPort: port, Proto: flow.ProtoTCP, Flags: flags, Payload: []byte(payload)}
		}
		return Packet{Time: t, Src: c2, Dst: dev, SrcPort: port, DstPort: p, Proto: flow.ProtoTCP, Flags: flags, Payload: []byte(payload)}
	}
	ms := time.Millisecond
	for s := range sessions {
		p := next()
		out = append(out, tcp(t, true, p, "S", ""), tcp(t.Add(40*ms), false, p, "SA", ""),
			tcp(t.Add(41*ms), true, p, "PA", "NICK [HAX|x86|1]\r\nUSER x localhost localhost :x\r\n"),
			tcp(t.Add(90*ms), false, p, "PA", ":irc 001 [HAX|x86|1] :Welcome\r\n"))
		end := t.Add(hold)
		for u := t.Add(ping); u.Before(end); u = u.Add(time.Duration(float64(ping) * (1 + (rng.Float64()*2-1)*jitter))) {
			out = append(out, tcp(u, false, p, "PA", "PING :irc\r\n"), tcp(u.Add(45*ms), true, p, "PA", "PONG :irc\r\n"))
		}
		out = append(out, tcp(end, false, p, "R", ""))
		t = end.Add(time.Second)
		if s == sessions-1 {
			break
		}
		for stop := t.Add(outage); t.Before(stop); {
			p := next()
			if rng.IntN(5) < 3 { // unanswered: SYN retransmitted, next try after 10 s
				for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 7200 * ms} {
					out = append(out, tcp(t.Add(d), true, p, "S", ""))
				}
				t = t.Add(10 * time.Second)
				continue
			}
			out = append(out, tcp(t, true, p, "S", ""), tcp(t.Add(40*ms), false, p, "SA", ""),
				tcp(t.Add(41*ms), true, p, "PA", "NICK [HAX|x86|1]\r\n"),
				tcp(t.Add(900*ms), false, p, "FA", "ERROR :Closing Link\r\n"), tcp(t.Add(941*ms), true, p, "FA", ""))
			t = t.Add(time.Second + time.Duration(rng.IntN(100))*ms)
		}
	}
	return out
}
