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
	sendFD, recvFD int
	src            netip.Addr
	sport          uint16
	seed           maphash.Seed

	// A batch of SYNs for one sendmmsg call.
	pkts  [synBatch][40]byte
	addrs [synBatch]unix.RawSockaddrInet4
	iovs  [synBatch]unix.Iovec
	msgs  [synBatch]unix.Mmsghdr
	n     int
	Batch int // packets per sendmmsg (1..synBatch)
}

const synBatch = 64

// ErrNoRaw reports that raw sockets are not permitted (needs CAP_NET_RAW).
var ErrNoRaw = errors.New("SYN mode needs raw sockets (root or CAP_NET_RAW)")

func newSYNProber(sample netip.Addr) (*synProber, error) {
	if !sample.Is4() {
		return nil, errors.New("SYN mode supports IPv4 targets only")
	}
	// The kernel's choice of source address for the first target.
	c, err := net.Dial("udp4", netip.AddrPortFrom(sample, 9).String())
	if err != nil {
		return nil, fmt.Errorf("route to %s: %w", sample, err)
	}
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	c.Close()
	sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoRaw, err)
	}
	rfd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		unix.Close(sfd)
		return nil, fmt.Errorf("%w: %v", ErrNoRaw, err)
	}
	_ = unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	_ = unix.SetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	_ = unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	var r [2]byte
	_, _ = rand.Read(r[:])
	sport := 40000 + binary.BigEndian.Uint16(r[:])%20000
	// Classic BPF: keep only TCP segments to our source port, so the
	// SYNs we send ourselves (seen on loopback) never reach user space.
	prog := []unix.SockFilter{
		{Code: 0xb1, K: 0},                           // ldxb 4*([0]&0xf): IP header length
		{Code: 0x48, K: 2},                           // ldh [x+2]: TCP destination port
		{Code: 0x15, Jt: 0, Jf: 1, K: uint32(sport)}, // jeq sport
		{Code: 0x06, K: 0xffff},                      // accept
		{Code: 0x06, K: 0},                           // drop
	}
	_ = unix.SetsockoptSockFprog(rfd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	return &synProber{sendFD: sfd, recvFD: rfd, src: src, sport: sport, seed: maphash.MakeSeed(), Batch: synBatch}, nil
}

func (p *synProber) Close() {
	_ = p.flush()
	unix.Close(p.sendFD)
	unix.Close(p.recvFD)
}

func (p *synProber) cookie(dst netip.Addr, port uint16) uint32 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	a := dst.As4()
	h.Write(a[:])
	h.Write([]byte{byte(port >> 8), byte(port)})
	return uint32(h.Sum64())
}

// send queues one SYN to dst:port and sends the batch when it is full.
func (p *synProber) send(dst netip.Addr, port uint16) error {
	b := p.pkts[p.n][:]
	s, d := p.src.As4(), dst.As4()
	// IPv4 header; the kernel fills in the checksum and, when zero, the id.
	copy(b, []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, unix.IPPROTO_TCP, 0, 0})
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	t := b[20:40]
	binary.BigEndian.PutUint16(t[0:], p.sport)
	binary.BigEndian.PutUint16(t[2:], port)
	binary.BigEndian.PutUint32(t[4:], p.cookie(dst, port))
	binary.BigEndian.PutUint32(t[8:], 0)
	t[12], t[13] = 5<<4, 0x02 // header length 20, SYN
	binary.BigEndian.PutUint16(t[14:], 65535)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(t[16:], tcpChecksum(s, d, t))
	p.addrs[p.n] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: d}
	p.n++
	if p.n >= max(1, min(p.Batch, synBatch)) {
		return p.flush()
	}
	return nil
}

// flush sends the queued SYNs with sendmmsg, retrying on a full queue.
func (p *synProber) flush() error {
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

// receive reads replies until stop is set, calling got for each valid one.
func (p *synProber) receive(stop *atomic.Bool, got func(synReply)) {
	buf := make([]byte, 1500)
	for !stop.Load() {
		n, _, err := unix.Recvfrom(p.recvFD, buf, 0)
		if err != nil {
			continue // timeout tick or EINTR
		}
		if r, ok := p.parseSYNReply(buf[:n]); ok {
			got(r)
		}
	}
}

var _ = context.Background
