// Package simulate runs a fleet of emulated IoT devices on loopback
// addresses, one address per device, for demos, tests and benchmarks.
//
// Devices come from data-driven profiles (embedded YAML under profiles/):
// IP cameras, DVRs, routers, smart plugs, printers, NAS boxes, thermostats and
// industrial gateways with real product names, versions and CPEs. Each device
// serves telnet, SSH, HTTP, FTP, MQTT, RTSP, SNMP, SSDP/UPnP, CoAP or
// Modbus/TCP as its profile says (and DNS version.bind, which only profiles
// users write declare), and accepts one credential per login
// service: a vendor default, an empty password, anonymous access or a strong
// random password, in proportions set by Options and reproducible by seed.
//
// Sockets never bind a wildcard address. With CAP_BPF and CAP_NET_ADMIN
// (root) the fleet opens one socket per port, bound to one device's address,
// and a BPF sk_lookup program steers every other device's address to it
// (see sklookup_linux.go): 10,000 devices cost ten sockets. Without those
// privileges every service of every device is its own socket bound to the
// device's address, which needs one file descriptor per service. Either
// way one epoll loop watches all sockets; accepted TCP connections become
// net.Conns served by one goroutine each, and UDP requests are answered in
// the loop from the address the client sent to.
//
// Without permission to bind ports below 1024 (or with HighPorts) the fleet
// uses the HighPorts map. SSDP answers unicast M-SEARCH on each device
// address (multicast does not reach loopback aliases).
package simulate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// DefaultPrefix is the loopback prefix the fleet uses by default.
var DefaultPrefix = netip.MustParsePrefix("127.20.0.0/16")

// Options configure a fleet.
type Options struct {
	Prefix    netip.Prefix // loopback prefix; DefaultPrefix when zero
	Devices   int          // number of devices (one address each)
	Seed      int64        // same seed, same fleet and truth
	Weak      float64      // share of devices with a vendor default credential
	Empty     float64      // share with an empty password
	Anonymous float64      // share with anonymous MQTT/FTP access
	HighPorts bool         // use the high-port map even when privileged ports are allowed
	Day       int          // the simulated day the fleet is started on (0: the first; see days.go)
	Logger    *slog.Logger // nil: discard

	perDevice bool // tests: never use sk_lookup steering
}

// ErrAddrInUse reports that a device address and port is already taken.
var ErrAddrInUse = errors.New("address already in use")

// Fleet is a running set of emulated devices.
type Fleet struct {
	opts    Options
	log     *slog.Logger
	devices []*device
	byAddr  map[netip.Addr]*device
	truth   *Truth
	high    bool

	epfd   int
	wakefd int
	socks  []sock // index = epoll data

	steer    *steering // nil in per-device mode
	hostKeys []ssh.Signer
	httpSrv  *http.Server
	httpLn   *connListener
	mqtt     *mqttBrokers

	ctx    context.Context
	cancel context.CancelFunc
	loopWG sync.WaitGroup
	connWG sync.WaitGroup

	mu     sync.Mutex            // guards conns and closed
	conns  map[net.Conn]struct{} // open TCP connections
	closed bool
}

// sock is one listening socket: a device service's own (per-device mode)
// or one port shared by all devices through sk_lookup steering (svc nil).
type sock struct {
	fd   int
	udp  bool
	port uint16
	svc  *deviceService
}

// Start plans the fleet from opts and the built-in profiles, binds every
// service and starts serving. It returns once all sockets are listening.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	profiles, err := BuiltinProfiles()
	if err != nil {
		return nil, err
	}
	return StartWithProfiles(ctx, opts, profiles)
}

// StartWithProfiles is Start with a caller-supplied profile set.
func StartWithProfiles(ctx context.Context, opts Options, profiles []Profile) (*Fleet, error) {
	if !opts.Prefix.IsValid() {
		opts.Prefix = DefaultPrefix
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	high := opts.HighPorts || !canBindPrivileged()
	devs, err := planFleet(opts, profiles, high)
	if err != nil {
		return nil, err
	}
	if high {
		log.Info("simulate: using the high-port map", "reason", highReason(opts.HighPorts),
			"telnet", 2323, "ssh", 2222, "http", 8080, "ftp", 2121, "rtsp", 8554, "snmp", "1161/udp",
			"ssdp", "1900/udp", "coap", "5683/udp", "modbus", 5020, "mqtt", 1883)
	}
	nsock := 0
	for _, d := range devs {
		nsock += len(d.services)
	}
	if err := raiseNoFile(0, log); err != nil {
		return nil, err
	}

	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &Fleet{opts: opts, log: log, devices: devs, byAddr: make(map[netip.Addr]*device, len(devs)),
		high: high, epfd: -1, wakefd: -1, ctx: cctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	for _, d := range devs {
		f.byAddr[d.addr] = d
	}
	f.truth = buildTruth(opts.Seed, opts.Prefix.String(), devs)
	f.truth.Day = opts.Day
	if err := f.init(); err != nil {
		f.Close()
		return nil, err
	}
	started := time.Now()
	if err := f.bindAll(); err != nil {
		f.Close()
		return nil, err
	}
	f.loopWG.Add(1)
	go f.loop()
	mode := "per-device sockets"
	if f.steer != nil {
		mode = "sk_lookup steering"
	}
	log.Info("simulate: fleet listening", "devices", len(devs), "services", nsock, "sockets", len(f.socks),
		"mode", mode, "prefix", opts.Prefix, "bind", time.Since(started).Round(time.Millisecond))
	// Stop when the caller's context ends.
	go func() {
		select {
		case <-ctx.Done():
			f.Close()
		case <-cctx.Done():
		}
	}()
	return f, nil
}

func highReason(forced bool) string {
	if forced {
		return "--high-ports"
	}
	return "ports below 1024 need root or CAP_NET_BIND_SERVICE"
}

// canBindPrivileged reports whether this process may bind ports below 1024.
func canBindPrivileged() bool {
	if os.Geteuid() == 0 {
		return true
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n <= 21 {
			return true
		}
	}
	return false
}

// raiseNoFile raises RLIMIT_NOFILE to the hard limit and checks that nsock
// sockets plus headroom for connections fit.
func raiseNoFile(nsock int, log *slog.Logger) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("get RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			log.Warn("simulate: cannot raise RLIMIT_NOFILE", "err", err)
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		}
	}
	need := uint64(nsock) + 256
	if need > rl.Cur {
		return fmt.Errorf("fleet needs %d sockets plus headroom (%d file descriptors) but RLIMIT_NOFILE is %d: use fewer devices or raise the hard limit (ulimit -Hn)", nsock, need, rl.Cur)
	}
	return nil
}

func (f *Fleet) init() error {
	var err error
	if f.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll_create: %w", err)
	}
	if f.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, f.wakefd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	f.hostKeys = []ssh.Signer{signer}
	f.startHTTP()
	if f.mqtt, err = newMQTTBrokers(f.log); err != nil {
		return err
	}
	return nil
}

// bindAll binds the fleet's sockets: shared sockets with sk_lookup steering
// where the kernel and privileges allow, else one socket per device service.
func (f *Fleet) bindAll() error {
	if !f.opts.perDevice {
		err := f.bindShared()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNoSteering) {
			return err
		}
		f.log.Info("simulate: falling back to one socket per device service", "reason", err)
		f.unbind()
	}
	return f.bindPerDevice()
}

// unbind closes every socket registered so far.
func (f *Fleet) unbind() {
	for _, s := range f.socks {
		unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		unix.Close(s.fd)
	}
	f.socks = nil
	if f.steer != nil {
		f.steer.close()
		f.steer = nil
	}
}

// register adds a socket to the epoll set.
func (f *Fleet) register(s sock) error {
	idx := len(f.socks)
	f.socks = append(f.socks, s)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(idx)}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl port %d: %w", s.port, err)
	}
	return nil
}

// bindShared opens one socket per (transport, port), bound to the first
// device serving it, and steers every device's address to it with sk_lookup.
func (f *Fleet) bindShared() error {
	if err := checkConflicts(f.devices, true); err != nil {
		return err
	}
	type group struct {
		udp  bool
		port uint16
	}
	index := map[group]uint32{}
	var fds []int
	var entries []steerEntry
	for _, d := range f.devices {
		for _, s := range d.services {
			udp := udpProtocols[s.sp.Protocol]
			g := group{udp, s.port}
			idx, ok := index[g]
			if !ok {
				// One socket takes every device's connections: a deep accept
				// queue. A TCP listener may sit on any port (accepted sockets
				// keep the dialled address and port), so it takes an ephemeral
				// one and a wildcard listener elsewhere on the same port (a
				// system sshd or lighttpd) does not stop the fleet. UDP
				// replies leave from the socket's port, so UDP binds the real one.
				bindPort := s.port
				if !udp {
					bindPort = 0
				}
				fd, err := bindSocket(d.addr, bindPort, udp, 65535)
				if err != nil {
					return err
				}
				if udp {
					_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
					if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
						unix.Close(fd)
						return fmt.Errorf("IP_PKTINFO: %w", err)
					}
				}
				idx = uint32(len(f.socks))
				index[g] = idx
				fds = append(fds, fd)
				if err := f.register(sock{fd: fd, udp: udp, port: s.port}); err != nil {
					return err
				}
			}
			proto := uint8(unix.IPPROTO_TCP)
			if udp {
				proto = unix.IPPROTO_UDP
			}
			entries = append(entries, steerEntry{ip: d.addr.As4(), port: s.port, proto: proto, sock: idx})
		}
	}
	if err := probeTaken(f.devices); err != nil {
		return err
	}
	st, err := newSteering(fds, entries)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoSteering, err)
	}
	f.steer = st
	return nil
}

// bindPerDevice creates, binds and registers one socket per device service.
func (f *Fleet) bindPerDevice() error {
	total := 0
	for _, d := range f.devices {
		total += len(d.services)
	}
	if err := raiseNoFile(total, f.log); err != nil {
		return err
	}
	f.socks = make([]sock, 0, total)
	for _, d := range f.devices {
		for _, s := range d.services {
			udp := udpProtocols[s.sp.Protocol]
			fd, err := bindSocket(d.addr, s.port, udp, 64)
			if err != nil {
				return err
			}
			if err := f.register(sock{fd: fd, udp: udp, port: s.port, svc: s}); err != nil {
				unix.Close(fd)
				return err
			}
		}
	}
	return nil
}

// bindSocket binds a non-blocking socket; TCP sockets listen with the given backlog.
func bindSocket(a netip.Addr, port uint16, udp bool, backlog int) (int, error) {
	typ, proto := unix.SOCK_STREAM, "tcp"
	if udp {
		typ, proto = unix.SOCK_DGRAM, "udp"
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket for %s:%d/%s: %w", a, port, proto, err)
	}
	if !udp {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return -1, fmt.Errorf("bind %s:%d/%s: %w", a, port, proto, ErrAddrInUse)
		}
		return -1, fmt.Errorf("bind %s:%d/%s: %w", a, port, proto, err)
	}
	if !udp {
		if err := unix.Listen(fd, backlog); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("listen %s:%d/%s: %w", a, port, proto, err)
		}
	}
	return fd, nil
}

// loop waits for readiness on every socket: it accepts TCP connections and
// answers UDP requests, until the wake eventfd is signalled.
func (f *Fleet) loop() {
	defer f.loopWG.Done()
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, 64*1024)
	for {
		n, err := unix.EpollWait(f.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			f.log.Error("simulate: epoll_wait", "err", err)
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd < 0 {
				return
			}
			s := &f.socks[ev.Fd]
			if s.udp {
				f.serveUDP(s, buf)
			} else {
				f.acceptAll(s)
			}
		}
	}
}

func (f *Fleet) acceptAll(s *sock) {
	for {
		nfd, _, err := unix.Accept4(s.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				return
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				f.log.Warn("simulate: out of file descriptors, delaying accepts")
				time.Sleep(20 * time.Millisecond)
				return
			}
			f.log.Debug("simulate: accept", "err", err)
			return
		}
		file := os.NewFile(uintptr(nfd), "")
		c, err := net.FileConn(file)
		file.Close()
		if err != nil {
			f.log.Debug("simulate: fileconn", "err", err)
			continue
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.connWG.Add(1)
		go f.serveConn(c, s)
	}
}

func (f *Fleet) serveUDP(s *sock, buf []byte) {
	if s.svc == nil {
		f.serveSharedUDP(s, buf)
		return
	}
	for {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			return
		}
		resp := f.answerUDP(s.svc, buf[:n])
		if resp != nil {
			_ = unix.Sendto(s.fd, resp, 0, from)
		}
	}
}

// serveSharedUDP answers datagrams on a shared socket: IP_PKTINFO names the
// address the client sent to, and the reply leaves from that address.
func (f *Fleet) serveSharedUDP(s *sock, buf []byte) {
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			continue
		}
		var dst [4]byte
		found := false
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= 12 {
				copy(dst[:], m.Data[8:12]) // struct in_pktinfo: ifindex, spec_dst, addr
				found = true
			}
		}
		if !found {
			continue
		}
		svc := f.serviceAt(&net.UDPAddr{IP: net.IP(dst[:])}, s.port, true)
		if svc == nil {
			continue
		}
		resp := f.answerUDP(svc, buf[:n])
		if resp != nil {
			_, _ = unix.SendmsgN(s.fd, resp, unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: dst}), from, 0)
		}
	}
}

// serviceAt finds the device service at a local address and port.
func (f *Fleet) serviceAt(a net.Addr, port uint16, udp bool) *deviceService {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	d := f.byAddr[ip.Unmap()]
	if d == nil {
		return nil
	}
	for _, s := range d.services {
		if s.port == port && udpProtocols[s.sp.Protocol] == udp {
			return s
		}
	}
	return nil
}

// answerUDP handles one datagram; a panic in a handler drops the datagram.
func (f *Fleet) answerUDP(s *deviceService, req []byte) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("simulate: udp handler panic", "proto", s.sp.Protocol, "addr", s.dev.addr, "panic", r)
			resp = nil
		}
	}()
	switch s.sp.Protocol {
	case "snmp":
		return answerSNMP(s, req)
	case "ssdp":
		return answerSSDP(s, req)
	case "coap":
		return answerCoAP(s, req)
	case "dns":
		return answerDNS(s, req)
	case "bacnet":
		return answerBACnet(s, req)
	case "onvif":
		return answerONVIF(s, req)
	case "mdns":
		return answerMDNS(s, req)
	}
	return nil
}

// connIdle is how long a TCP connection may stay silent.
const connIdle = 30 * time.Second

func (f *Fleet) serveConn(c net.Conn, sk *sock) {
	defer f.connWG.Done()
	handedOff := false
	s := sk.svc
	if s == nil {
		s = f.serviceAt(c.LocalAddr(), sk.port, false)
		if s == nil {
			f.untrack(c)
			c.Close()
			return
		}
	}
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("simulate: handler panic", "proto", s.sp.Protocol, "addr", s.dev.addr, "panic", r, "stack", string(debug.Stack()))
		}
		if !handedOff {
			f.untrack(c)
			c.Close()
		}
	}()
	_ = c.SetDeadline(time.Now().Add(connIdle))
	switch s.sp.Protocol {
	case "telnet":
		serveTelnet(c, s)
	case "ssh":
		f.serveSSH(c, s)
	case "ftp":
		serveFTP(c, s)
	case "rtsp":
		serveRTSP(c, s)
	case "modbus":
		serveModbus(c, s)
	case "xmeye":
		serveXMeye(c, s)
	case "dvrip":
		serveDVRIP(c, s)
	case "enip":
		serveENIP(c, s)
	case "s7":
		serveS7(c, s)
	case "dnp3":
		serveDNP3(c, s)
	case "fox":
		serveFox(c, s)
	case "hiksdk":
		serveHikSDK(c, s)
	case "http", "cwmp":
		handedOff = f.httpLn.push(f.ctx, &deviceConn{Conn: c, svc: s, f: f})
	case "https":
		handedOff = f.httpLn.push(f.ctx, &deviceConn{Conn: tls.Server(c, serverTLS(s.cert)), raw: c, svc: s, f: f})
	case "mqtt":
		f.mqtt.serve(c, s)
	}
}

func (f *Fleet) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Fleet) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// Truth returns the fleet's ground truth.
func (f *Fleet) Truth() *Truth { return f.truth }

// Addrs returns the device addresses in order.
func (f *Fleet) Addrs() []netip.Addr {
	out := make([]netip.Addr, len(f.devices))
	for i, d := range f.devices {
		out[i] = d.addr
	}
	return out
}

// TCPPorts returns the sorted TCP ports in use by at least one device.
func (f *Fleet) TCPPorts() []uint16 { return f.ports(false) }

// UDPPorts returns the sorted UDP ports in use by at least one device.
func (f *Fleet) UDPPorts() []uint16 { return f.ports(true) }

func (f *Fleet) ports(udp bool) []uint16 {
	seen := map[uint16]bool{}
	for _, d := range f.devices {
		for _, s := range d.services {
			if udpProtocols[s.sp.Protocol] == udp {
				seen[s.port] = true
			}
		}
	}
	out := make([]uint16, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// HighPortMap reports whether the fleet uses the high-port map.
func (f *Fleet) HighPortMap() bool { return f.high }

// Close stops serving, closes every socket and connection and waits for
// the handlers to return. It is safe to call more than once.
func (f *Fleet) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()

	f.cancel()
	if f.wakefd >= 0 {
		var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}
		_, _ = unix.Write(f.wakefd, one)
	}
	f.loopWG.Wait()
	if f.steer != nil {
		f.steer.close()
	}
	for _, s := range f.socks {
		unix.Close(s.fd)
	}
	if f.httpSrv != nil {
		f.httpLn.Close()
		_ = f.httpSrv.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	if f.mqtt != nil {
		f.mqtt.close()
	}
	f.connWG.Wait()
	if f.epfd >= 0 {
		unix.Close(f.epfd)
	}
	if f.wakefd >= 0 {
		unix.Close(f.wakefd)
	}
	return nil
}

// Sockets reports how many listening sockets the fleet holds.
func (f *Fleet) Sockets() int { return len(f.socks) }
