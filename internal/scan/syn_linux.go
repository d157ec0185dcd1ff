//go:build linux

package scan

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// synProber sends stateless TCP SYNs from a raw socket, as zmap does: the
// sequence number is a keyed hash of the destination, so a reply validates
// itself (ack = cookie+1) and no per-probe state is kept. A SYN-ACK means
// open (the kernel answers it with RST, having no socket), a RST closed.
type synProber struct {
	sendFD, recvFD int // IPv4 (-1: none)
	src            netip.Addr
	sport          uint16
	seed           maphash.Seed
	// IPv6: a raw TCP socket the kernel completes (IPv6 header, checksum
	// through IPV6_CHECKSUM); replies arrive without the IPv6 header, the
	// source in the socket address. -1: none.
	send6FD, recv6FD int
	pkt6             [20]byte

	// tmpl is the IPv4+TCP SYN with everything but the destination,
	// destination port and sequence number filled in; sum is the TCP
	// checksum's partial sum over its constant part (pseudo-header source,
	// protocol and length; source port, offset, flags, window), so a
	// packet's checksum adds only the three fields that change.
	tmpl  [40]byte
	sum   uint32
	ipSum uint32 // the IPv4 header's sum without the destination

	// tx, when not nil, sends the SYNs it covers as Ethernet frames
	// through an AF_PACKET TX ring; txErr says why it is nil.
	tx    *packetTX
	txErr error

	// A batch of SYNs for one sendmmsg call.
	pkts  [synBatch][40]byte
	addrs [synBatch]unix.RawSockaddrInet4
	iovs  [synBatch]unix.Iovec
	msgs  [synBatch]unix.Mmsghdr
	n     int
	Batch int // packets per sendmmsg (1..synBatch)
}

// synBatch is the most SYNs one sendmmsg sends: bigger batches mean fewer
// system calls per probe (64 sent about 106,000 probes/s on loopback).
const synBatch = 256

// ErrNoRaw reports that raw sockets are not permitted (needs CAP_NET_RAW).
var ErrNoRaw = errors.New("SYN mode needs raw sockets (root or CAP_NET_RAW)")

// newSYNProber opens raw sockets for the families of the samples (an
// invalid sample: that family is not scanned in SYN mode).
func newSYNProber(sample4, sample6 netip.Addr) (*synProber, error) {
	if !sample4.Is4() && !sample6.Is6() {
		return nil, errors.New("SYN mode: no IPv4 or IPv6 target")
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	p := &synProber{sendFD: -1, recvFD: -1, send6FD: -1, recv6FD: -1, sport: 40000 + binary.BigEndian.Uint16(r[:])%20000, seed: maphash.MakeSeed(), Batch: synBatch}
	if sample4.Is4() {
		if err := p.open4(sample4); err != nil {
			return nil, err
		}
	}
	if sample6.Is6() {
		if err := p.open6(); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// portFilter is a classic BPF program keeping only TCP segments to sport;
// off is where the TCP header starts (IPv4: after a variable header).
func portFilter(sport uint16, ipv4 bool) []unix.SockFilter {
	if ipv4 {
		return []unix.SockFilter{
			{Code: 0xb1, K: 0},                           // ldxb 4*([0]&0xf): IP header length
			{Code: 0x48, K: 2},                           // ldh [x+2]: TCP destination port
			{Code: 0x15, Jt: 0, Jf: 1, K: uint32(sport)}, // jeq sport
			{Code: 0x06, K: 0xffff},                      // accept
			{Code: 0x06, K: 0},                           // drop
		}
	}
	return []unix.SockFilter{
		{Code: 0x28, K: 2},                           // ldh [2]: TCP destination port
		{Code: 0x15, Jt: 0, Jf: 1, K: uint32(sport)}, // jeq sport
		{Code: 0x06, K: 0xffff},                      // accept
		{Code: 0x06, K: 0},                           // drop
	}
}

func (p *synProber) open4(sample netip.Addr) error {
	// The kernel's choice of source address for the first target.
	c, err := net.Dial("udp4", netip.AddrPortFrom(sample, 9).String())
	if err != nil {
		return fmt.Errorf("route to %s: %w", sample, err)
	}
	p.src = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	p.template()
	p.tx, p.txErr = newPacketTX(p.src, sample)
	sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoRaw, err)
	}
	rfd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		unix.Close(sfd)
		return fmt.Errorf("%w: %v", ErrNoRaw, err)
	}
	_ = unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	_ = unix.SetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	// The SYNs we send ourselves (seen on loopback) never reach user space.
	prog := portFilter(p.sport, true)
	_ = unix.SetsockoptSockFprog(rfd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	p.sendFD, p.recvFD = sfd, rfd
	return nil
}

func (p *synProber) open6() error {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoRaw, err)
	}
	// The kernel fills in the TCP checksum (offset 16) over its pseudo-header.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, 16); err != nil {
		unix.Close(fd)
		return fmt.Errorf("IPV6_CHECKSUM: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	prog := portFilter(p.sport, false)
	_ = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	// One socket sends and receives; the receive timeout keeps receive's
	// loop responsive to stop.
	p.send6FD, p.recv6FD = fd, fd
	return nil
}

func (p *synProber) Close() {
	_ = p.flush()
	if p.tx != nil {
		p.tx.Close()
	}
	for _, fd := range []int{p.sendFD, p.recvFD, p.send6FD} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// cookieKey is what a SYN's sequence number is a keyed hash of.
type cookieKey struct {
	addr [16]byte
	port uint16
}

func (p *synProber) cookie(dst netip.Addr, port uint16) uint32 {
	return uint32(maphash.Comparable(p.seed, cookieKey{dst.As16(), port}))
}

// template fills tmpl and sum from the source address and port.
func (p *synProber) template() {
	b := p.tmpl[:]
	s := p.src.As4()
	// IPv4 header, id 0 and DF (an atomic datagram, RFC 6864); on the raw
	// socket the kernel sets the id and the checksum, on the TX ring the
	// checksum is ours.
	copy(b, []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, unix.IPPROTO_TCP, 0, 0})
	copy(b[12:16], s[:])
	p.ipSum = 0
	for i := 0; i < 16; i += 2 {
		p.ipSum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	t := b[20:40]
	binary.BigEndian.PutUint16(t[0:], p.sport)
	t[12], t[13] = 5<<4, 0x02 // header length 20, SYN
	binary.BigEndian.PutUint16(t[14:], 65535)
	p.sum = unix.IPPROTO_TCP + 20 + (uint32(s[0])<<8 | uint32(s[1]))
	p.sum += uint32(s[2])<<8 | uint32(s[3])
	for i := 0; i < 20; i += 2 { // the zero fields add nothing
		p.sum += uint32(t[i])<<8 | uint32(t[i+1])
	}
}

// sender says how IPv4 SYNs are sent, for the log.
func (p *synProber) sender() string {
	if p.tx != nil {
		r := p.tx.routes[p.tx.via]
		return fmt.Sprintf("AF_PACKET TX ring on %s via %s (raw socket for other routes)", r.dev, r.gw)
	}
	if p.txErr != nil {
		return fmt.Sprintf("raw socket, sendmmsg (%v)", p.txErr)
	}
	return "raw socket, sendmmsg"
}

// handles reports whether the prober sends SYNs to dst's family.
func (p *synProber) handles(dst netip.Addr) bool {
	if dst.Is4() {
		return p.sendFD >= 0
	}
	return p.send6FD >= 0
}

// send6 sends one SYN to an IPv6 dst:port (no batching: IPv6 target
// lists are hit lists, not address spaces).
func (p *synProber) send6(dst netip.Addr, port uint16) error {
	t := p.pkt6[:]
	binary.BigEndian.PutUint16(t[0:], p.sport)
	binary.BigEndian.PutUint16(t[2:], port)
	binary.BigEndian.PutUint32(t[4:], p.cookie(dst, port))
	binary.BigEndian.PutUint32(t[8:], 0)
	t[12], t[13] = 5<<4, 0x02 // header length 20, SYN
	binary.BigEndian.PutUint16(t[14:], 65535)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0 // checksum: the kernel's (IPV6_CHECKSUM)
	sa := &unix.SockaddrInet6{Addr: dst.As16()}
	for tries := 0; ; tries++ {
		err := unix.Sendto(p.send6FD, t, 0, sa)
		if err == nil {
			return nil
		}
		if (err == unix.ENOBUFS || err == unix.EAGAIN || err == unix.EINTR) && tries < 100 {
			time.Sleep(time.Millisecond)
			continue
		}
		return fmt.Errorf("sendto %s: %w", dst, err)
	}
}

// send queues one SYN to dst:port and sends the batch when it is full.
func (p *synProber) send(dst netip.Addr, port uint16) error {
	if dst.Is6() {
		return p.send6(dst, port)
	}
	d := dst.As4()
	if p.tx != nil && p.tx.covers(d) {
		f, err := p.tx.frame()
		if err != nil {
			return err
		}
		copy(f, p.tx.eth[:])
		p.build(f[14:54], d, port)
		p.tx.mark()
		if p.tx.pending >= max(1, min(p.Batch, synBatch)) {
			return p.tx.kick()
		}
		return nil
	}
	p.build(p.pkts[p.n][:], d, port)
	p.addrs[p.n] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: d}
	p.n++
	if p.n >= max(1, min(p.Batch, synBatch)) {
		return p.flushRaw()
	}
	return nil
}

// build writes the IPv4 SYN to d:port into b (40 bytes) from the template.
func (p *synProber) build(b []byte, d [4]byte, port uint16) {
	copy(b, p.tmpl[:])
	copy(b[16:20], d[:])
	seq := p.cookie(netip.AddrFrom4(d), port)
	binary.BigEndian.PutUint16(b[22:], port)
	binary.BigEndian.PutUint32(b[24:], seq)
	// Incremental checksums: the template's partial sums plus what changes.
	dsum := (uint32(d[0])<<8 | uint32(d[1])) + (uint32(d[2])<<8 | uint32(d[3]))
	sum := p.ipSum + dsum
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	sum = p.sum + dsum + uint32(port) + seq>>16 + seq&0xffff
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(b[36:], ^uint16(sum))
}

// flush sends what is queued on either path.
func (p *synProber) flush() error {
	err := p.flushRaw()
	if p.tx != nil && p.tx.pending > 0 {
		err = errors.Join(err, p.tx.kick())
	}
	return err
}

// flushRaw sends the queued SYNs with sendmmsg, retrying on a full queue.
func (p *synProber) flushRaw() error {
	for i := 0; i < p.n; i++ {
		p.iovs[i].Base = &p.pkts[i][0]
		p.iovs[i].SetLen(40)
		h := &p.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&p.addrs[i]))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &p.iovs[i]
		h.SetIovlen(1)
	}
	sent := 0
	for tries := 0; sent < p.n; {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(p.sendFD), uintptr(unsafe.Pointer(&p.msgs[sent])), uintptr(p.n-sent), 0, 0, 0)
		if errno != 0 {
			if (errno == unix.ENOBUFS || errno == unix.EAGAIN || errno == unix.EINTR) && tries < 100 {
				tries++
				time.Sleep(time.Millisecond)
				continue
			}
			p.n = 0
			return fmt.Errorf("sendmmsg: %w", errno)
		}
		sent += int(r)
	}
	p.n = 0
	return nil
}

func tcpChecksum(src, dst [4]byte, seg []byte) uint16 {
	sum := uint32(0)
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	sum += unix.IPPROTO_TCP + uint32(len(seg))
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// synReply is a validated answer.
type synReply struct {
	addr netip.Addr
	port uint16
	open bool
}

// parseSYNReply validates a received IPv4+TCP packet against our cookies.
func (p *synProber) parseSYNReply(b []byte) (synReply, bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != unix.IPPROTO_TCP {
		return synReply{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl+20 {
		return synReply{}, false
	}
	t := b[ihl:]
	if binary.BigEndian.Uint16(t[2:]) != p.sport {
		return synReply{}, false
	}
	from := netip.AddrFrom4([4]byte(b[12:16]))
	port := binary.BigEndian.Uint16(t[0:])
	flags := t[13]
	ack := binary.BigEndian.Uint32(t[8:])
	if ack != p.cookie(from, port)+1 {
		return synReply{}, false
	}
	switch {
	case flags&0x12 == 0x12: // SYN+ACK
		return synReply{from, port, true}, true
	case flags&0x04 != 0: // RST
		return synReply{from, port, false}, true
	}
	return synReply{}, false
}

// parseSYNReply6 validates a TCP segment received on the IPv6 raw socket
// (no IPv6 header) from from.
func (p *synProber) parseSYNReply6(t []byte, from netip.Addr) (synReply, bool) {
	if len(t) < 20 || !from.Is6() || binary.BigEndian.Uint16(t[2:]) != p.sport {
		return synReply{}, false
	}
	port := binary.BigEndian.Uint16(t[0:])
	if binary.BigEndian.Uint32(t[8:]) != p.cookie(from, port)+1 {
		return synReply{}, false
	}
	switch flags := t[13]; {
	case flags&0x12 == 0x12: // SYN+ACK
		return synReply{from, port, true}, true
	case flags&0x04 != 0: // RST
		return synReply{from, port, false}, true
	}
	return synReply{}, false
}

// recvBatch is how many replies one recvmmsg takes; recvSnap how much of
// each is kept (IPv4 header with options and the TCP header's first 20
// bytes are all a reply is validated on).
const (
	recvBatch = 128
	recvSnap  = 96
)

// receive reads replies until stop is set, calling got for each valid one.
// IPv4 replies are taken recvBatch at a time with recvmmsg: one system
// call per batch instead of one per reply keeps the receive path ahead of
// the send path.
func (p *synProber) receive(stop *atomic.Bool, got func(synReply)) {
	buf := make([]byte, 1500)
	var (
		bufs [recvBatch][recvSnap]byte
		iovs [recvBatch]unix.Iovec
		msgs [recvBatch]unix.Mmsghdr
	)
	for i := range msgs {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(recvSnap)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	fds := make([]unix.PollFd, 0, 2)
	for _, fd := range []int{p.recvFD, p.recv6FD} {
		if fd >= 0 {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
	}
	for !stop.Load() {
		if n, err := unix.Poll(fds, 100); err != nil || n == 0 {
			continue // timeout tick or EINTR
		}
		for i := range fds {
			if fds[i].Revents&unix.POLLIN == 0 {
				continue
			}
			fd := int(fds[i].Fd)
			if fd == p.recvFD {
				for !stop.Load() { // drain what is queued
					r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), recvBatch, unix.MSG_DONTWAIT, 0, 0)
					if errno != 0 || r == 0 {
						break
					}
					for j := range int(r) {
						if rep, ok := p.parseSYNReply(bufs[j][:min(int(msgs[j].Len), recvSnap)]); ok {
							got(rep)
						}
					}
				}
				continue
			}
			for !stop.Load() { // drain what is queued
				n, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
				if err != nil {
					break
				}
				if sa, ok := from.(*unix.SockaddrInet6); ok {
					if r, ok := p.parseSYNReply6(buf[:n], netip.AddrFrom16(sa.Addr)); ok {
						got(r)
					}
				}
			}
		}
	}
}

var _ = context.Background
