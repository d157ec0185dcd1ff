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

// fanout holds the windows of actors that are not IPv4, and the windows of
// IPv4 actors that do not fit in their actorTable entry (fanactor.go) under
// packed integer keys (cheaper to hash and compare than addresses).
type fanout struct {
	bucket  int64 // latest window seen; older states are pruned when it moves
	h       map[hKey]*hState
	v       map[pairKey]vState
	targets map[netip.Addr]int // vertical pairs per actor in the current window
	h4      winTable[hState]   // actor<<32 | port<<8 | proto
	v4      winTable[vState]   // actor<<32 | target
	// tablesOnly keeps IPv4 actors' windows out of their entries (tests
	// compare the two).
	tablesOnly bool
}

// initFanout empties the fan-out windows.
func (e *Engine) initFanout() {
	f := &e.fan
	f.h, f.v, f.targets = map[hKey]*hState{}, map[pairKey]vState{}, map[netip.Addr]int{}
	f.h4, f.v4 = winTable[hState]{}, winTable[vState]{}
	for i := range e.actors4.ents {
		e.actors4.ents[i].fanActor, e.actors4.ents[i].fanCounts = fanActor{}, fanCounts{}
	}
}

func (f *fanout) size() int {
	return len(f.h) + len(f.v) + len(f.targets) + f.h4.len() + f.v4.len()
}

// eachH calls fn for every horizontal window (fn may keep the pointer).
func (e *Engine) eachH(fn func(hKey, *hState)) {
	f := &e.fan
	for k, st := range f.h {
		fn(k, st)
	}
	for i := range e.actors4.ents {
		ae := &e.actors4.ents[i]
		for j, port := range ae.hpp[:ae.nh] {
			pp := portPP(port, bit(ae.hudp, j))
			fn(hKey{addr4(ae.key), uint16(pp), uint8(pp >> 16)}, ae.hState(f, j))
		}
	}
	f.h4.each(func(k uint64, st *hState) {
		fn(hKey{addr4(uint32(k >> 32)), uint16(k >> 8), uint8(k)}, st)
	})
}

// eachV calls fn for every vertical pair.
func (e *Engine) eachV(fn func(pairKey, vState)) {
	f := &e.fan
	for k, st := range f.v {
		fn(k, st)
	}
	for i := range e.actors4.ents {
		ae := &e.actors4.ents[i]
		for j, t := range ae.vt[:ae.nv] {
			fn(pairKey{addr4(ae.key), addr4(t)}, vState{bucket: f.window(bit(ae.vcur, j)), first: ae.firstV(j)})
		}
	}
	f.v4.each(func(k uint64, st *vState) {
		fn(pairKey{addr4(uint32(k >> 32)), addr4(uint32(k))}, *st)
	})
}

// putH and putV restore windows (LoadState), those of IPv4 actors to the
// tables.
func (e *Engine) putH(k hKey, st *hState) {
	f := &e.fan
	if a, ok := v4(k.actor); ok {
		h, found := f.h4.get(uint64(a)<<32|uint64(k.port)<<8|uint64(k.proto), true)
		*h = *st
		if !found {
			e.actors4.get(a).htab |= hBit(uint32(k.proto)<<16 | uint32(k.port))
		}
	} else {
		f.h[k] = st
	}
}

func (e *Engine) putV(k pairKey, v vState) {
	f := &e.fan
	a, ok1 := v4(k.actor)
	t, ok2 := v4(k.peer)
	if ok1 && ok2 {
		p, found := f.v4.get(uint64(a)<<32|uint64(t), true)
		*p = v
		if !found {
			ae := e.actors4.get(a)
			ae.targets++
			ae.vtab |= vBit(t)
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

// observeFanout counts probe r in its actor's windows; ae is the actor's
// entry when the actor is IPv4 (its windows are inline there, or in the
// packed tables), else nil (the maps).
func (e *Engine) observeFanout(r *flow.Record, actor netip.Addr, ae *actorEnt, ts int64, known, inbound bool) {
	b := ts / int64(e.rules.Scan.Window)
	f := &e.fan
	if f.h == nil {
		e.initFanout()
	}
	if b > f.bucket {
		last := f.bucket
		f.bucket = b
		e.pruneFanout(last, b-1)
	}
	if ae != nil {
		e.fanoutInline(ae, actor, r, b, known, inbound)
		return
	}
	hk := hKey{actor, r.DstPort, r.Proto}
	h := f.h[hk]
	if h == nil {
		h = &hState{bucket: b}
		f.h[hk] = h
	}
	e.horizontal(h, r, actor, b, known, inbound)
	e.verticalMap(r, actor, b, known, inbound)
}

// pruneFanout forgets the windows before keep, and the vertical pair
// counts, as the latest window moves on from last.
func (e *Engine) pruneFanout(last, keep int64) {
	f := &e.fan
	clear(f.targets)
	for k, s := range f.h {
		if s.bucket < keep {
			delete(f.h, k)
		}
	}
	for k, s := range f.v {
		if s.bucket < keep {
			delete(f.v, k)
		}
	}
	for i := range e.actors4.ents {
		e.actors4.ents[i].prune(last, keep)
	}
	f.h4.prune(func(s *hState) bool { return s.bucket >= keep })
	f.v4.prune(func(s *vState) bool { return s.bucket >= keep })
	// Every IPv4 actor with a window in the tables has an entry (Observe
	// and putH/putV made it, expire keeps it).
	f.h4.each(func(k uint64, _ *hState) { e.actors4.find(uint32(k >> 32)).htab |= hBit(h4PP(k)) })
	f.v4.each(func(k uint64, _ *vState) { e.actors4.find(uint32(k >> 32)).vtab |= vBit(uint32(k)) })
}

// horizontal counts r's destination in its actor/port window h.
func (e *Engine) horizontal(h *hState, r *flow.Record, actor netip.Addr, b int64, known, inbound bool) {
	if b > h.bucket {
		h.bucket, h.fired = b, false
		h.dsts.clear()
	}
	if h.fired {
		return
	}
	h.dsts.add(r.Dst)
	if th := e.threshold(e.rules.Scan.HorizontalMinDestinations, r.SamplingRate); h.dsts.len() >= th {
		h.fired = true
		e.alertHorizontal(r, actor, h.dsts.len(), th, known, inbound)
		h.dsts.clear()
	}
}

func (e *Engine) alertHorizontal(r *flow.Record, actor netip.Addr, n, th int, known, inbound bool) {
	e.alertFlow(Scan, r, actor, netip.Addr{}, known, inbound, fmt.Sprintf(
		"horizontal scan: probed %d distinct hosts on %d/%s within %s (threshold %d%s)",
		n, r.DstPort, flow.ProtoName(r.Proto), e.rules.Scan.Window, th, sampled(r.SamplingRate)))
}

// verticalMap counts r's port in its actor/target pair's window held in
// the map (actor or target not IPv4).
func (e *Engine) verticalMap(r *flow.Record, actor netip.Addr, b int64, known, inbound bool) {
	f := &e.fan
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
