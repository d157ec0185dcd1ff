package synth

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/bits"
	"math/rand/v2"
	"time"
)

// WriteSYNs writes a pcap of n single-packet TCP flows (a SYN each, 70 bytes
// in the file) from devices private addresses (10.0.0.0/8) to random public
// ones on ports 443, 80, 8883 and 123, evenly over span from Base: the
// capture bench/flows/pcap.sh times flow assembly on. The bytes are written
// directly (gopacket's serializer would take longer than the ingest).
func WriteSYNs(out io.Writer, n, devices int, span time.Duration) error {
	w := bufio.NewWriterSize(out, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	_, _ = w.Write(hdr)
	rng := rand.New(rand.NewPCG(1, 2))
	pkt := make([]byte, 16+14+20+20)
	for i := range n {
		// i×span/n in 128 bits: i×span overflows int64 from 2.5M flows an hour.
		hi, lo := bits.Mul64(uint64(i), uint64(span))
		q, _ := bits.Div64(hi, lo, uint64(n))
		ts := Base.Add(time.Duration(q))
		rec, eth := pkt[:16], pkt[16:]
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], 54)
		binary.LittleEndian.PutUint32(rec[12:], 54)
		copy(eth[0:12], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
		binary.BigEndian.PutUint16(eth[12:], 0x0800)
		ip := eth[14:34]
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], 40)
		d := rng.IntN(devices)
		copy(ip[12:16], []byte{10, byte(d >> 16), byte(d >> 8), byte(d)})
		binary.BigEndian.PutUint32(ip[16:20], 0x0b000000+rng.Uint32N(0xc0000000))
		tcp := eth[34:54]
		binary.BigEndian.PutUint16(tcp[0:], uint16(1024+rng.IntN(60000)))
		binary.BigEndian.PutUint16(tcp[2:], []uint16{443, 80, 8883, 123}[rng.IntN(4)])
		binary.BigEndian.PutUint32(tcp[4:], rng.Uint32())
		tcp[12], tcp[13] = 5<<4, 0x02
		binary.BigEndian.PutUint16(tcp[14:], 1024)
		_, _ = w.Write(pkt)
	}
	return w.Flush()
}
