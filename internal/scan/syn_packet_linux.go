//go:build linux

package scan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// packetTX sends whole Ethernet frames through an AF_PACKET socket's
// PACKET_TX_RING (TPACKET_V2), bypassing the qdisc: SYNs are written into
// frames of a ring shared with the kernel and one sendto hands it all that
// is marked, with no per-packet routing, neighbour lookup or copy from a
// message header. It serves the destinations routed through one gateway of
// one Ethernet interface (as zmap does); the raw socket sends the others.
type packetTX struct {
	fd        int
	ring      []byte
	frameSize int
	frames    int
	cur       int // next frame to fill
	pending   int // frames marked since the last kick

	ifindex int
	gw      [6]byte
	eth     [14]byte // destination (gateway), source, type IPv4

	// The route the frames take: destinations whose longest match in
	// routes is via (and not this host's own addresses) go through the ring.
	routes []route
	via    int
	local  map[[4]byte]bool
}

// route is one IPv4 row of the main routing table.
type route struct {
	prefix netip.Prefix
	dev    string
	gw     netip.Addr // invalid: on link
}

const (
	txFrameSize = 128  // a multiple of TPACKET_ALIGNMENT that holds header and frame
	txFrames    = 8192 // 1 MiB ring
	txDataOff   = 32   // TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): where the frame starts
	synFrameLen = 14 + 40
)

// errNoPacketPath says why SYNs go through the raw socket instead.
var errNoPacketPath = errors.New("no AF_PACKET path")

// synSenderEnv set to "raw" keeps every SYN on the raw socket (for
// side-by-side measurement of the two senders).
const synSenderEnv = "IOTWATCH_SYN_SENDER"

// newPacketTX opens a TX ring on the interface that routes sample from
// src through a gateway, or returns an error wrapping errNoPacketPath.
func newPacketTX(src, sample netip.Addr) (*packetTX, error) {
	if os.Getenv(synSenderEnv) == "raw" {
		return nil, fmt.Errorf("%w: %s=raw", errNoPacketPath, synSenderEnv)
	}
	routes, err := readRoutes("/proc/thread-self/net/route")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoPacketPath, err)
	}
	via := lookupRoute(routes, sample)
	if via < 0 || !routes[via].gw.IsValid() || sample.IsLoopback() {
		return nil, fmt.Errorf("%w: %s is not routed through a gateway", errNoPacketPath, sample)
	}
	ifi, err := net.InterfaceByName(routes[via].dev)
	if err != nil || len(ifi.HardwareAddr) != 6 || ifi.Flags&net.FlagLoopback != 0 {
		return nil, fmt.Errorf("%w: %s is not an Ethernet interface", errNoPacketPath, routes[via].dev)
	}
	local := map[[4]byte]bool{}
	owns := false
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
					local[ip.Unmap().As4()] = true
				}
			}
		}
	}
	if ia, err := ifi.Addrs(); err == nil {
		for _, a := range ia {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == src {
					owns = true
				}
			}
		}
	}
	if !owns {
		return nil, fmt.Errorf("%w: source %s is not on %s", errNoPacketPath, src, ifi.Name)
	}
	gw, err := neighbour(routes[via].gw, routes[via].dev)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoPacketPath, err)
	}
	t := &packetTX{fd: -1, frameSize: txFrameSize, frames: txFrames, ifindex: ifi.Index, gw: gw, routes: routes, via: via, local: local}
	copy(t.eth[0:6], gw[:])
	copy(t.eth[6:12], ifi.HardwareAddr)
	t.eth[12], t.eth[13] = 0x08, 0x00
	if err := t.open(); err != nil {
		t.Close()
		return nil, fmt.Errorf("%w: %v", errNoPacketPath, err)
	}
	return t, nil
}

// open creates the socket (protocol 0: it receives nothing) and its ring.
func (t *packetTX) open() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	t.fd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("TPACKET_V2: %w", err)
	}
	// Frames go to the driver without the qdisc (no queue and lock per
	// packet). A frame the device cannot take stays marked for sending and
	// the kick fails with ENOBUFS, which kick retries; PACKET_LOSS skips a
	// malformed frame instead of stopping.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1)
	perBlock := 4096 / t.frameSize
	req := unix.TpacketReq{Block_size: 4096, Block_nr: uint32(t.frames / perBlock), Frame_size: uint32(t.frameSize), Frame_nr: uint32(t.frames)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_TX_RING: %w", err)
	}
	ring, err := unix.Mmap(fd, 0, t.frames*t.frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap TX ring: %w", err)
	}
	t.ring = ring
	return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: t.ifindex})
}

func (t *packetTX) Close() {
	if t.ring != nil {
		_ = unix.Munmap(t.ring)
		t.ring = nil
	}
	if t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
}

// covers reports whether a SYN to d goes out through the ring.
func (t *packetTX) covers(d [4]byte) bool {
	a := netip.AddrFrom4(d)
	return !t.local[d] && !a.IsLoopback() && lookupRoute(t.routes, a) == t.via
}

func (t *packetTX) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.ring[i*t.frameSize]))
}

// frame returns the next free frame's data, waiting for the kernel to
// release it if the ring is full.
func (t *packetTX) frame() ([]byte, error) {
	st := t.status(t.cur)
	for tries := 0; atomic.LoadUint32(st) != unix.TP_STATUS_AVAILABLE; tries++ {
		if s := atomic.LoadUint32(st); s&unix.TP_STATUS_WRONG_FORMAT != 0 {
			atomic.StoreUint32(st, unix.TP_STATUS_AVAILABLE) // dropped by the kernel
			break
		}
		if err := t.kick(); err != nil {
			return nil, err
		}
		if tries > 0 {
			if tries > 1000 {
				return nil, errors.New("TX ring: frame not released")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	off := t.cur * t.frameSize
	return t.ring[off+txDataOff : off+txDataOff+synFrameLen], nil
}

// mark hands the frame just filled to the kernel.
func (t *packetTX) mark() {
	h := t.ring[t.cur*t.frameSize:]
	binary.NativeEndian.PutUint32(h[4:], synFrameLen) // tp_len
	binary.NativeEndian.PutUint32(h[8:], synFrameLen) // tp_snaplen
	atomic.StoreUint32(t.status(t.cur), unix.TP_STATUS_SEND_REQUEST)
	t.cur = (t.cur + 1) % t.frames
	t.pending++
}

// kick has the kernel send every marked frame and waits until it has.
func (t *packetTX) kick() error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: t.ifindex, Halen: 6}
	copy(sa.Addr[:], t.gw[:])
	for tries := 0; ; tries++ {
		err := unix.Sendto(t.fd, nil, 0, sa)
		if err == nil {
			t.pending = 0
			return nil
		}
		if (err == unix.ENOBUFS || err == unix.EAGAIN || err == unix.EINTR) && tries < 100 {
			time.Sleep(time.Millisecond)
			continue
		}
		return fmt.Errorf("TX ring send: %w", err)
	}
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// readRoutes reads the IPv4 main routing table (/proc/net/route: the
// calling thread's network namespace in /proc/thread-self), longest
// prefixes first.
func readRoutes(path string) ([]route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []route
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	hex := func(s string) ([4]byte, error) {
		v, err := strconv.ParseUint(s, 16, 32)
		var a [4]byte
		binary.NativeEndian.PutUint32(a[:], uint32(v)) // the kernel's byte order
		return a, err
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&0x1 == 0 { // RTF_UP
			continue
		}
		dst, err1 := hex(f[1])
		gw, err2 := hex(f[2])
		mask, err3 := hex(f[7])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		bits := 0
		for m := binary.BigEndian.Uint32(mask[:]); m&0x80000000 != 0; m <<= 1 {
			bits++
		}
		r := route{prefix: netip.PrefixFrom(netip.AddrFrom4(dst), bits).Masked(), dev: f[0]}
		if flags&0x2 != 0 { // RTF_GATEWAY
			r.gw = netip.AddrFrom4(gw)
		}
		rs = append(rs, r)
	}
	// Longest prefix first: the first match is the route.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].prefix.Bits() > rs[j-1].prefix.Bits(); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs, sc.Err()
}

// lookupRoute returns the index of a's route in rs (longest first), or -1.
func lookupRoute(rs []route, a netip.Addr) int {
	for i, r := range rs {
		if r.prefix.Contains(a) {
			return i
		}
	}
	return -1
}

// neighbour returns gw's link-layer address from the ARP table, first
// sending it an empty UDP datagram (port 9, discard) to have the kernel
// resolve it when it is not there yet.
func neighbour(gw netip.Addr, dev string) ([6]byte, error) {
	for tries := 0; tries < 50; tries++ {
		if mac, ok := arpEntry("/proc/thread-self/net/arp", gw, dev); ok {
			return mac, nil
		}
		if tries == 0 {
			if c, err := net.Dial("udp4", netip.AddrPortFrom(gw, 9).String()); err == nil {
				_, _ = c.Write(nil)
				c.Close()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return [6]byte{}, fmt.Errorf("gateway %s on %s: no link-layer address", gw, dev)
}

// arpEntry finds a complete entry for ip on dev in an ARP table file.
func arpEntry(path string, ip netip.Addr, dev string) ([6]byte, bool) {
	var mac [6]byte
	b, err := os.ReadFile(path)
	if err != nil {
		return mac, false
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != ip.String() || f[5] != dev || f[2] != "0x2" && f[2] != "0x6" {
			continue
		}
		hw, err := net.ParseMAC(f[3])
		if err != nil || len(hw) != 6 {
			continue
		}
		copy(mac[:], hw)
		return mac, true
	}
	return mac, false
}
