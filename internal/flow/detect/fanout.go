package detect

import (
	"fmt"
	"net/netip"
	"slices"

	"iotwatch/internal/flow"
)

// Scanning of any port. A scan is many probes — connection attempts that
// exchanged (next to) nothing — from one actor within a window:
//
//   - horizontal: one port (and protocol) on many distinct hosts (a worm
//     looking for one service, an nmap -sn/-p sweep, Mozi/Gafgyt DHT
//     chatter on UDP);
//   - vertical: many distinct ports on one host (nmap against a target).
//
// The login-port case (Mirai: 23/2323/22, any flow, not only probes) is
// observeScan. Probes are recognised from the flow's counters: at most
// scan.probe_max_packets packets each way (a SYN, a SYN-ACK and a RST; a UDP
// datagram and perhaps an ICMP-elicited nothing). Answers from a service
// port to an ephemeral port are not probes (a server replying to many
// clients), nor is traffic to multicast and broadcast addresses or to
// scan.ignore_ports (DNS, NTP, NetBIOS, mDNS, SSDP, LLMNR, WS-Discovery).

type hKey struct {
	actor netip.Addr
	port  uint16
	proto uint8
}

type hState struct {
	bucket int64
	dsts   addrSet
	fired  bool
}

// addrSet is a set of addresses. IPv4 ones are held by number: the first
// few inline, compared one by one (most windows see a handful of hosts, and
// a map per window cost a hash, an allocation and a clear per probe), the
// rest in a map once there are more.
type addrSet struct {
	n     uint8 // addresses in few
	few   [smallSet]uint32
	v4    map[uint32]struct{}
	other map[netip.Addr]struct{}
}

// smallSet is how many IPv4 addresses an addrSet holds inline.
const smallSet = 12

func (s *addrSet) add(a netip.Addr) {
	if u, ok := v4(a); ok {
		s.add4(u)
		return
	}
	if s.other == nil {
		s.other = map[netip.Addr]struct{}{}
	}
	s.other[a] = struct{}{}
}

func (s *addrSet) add4(u uint32) {
	if s.v4 != nil {
		s.v4[u] = struct{}{}
		return
	}
	for _, x := range s.few[:s.n] {
		if x == u {
			return
		}
	}
	if int(s.n) < smallSet {
		s.few[s.n] = u
		s.n++
		return
	}
	s.v4 = make(map[uint32]struct{}, 2*smallSet)
	for _, x := range s.few[:s.n] {
		s.v4[x] = struct{}{}
	}
	s.n = 0
	s.v4[u] = struct{}{}
}

func (s *addrSet) len() int { return int(s.n) + len(s.v4) + len(s.other) }

func (s *addrSet) clear() {
	s.n = 0
	s.v4 = nil
	clear(s.other)
}

// sorted returns the addresses in order.
func (s *addrSet) sorted() []netip.Addr {
	out := make([]netip.Addr, 0, s.len())
	for _, u := range s.few[:s.n] {
		out = append(out, addr4(u))
	}
	for u := range s.v4 {
		out = append(out, addr4(u))
	}
	for a := range s.other {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// vState holds one actor/target pair's probed ports in a window, by value in
// the map: most pairs see one probe, held in first without an allocation;
// further ports go to a short slice (the threshold bounds it).
type vState struct {
	bucket int64
	first  uint32   // proto<<16 | port + 1 (0: none)
	more   []uint32 // further distinct ports, proto<<16 | port
	fired  bool
}

func (v *vState) n() int { return len(v.more) + int(min(v.first, 1)) }

// add records a port; it reports whether the port is new.
func (v *vState) add(pp uint32) bool {
	switch {
	case v.first == 0:
		v.first = pp + 1
	case v.first == pp+1 || slices.Contains(v.more, pp):
		return false
	default:
		v.more = append(v.more, pp)
	}
	return true
}

// maxVerticalTargets bounds the targets tracked for vertical scanning per
// actor and window: an actor sweeping a million hosts does not hold a
// million pair states (a vertical scan is of few targets).
const maxVerticalTargets = 4096

// fanout holds the windows; IPv4 actors' are under packed integer keys
// (cheaper to hash and compare than addresses: a large capture looks up
// two of them per probe).
type fanout struct {
	bucket   int64 // latest window seen; older states are pruned when it moves
	h        map[hKey]*hState
	v        map[pairKey]vState
	targets  map[netip.Addr]int // vertical pairs per actor in the current window
	h4       winTable[hState]   // actor<<32 | port<<8 | proto
	v4       winTable[vState]   // actor<<32 | target
	targets4 map[uint32]int
}

func (f *fanout) init() {
	f.h, f.v, f.targets = map[hKey]*hState{}, map[pairKey]vState{}, map[netip.Addr]int{}
	f.h4, f.v4, f.targets4 = winTable[hState]{}, winTable[vState]{}, map[uint32]int{}
}

func (f *fanout) size() int {
	return len(f.h) + len(f.v) + len(f.targets) + f.h4.len() + f.v4.len() + len(f.targets4)
}

// eachH calls fn for every horizontal window.
func (f *fanout) eachH(fn func(hKey, *hState)) {
	for k, st := range f.h {
		fn(k, st)
	}
	f.h4.each(func(k uint64, st *hState) {
		fn(hKey{addr4(uint32(k >> 32)), uint16(k >> 8), uint8(k)}, st)
	})
}

// eachV calls fn for every vertical pair.
func (f *fanout) eachV(fn func(pairKey, vState)) {
	for k, st := range f.v {
		fn(k, st)
	}
	f.v4.each(func(k uint64, st *vState) {
		fn(pairKey{addr4(uint32(k >> 32)), addr4(uint32(k))}, *st)
	})
}

// putH and putV restore windows (LoadState).
func (f *fanout) putH(k hKey, st *hState) {
	if a, ok := v4(k.actor); ok {
		h, _ := f.h4.get(uint64(a)<<32|uint64(k.port)<<8|uint64(k.proto), true)
		*h = *st
	} else {
		f.h[k] = st
	}
}

func (f *fanout) putV(k pairKey, v vState) {
	a, ok1 := v4(k.actor)
	t, ok2 := v4(k.peer)
	if ok1 && ok2 {
		p, found := f.v4.get(uint64(a)<<32|uint64(t), true)
		*p = v
		if !found {
			f.targets4[a]++
		}
	} else {
		f.v[k] = v
		f.targets[k.actor]++
	}
}

// probe reports whether r is a connection attempt that exchanged next to nothing.
func (e *Engine) probe(r *flow.Record) bool {
	rl := e.rules.Scan
	// Sampled counters are scaled by the rate: compare the packets seen.
	rate := uint64(max(r.SamplingRate, 1))
	if r.Packets/rate > rl.ProbeMaxPackets || r.RevPackets/rate > rl.ProbeMaxPackets {
		return false
	}
	// A sampled packet of a data transfer is as likely as a probe's: under
	// sampling only header-sized packets (SYN, RST: ≤ 100 B on average)
	// count.
	if rate > 1 && (r.Packets == 0 || r.Bytes/r.Packets > 100) {
		return false
	}
	if has(&e.scanIgnore, r.DstPort) {
		return false
	}
	if r.SrcPort != 0 && r.SrcPort < 1024 && r.DstPort >= 1024 {
		return false // a service answering a client
	}
	d := r.Dst
	if d.IsMulticast() || d.IsUnspecified() || d.IsLoopback() {
		return false
	}
	if d.Is4() && d.As4()[3] == 255 {
		return false // broadcast (of any /24 or wider)
	}
	return true
}

// threshold scales a count threshold to the sampling rate: at 1 in N packet
// sampling a probe of one or two packets is seen with probability about
// 1/N, so the destinations seen shrink by N. The scaled threshold keeps a
// floor of scan.sampled_min (so that a few sampled flows are never a scan).
func (e *Engine) threshold(n int, rate uint32) int {
	if rate <= 1 {
		return n
	}
	return max(n/int(rate), e.rules.Scan.SampledMin)
}

func (e *Engine) observeFanout(r *flow.Record, actor netip.Addr, ts int64, known, inbound bool) {
	rl := e.rules.Scan
	w := int64(rl.Window)
	b := ts / w
	f := &e.fan
	if f.h == nil {
		f.init()
	}
	if b > f.bucket {
		f.bucket = b
		clear(f.targets)
		clear(f.targets4)
		for k, s := range f.h {
			if s.bucket < b-1 {
				delete(f.h, k)
			}
		}
		f.h4.prune(func(s *hState) bool { return s.bucket >= b-1 })
		for k, s := range f.v {
			if s.bucket < b-1 {
				delete(f.v, k)
			}
		}
		f.v4.prune(func(s *vState) bool { return s.bucket >= b-1 })
	}

	a4, ok1 := v4(actor)
	t4, ok2 := v4(r.Dst)
	var h *hState
	if ok1 {
		var found bool
		if h, found = f.h4.get(uint64(a4)<<32|uint64(r.DstPort)<<8|uint64(r.Proto), true); !found {
			h.bucket = b
		}
	} else {
		hk := hKey{actor, r.DstPort, r.Proto}
		if h = f.h[hk]; h == nil {
			h = &hState{bucket: b}
			f.h[hk] = h
		}
	}
	if b > h.bucket {
		h.bucket, h.fired = b, false
		h.dsts.clear()
	}
	if !h.fired {
		h.dsts.add(r.Dst)
		if th := e.threshold(rl.HorizontalMinDestinations, r.SamplingRate); h.dsts.len() >= th {
			h.fired = true
			e.alertFlow(Scan, r, actor, netip.Addr{}, known, inbound, fmt.Sprintf(
				"horizontal scan: probed %d distinct hosts on %d/%s within %s (threshold %d%s)",
				h.dsts.len(), r.DstPort, flow.ProtoName(r.Proto), rl.Window, th, sampled(r.SamplingRate)))
			h.dsts.clear()
		}
	}

	if ok1 && ok2 {
		vk := uint64(a4)<<32 | uint64(t4)
		if p, ok := f.v4.get(vk, false); ok {
			e.vertical(p, true, r, actor, b, known, inbound)
			return
		}
		if f.targets4[a4] >= maxVerticalTargets {
			return
		}
		f.targets4[a4]++
		var v vState
		if e.vertical(&v, false, r, actor, b, known, inbound) {
			p, _ := f.v4.get(vk, true)
			*p = v
		}
		return
	}
	vk := pairKey{actor, r.Dst}
	v, ok := f.v[vk]
	if !ok {
		if f.targets[actor] >= maxVerticalTargets {
			return
		}
		f.targets[actor]++
	}
	if e.vertical(&v, ok, r, actor, b, known, inbound) {
		f.v[vk] = v
	}
}

// vertical counts r's port in its actor/target pair's window v (found:
// whether the pair had a state) and reports whether v is to be stored.
func (e *Engine) vertical(v *vState, found bool, r *flow.Record, actor netip.Addr, b int64, known, inbound bool) bool {
	rl := e.rules.Scan
	if !found || b > v.bucket {
		*v = vState{bucket: b}
		found = false
	}
	if v.fired || !v.add(uint32(r.Proto)<<16|uint32(r.DstPort)) {
		return !found
	}
	th := e.threshold(rl.VerticalMinPorts, r.SamplingRate)
	if v.n() < th {
		return true
	}
	v.fired = true
	n := v.n()
	v.first, v.more = 0, nil
	// One vertical-scan alert per actor and day (nmap against a subnet
	// would otherwise raise one per target).
	once := alertKey{Scan + "/vertical", actor, netip.Addr{}, r.Start.Unix() / 86400}
	if e.seen[once] {
		return true
	}
	e.seen[once] = true
	if a := e.alertFlow(Scan, r, actor, r.Dst, known, inbound, fmt.Sprintf(
		"vertical scan: probed %d distinct ports of %s within %s (threshold %d%s)",
		n, r.Dst, rl.Window, th, sampled(r.SamplingRate))); a != nil {
		a.Port = 0
	}
	return true
}

// sampled describes a sampling rate for a reason string (counters of
// sampled telemetry are already scaled by the rate).
func sampled(rate uint32) string {
	if rate <= 1 {
		return ""
	}
	return fmt.Sprintf("; telemetry sampled 1:%d, thresholds scaled", rate)
}

// distinct counts r's destination in actor's window state in m and
// reports whether the count reached th just now.
func (e *Engine) distinct(m map[netip.Addr]*hState, r *flow.Record, actor netip.Addr, ts int64, th int) (int, bool) {
	b := ts / int64(e.rules.Scan.Window)
	s := m[actor]
	if s == nil {
		s = &hState{bucket: b}
		m[actor] = s
	}
	if b > s.bucket {
		s.bucket, s.fired = b, false
		s.dsts.clear()
	}
	if s.fired {
		return 0, false
	}
	s.dsts.add(r.Dst)
	n := s.dsts.len()
	if n < th {
		return n, false
	}
	s.fired = true
	s.dsts.clear()
	return n, true
}

// observeDHT counts the distinct hosts an actor sends DHT (KRPC) messages
// to. Mozi-family bots keep a P2P overlay over the BitTorrent DHT and
// contact many nodes a minute; IoT devices do not run BitTorrent clients
// (a PC that does is named in the reason as the benign explanation).
func (e *Engine) observeDHT(r *flow.Record, actor netip.Addr, ts int64, known, inbound bool) {
	th := e.threshold(e.rules.Scan.DHTMinPeers, r.SamplingRate)
	if n, ok := e.distinct(e.dht, r, actor, ts, th); ok {
		e.alertFlow(P2P, r, actor, netip.Addr{}, known, inbound, fmt.Sprintf(
			"DHT (KRPC) messages to %d distinct hosts within %s (threshold %d): a P2P botnet overlay such as Mozi's, unless the device runs a BitTorrent client",
			n, e.rules.Scan.Window, th))
	}
}

// observeMirai counts SYNs carrying Mirai's fingerprint (sequence number =
// destination address) per actor and window. A random sequence number
// matches its destination with probability 2^-32, so a few such SYNs to
// distinct hosts are Mirai's (or a descendant's) scanner beyond doubt.
func (e *Engine) observeMirai(r *flow.Record, actor netip.Addr, ts int64, known, inbound bool) {
	th := e.rules.Scan.MiraiMinSYNs
	if n, ok := e.distinct(e.mirai, r, actor, ts, th); ok {
		e.alertFlow(Mirai, r, actor, netip.Addr{}, known, inbound, fmt.Sprintf(
			"Mirai scanner fingerprint: %d SYNs to distinct hosts (port %d/tcp among them) with the TCP sequence number equal to the destination address within %s (threshold %d)",
			n, r.DstPort, e.rules.Scan.Window, th))
	}
}
