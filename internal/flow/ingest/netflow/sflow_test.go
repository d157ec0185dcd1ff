package netflow

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// sflowDatagram builds an sFlow v5 datagram with one flow sample carrying a
// raw Ethernet/IPv4/TCP header, sampled 1 in rate.
func sflowDatagram(t *testing.T, rate uint32) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IPv4(192, 168, 5, 5), DstIP: net.IPv4(203, 0, 113, 9), Protocol: layers.IPProtocolTCP}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 23, SYN: true, Window: 1024}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	hdr := buf.Bytes()
	pad := (4 - len(hdr)%4) % 4
	u := func(b []byte, v ...uint32) []byte {
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, x)
		}
		return b
	}
	var rec []byte
	rec = u(rec, 1, uint32(len(hdr)+4), 0, uint32(len(hdr))) // ethernet, frame length, stripped, header length
	rec = append(rec, hdr...)
	rec = append(rec, make([]byte, pad)...)
	var sample []byte
	sample = u(sample, 7, 3, rate, 1000, 0, 1, 2, 1) // seq, source id, rate, pool, drops, in, out, records
	sample = u(sample, 1, uint32(len(rec)))          // raw packet header record
	sample = append(sample, rec...)
	var d []byte
	d = u(d, 5, 1)
	d = append(d, 127, 0, 0, 1)
	d = u(d, 0, 1, 12345, 1) // sub-agent, seq, uptime, samples
	d = u(d, 1, uint32(len(sample)))
	return append(d, sample...)
}

func TestSFlow(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	n, err := dec.Decode(sflowDatagram(t, 512), netip.MustParseAddrPort("127.0.0.1:6343"), time.Unix(1700000000, 0), c)
	if err != nil || n != 1 {
		t.Fatalf("Decode: n=%d err=%v stats %+v", n, err, dec.Stats)
	}
	r := c.recs[0]
	if r.Src != netip.MustParseAddr("192.168.5.5") || r.Dst != netip.MustParseAddr("203.0.113.9") || r.DstPort != 23 || r.Proto != 6 || r.Packets != 512 || r.SamplingRate != 512 {
		t.Errorf("record %+v: want 192.168.5.5→203.0.113.9:23/tcp, 512 packets (1 sampled × rate 512)", r)
	}
	if dec.Stats.ByVersion["sflow5"] != 1 {
		t.Errorf("stats %+v", dec.Stats)
	}
}

func TestNetFlowV5(t *testing.T) {
	var d []byte
	d = binary.BigEndian.AppendUint16(d, 5)
	d = binary.BigEndian.AppendUint16(d, 1)
	d = binary.BigEndian.AppendUint32(d, 100000)     // uptime ms
	d = binary.BigEndian.AppendUint32(d, 1700000000) // secs
	d = binary.BigEndian.AppendUint32(d, 0)
	d = binary.BigEndian.AppendUint32(d, 1)
	d = append(d, 0, 0)
	d = binary.BigEndian.AppendUint16(d, 0x4000|100) // random sampling 1:100
	d = append(d, 10, 0, 0, 7, 198, 51, 100, 1, 0, 0, 0, 0)
	d = append(d, 0, 1, 0, 2)
	d = binary.BigEndian.AppendUint32(d, 3)   // packets
	d = binary.BigEndian.AppendUint32(d, 180) // bytes
	d = binary.BigEndian.AppendUint32(d, 90000)
	d = binary.BigEndian.AppendUint32(d, 99000)
	d = binary.BigEndian.AppendUint16(d, 50000)
	d = binary.BigEndian.AppendUint16(d, 2323)
	d = append(d, 0, 0x02, 6, 0, 0, 0, 0, 0, 24, 24, 0, 0)
	dec, _ := NewDecoder()
	c := &collect{}
	n, err := dec.Decode(d, netip.MustParseAddrPort("127.0.0.1:2055"), time.Unix(1700000000, 0), c)
	if err != nil || n != 1 {
		t.Fatalf("Decode: n=%d err=%v", n, err)
	}
	r := c.recs[0]
	if r.Src != netip.MustParseAddr("10.0.0.7") || r.DstPort != 2323 || r.Packets != 300 || r.Bytes != 18000 || r.TCPFlags != 2 {
		t.Errorf("record %+v: want 10.0.0.7→:2323, 300 packets 18000 bytes (×100 sampling)", r)
	}
	if got := r.Start.Unix(); got != 1700000000-10 {
		t.Errorf("start %d, want export time − 10 s", got)
	}
}
