// Package detect decides from flow records which devices behave like botnet
// members: telnet/SSH scanning fan-out, brute-force login bursts, C2
// beaconing, DDoS participation and contact with known-bad indicators.
// Thresholds are data (rules.yaml, overridable); every alert carries a reason
// that quotes what was measured and the threshold it crossed.
package detect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"iotwatch/internal/flow"
	"iotwatch/internal/flow/intel"
)

// Detector names, used as Alert.Detector and finding kinds.
const (
	Scan       = "scanning"
	BruteForce = "brute-force"
	Beacon     = "c2-beaconing"
	DDoS       = "ddos-participation"
	KnownBad   = "known-bad-peer"
	// Mirai is the Mirai scanner's packet fingerprint (pcap only): SYNs
	// whose sequence number is the destination address.
	Mirai = "mirai-fingerprint"
	// P2P is fan-out over a DHT (KRPC over UDP) from a device: the overlay
	// of Mozi-family P2P botnets (pcap only).
	P2P = "p2p-dht"
	// LongConn is a TCP session between a device and an outside host held
	// for hours on a port no long-lived service of devices uses.
	LongConn = "long-connection"
)

// Engine runs every detector over a stream of oriented records. It implements
// flow.Observer and is not safe for concurrent use.
type Engine struct {
	rules Rules
	ind   *intel.Set

	scanPorts, bfPorts, beaconIgnore, scanIgnore, longAllow [65536 / 64]uint64 // port bitsets
	bfApps                                                  map[string]bool

	names   map[netip.Addr][]string // DNS answers: address → names
	namesAt map[netip.Addr]int64    // latest when the address was last answered
	scan    map[netip.Addr]*scanState
	bf      map[svcKey]*countState
	ddos    map[pairKey]*ddosState
	actors  map[netip.Addr]*actorWindow
	// IPv4 pairs and actors under packed keys (cheaper to hash and compare).
	ddos4   map[uint64]*ddosState
	actors4 actorTable
	// Beacon series: on pipeline relations (rels holds the series
	// index+1), or in beacon for records without a relation.
	rels        relState
	ser         seriesStore
	pend        pendingStore // first beats of IPv4 relations (see pending)
	beacon      map[svcKey]uint32
	beaconTimes int   // timestamps kept over all series
	latest      int64 // latest record start seen (Unix ns)
	restored    bool  // series were restored by LoadState
	// BeaconOverflow counts records of pairs not tracked because of max_pairs.
	BeaconOverflow int64
	// Owner, when set, names a peer's network owner (for beacon.allow_owners).
	Owner func(netip.Addr) string
	// Expected, when set, reports whether the maker declared the device's
	// outbound traffic to peer (MUD file, declared recipients), with the
	// declaration; periodic traffic so declared is a heartbeat, not C2.
	Expected func(device, peer netip.Addr, names []string, proto uint8, port uint16) (bool, string)
	// Heartbeats lists periodic series the declarations explain (not alerts).
	Heartbeats []Heartbeat
	// Allowed lists periodic series to allow-listed peers (not alerts);
	// Declared names the allow-list entry.
	Allowed []Heartbeat
	// Timers lists periodic series shaped like a device timer's heartbeat
	// (beacon.heartbeat; not alerts); Declared gives the measured shape.
	Timers []Heartbeat
	// Transit counts records between two outside addresses (not judged).
	Transit int64
	// Idle is how long state may stay idle before a checkpoint forgets it
	// (expire.go); zero means the rules' default, negative never.
	Idle    time.Duration
	expired int64 // latest when expire last ran

	fan fanout
	// Long connections seen in pieces (observeLong).
	sess       map[sessKey]session
	sessBucket int64
	mirai      map[netip.Addr]*hState
	dht        map[netip.Addr]*hState
	sampling   uint32 // highest sampling rate seen

	allowNets []netip.Prefix

	alerts []flow.Alert
	seen   map[alertKey]bool
	ahead  []aheadKey // ObserveBatch's
}

// Heartbeat is a periodic series that a declaration explains.
type Heartbeat struct {
	Device, Peer netip.Addr
	Port         uint16
	Reason       string // the periodicity measured
	Declared     string // the declaration that expects it
}

type svcKey struct {
	actor, peer netip.Addr
	port        uint16
	proto       uint8
}

type pairKey struct{ actor, peer netip.Addr }

type alertKey struct {
	det         string
	actor, peer netip.Addr
	day         int64
}

type scanState struct {
	bucket     int64
	dsts       map[netip.Addr]struct{}
	fired      bool
	p23, p2323 int // flows to 23 and 2323 in the window (Mirai probes them 9:1)
}

type countState struct {
	bucket, longBucket int64
	n, longN           int
	fired              bool
}

// actorWindow pre-filters DDoS tracking: per actor totals in the window;
// pairs are only tracked once the actor alone could cross a threshold.
type actorWindow struct {
	bucket  int64
	packets uint64
	flows   int
}

type ddosState struct {
	bucket         int64
	packets, bytes uint64
	flows          int
	fired          bool
}

var _ flow.Observer = (*Engine)(nil)

// maxSeriesTimes bounds the connection times kept per series (further ones
// are not kept; the series is judged on these).
const maxSeriesTimes = 512

// maxBeaconTimes bounds the connection timestamps kept for beaconing (4 bytes
// each: 128 MiB); further ones are counted in BeaconOverflow.
const maxBeaconTimes = 32 << 20

// New returns an engine; indicators may be nil.
func New(rules Rules, indicators *intel.Set) *Engine {
	e := &Engine{
		rules:  rules,
		ind:    indicators,
		bfApps: map[string]bool{},
		names:  map[netip.Addr][]string{}, namesAt: map[netip.Addr]int64{},
		scan:   map[netip.Addr]*scanState{},
		mirai:  map[netip.Addr]*hState{},
		dht:    map[netip.Addr]*hState{},
		bf:     map[svcKey]*countState{},
		ddos:   map[pairKey]*ddosState{},
		actors: map[netip.Addr]*actorWindow{},
		ddos4:  map[uint64]*ddosState{}, actors4: newActorTable(1 << 10),
		beacon: map[svcKey]uint32{},
		seen:   map[alertKey]bool{},
	}
	set := func(bs *[1024]uint64, ports []uint16) {
		for _, p := range ports {
			bs[p/64] |= 1 << (p % 64)
		}
	}
	set(&e.scanPorts, rules.Scan.Ports)
	set(&e.scanIgnore, rules.Scan.IgnorePorts)
	set(&e.longAllow, rules.LongConnection.AllowPorts)
	set(&e.bfPorts, rules.BruteForce.Ports)
	set(&e.beaconIgnore, rules.Beacon.IgnorePorts)
	for _, a := range rules.BruteForce.Apps {
		e.bfApps[a] = true
	}
	for _, n := range rules.Beacon.AllowNetworks {
		if p, err := netip.ParsePrefix(n); err == nil {
			e.allowNets = append(e.allowNets, p.Masked())
		}
	}
	return e
}

func has(bs *[1024]uint64, p uint16) bool { return bs[p/64]&(1<<(p%64)) != 0 }

// alert records a decision unless the same detector already alerted on the
// actor and peer that day; it returns the new alert (valid until the next
// alert) or nil.
func (e *Engine) alert(det string, actor, peer netip.Addr, t time.Time, known, inbound bool, reason string) *flow.Alert {
	k := alertKey{det, actor, peer, t.Unix() / 86400}
	if e.seen[k] {
		return nil
	}
	e.seen[k] = true
	e.alerts = append(e.alerts, flow.Alert{Detector: det, Device: actor, Peer: peer, Time: t.UTC(), Reason: reason, Known: known, Inbound: inbound})
	return &e.alerts[len(e.alerts)-1]
}

// alertFlow is alert for a decision taken on record r: the alert names r's
// service, source port and sampling rate.
func (e *Engine) alertFlow(det string, r *flow.Record, actor, peer netip.Addr, known, inbound bool, reason string) *flow.Alert {
	a := e.alert(det, actor, peer, r.Start, known, inbound, reason)
	if a != nil {
		a.SrcPort, a.Port, a.Proto = r.SrcPort, r.DstPort, r.Proto
		if r.SamplingRate > 1 {
			a.Sampling = r.SamplingRate
		}
	}
	return a
}

// ObserveDNS implements flow.Observer.
func (e *Engine) ObserveDNS(a flow.DNSAnswer) {
	e.namesAt[a.Addr] = e.latest
	ns := e.names[a.Addr]
	if !slices.Contains(ns, a.Name) && len(ns) < 16 {
		e.names[a.Addr] = append(ns, a.Name)
	}
}

// Observe implements flow.Observer.
func (e *Engine) Observe(r *flow.Record, o flow.Orientation) {
	var ae *actorEnt
	if a4, ok := v4(r.Src); ok && !o.Transit {
		ae = e.actors4.get(a4)
	}
	e.observe(r, o, ae)
}

// observe is Observe with the entry of r's actor when the actor is IPv4
// (and r not transit), else nil.
func (e *Engine) observe(r *flow.Record, o flow.Orientation, ae *actorEnt) {
	// The actor is the record's source: the initiator of a bidirectional
	// connection, or the sender of a unidirectional export record. It is a
	// device only when its address is in the monitored networks; an outside
	// actor's alerts are inbound (exposure of the device it acted on).
	actor, peer := r.Src, r.Dst
	inbound := !o.Outbound && !o.Internal
	known := o.Known && o.Outbound
	ts := r.Start.UnixNano()
	if ts > e.latest {
		e.latest = ts
	}
	if r.SamplingRate > e.sampling {
		e.sampling = r.SamplingRate
	}
	if o.Transit {
		e.Transit++
		return // between two outside hosts: no device acts or is acted on
	}
	if r.Proto == flow.ProtoTCP && !o.Internal {
		e.observeLong(r, o)
	}
	if r.Proto == flow.ProtoTCP || r.Proto == flow.ProtoUDP {
		if has(&e.scanPorts, r.DstPort) {
			e.observeScan(r, actor, ts, known, inbound)
		}
		if e.probe(r) {
			e.observeFanout(r, actor, ae, ts, known, inbound)
		}
		if r.MiraiSeq {
			e.observeMirai(r, actor, ts, known, inbound)
		}
		if r.App == flow.AppDHT {
			e.observeDHT(r, actor, ts, known, inbound)
		}
		if has(&e.bfPorts, r.DstPort) || (r.App != "" && e.bfApps[r.App]) {
			e.observeBruteForce(r, actor, peer, ts, known, inbound)
		}
		// Repeated connections to a login port are a brute force's, judged
		// by that detector, not beaconing.
		// C2 is outside: devices polling each other on the LAN are not beacons.
		if o.Outbound && !o.Internal && !has(&e.beaconIgnore, r.DstPort) && !has(&e.bfPorts, r.DstPort) {
			e.observeBeacon(r, actor, peer, ts, known, e.rels.at(o.Rel))
		}
	}
	e.observeDDoS(r, actor, ae, peer, ts, known, inbound)
	if e.rules.KnownBad.Enabled && e.ind != nil && e.ind.Len() > 0 && o.Outbound {
		e.observeKnownBad(r, o)
	}
}

func (e *Engine) observeScan(r *flow.Record, actor netip.Addr, ts int64, known, inbound bool) {
	w := int64(e.rules.Scan.Window)
	b := ts / w
	s := e.scan[actor]
	if s == nil {
		s = &scanState{bucket: b, dsts: map[netip.Addr]struct{}{}}
		e.scan[actor] = s
	}
	if b > s.bucket {
		s.bucket, s.fired, s.p23, s.p2323 = b, false, 0, 0
		clear(s.dsts)
	}
	if s.fired {
		return
	}
	switch r.DstPort {
	case 23:
		s.p23++
	case 2323:
		s.p2323++
	}
	s.dsts[r.Dst] = struct{}{}
	if th := e.threshold(e.rules.Scan.MinDestinations, r.SamplingRate); len(s.dsts) >= th {
		s.fired = true
		ratio := ""
		if s.p2323 > 0 && s.p23 > 0 {
			ratio = fmt.Sprintf("; 23:2323 = %.1f:1 (Mirai 9:1)", float64(s.p23)/float64(s.p2323))
		}
		e.alertFlow(Scan, r, actor, netip.Addr{}, known, inbound, fmt.Sprintf(
			"Mirai-style login-port scan: contacted %d distinct hosts on ports %v within %s (threshold %d%s)%s",
			len(s.dsts), e.rules.Scan.Ports, e.rules.Scan.Window, th, sampled(r.SamplingRate), ratio))
		clear(s.dsts)
	}
}

func (e *Engine) observeBruteForce(r *flow.Record, actor, peer netip.Addr, ts int64, known, inbound bool) {
	rl := e.rules.BruteForce
	b, lb := ts/int64(rl.Window), ts/int64(rl.LongWindow)
	k := svcKey{actor, peer, r.DstPort, r.Proto}
	s := e.bf[k]
	if s == nil {
		s = &countState{bucket: b, longBucket: lb}
		e.bf[k] = s
	}
	if b > s.bucket {
		s.bucket, s.n = b, 0
	}
	if lb > s.longBucket {
		s.longBucket, s.longN, s.fired = lb, 0, false
	}
	n := int(r.Attempts)
	if n == 0 {
		n = 1
	}
	// Under 1 in N packet sampling a login connection of about ten packets
	// is seen with probability about 10/N: each sampled connection counts
	// once and the thresholds shrink by N/10 (down to scan.sampled_min).
	short, long := rl.MinAttempts, rl.LongMinAttempts
	if rate := int(r.SamplingRate); rate > 1 {
		n = 1
		short = max(short*10/rate, e.rules.Scan.SampledMin)
		long = max(long*10/rate, e.rules.Scan.SampledMin)
	}
	s.n += n
	s.longN += n
	if s.fired {
		return
	}
	svc := r.App
	if svc == "" {
		svc = fmt.Sprintf("port %d", r.DstPort)
	}
	switch {
	case s.n >= short:
		s.fired = true
		e.alertFlow(BruteForce, r, actor, peer, known, inbound, fmt.Sprintf(
			"%d login attempts to %s (%s) within %s (threshold %d%s)",
			s.n, netip.AddrPortFrom(peer, r.DstPort), svc, rl.Window, short, sampled(r.SamplingRate)))
	case s.longN >= long:
		s.fired = true
		e.alertFlow(BruteForce, r, actor, peer, known, inbound, fmt.Sprintf(
			"%d login attempts to %s (%s) within %s (threshold %d%s)",
			s.longN, netip.AddrPortFrom(peer, r.DstPort), svc, rl.LongWindow, long, sampled(r.SamplingRate)))
	}
}

func (e *Engine) observeDDoS(r *flow.Record, actor netip.Addr, ae *actorEnt, peer netip.Addr, ts int64, known, inbound bool) {
	w := int64(e.rules.DDoS.Window)
	b := ts / w
	// Stage 1: an actor whose window stays below a tenth of the thresholds
	// cannot flood one target; only hot actors' pairs are tracked.
	var aw *actorWindow
	a4, ok1 := v4(actor)
	if ok1 {
		aw = &ae.w
	} else if aw = e.actors[actor]; aw == nil {
		aw = &actorWindow{bucket: b}
		e.actors[actor] = aw
	}
	if b > aw.bucket {
		*aw = actorWindow{bucket: b}
	}
	aw.packets += r.Packets
	aw.flows++
	if aw.packets < e.rules.DDoS.MinPackets/10 && (e.rules.DDoS.MinFlows <= 0 || aw.flows < e.threshold(e.rules.DDoS.MinFlows, r.SamplingRate)/10) {
		return
	}
	p4, ok2 := v4(peer)
	packed := ok1 && ok2
	k := pairKey{actor, peer}
	var s *ddosState
	if packed {
		s = e.ddos4[uint64(a4)<<32|uint64(p4)]
	} else {
		s = e.ddos[k]
	}
	if s == nil {
		s = &ddosState{bucket: b}
		if packed {
			e.ddos4[uint64(a4)<<32|uint64(p4)] = s
		} else {
			e.ddos[k] = s
		}
	}
	if b > s.bucket {
		*s = ddosState{bucket: b}
	}
	s.packets += r.Packets
	s.bytes += r.Bytes
	s.flows++
	if s.fired {
		return
	}
	avg := uint64(0)
	if s.packets > 0 {
		avg = s.bytes / s.packets
	}
	rl := e.rules.DDoS
	switch {
	case s.packets >= rl.MinPackets && avg <= rl.MaxAvgPacketBytes:
		s.fired = true
		e.alertFlow(DDoS, r, actor, peer, known, inbound, fmt.Sprintf(
			"sent %d packets (avg %d B) to %s within %s (threshold %d packets of ≤ %d B%s)",
			s.packets, avg, peer, rl.Window, rl.MinPackets, rl.MaxAvgPacketBytes, sampled(r.SamplingRate)))
	case rl.MinFlows > 0 && s.flows >= e.threshold(rl.MinFlows, r.SamplingRate):
		s.fired = true
		e.alertFlow(DDoS, r, actor, peer, known, inbound, fmt.Sprintf(
			"opened %d flows to %s within %s (threshold %d flows%s)", s.flows, peer, rl.Window, e.threshold(rl.MinFlows, r.SamplingRate), sampled(r.SamplingRate)))
	}
}

func (e *Engine) observeBeacon(r *flow.Record, actor, peer netip.Addr, ts int64, known bool, ext *uint32) {
	if r.Proto == flow.ProtoTCP && r.TCPFlags != 0 && r.TCPFlags&0x02 == 0 {
		return // continuation of a long connection split by the exporter, not a new beat
	}
	var si uint32
	switch {
	case ext != nil && *ext&pendingBit != 0:
		// The relation's second beat: its pending first beat becomes a series.
		pi := *ext &^ pendingBit
		pd := e.pend.get(pi)
		if r.SrcPort != 0 && r.SrcPort == pd.srcPort {
			if v, ok := e.ser.tick(ts); ok && int64(v)-int64(pd.tick) < retryTicks {
				return // a retry of the last connection (same source port): not a new beat
			}
		}
		si = e.ser.add(pd.key(), pd.flags&pendKnown != 0)
		s := e.ser.get(si)
		e.ser.push(s, pd.tick)
		b := e.pend.bytes(pi)
		s.bytes, s.sq, s.lastPort = b, float64(b)*float64(b), pd.srcPort
		pd.flags |= pendDone
		*ext = si + 1
	case ext != nil && *ext != 0:
		si = *ext - 1
	case ext != nil && actor.Is4() && peer.Is4() && !e.inRestored(actor, peer, r):
		// The relation's first beat: pending until a second one comes.
		if e.beaconTimes >= maxBeaconTimes {
			e.BeaconOverflow++
			return
		}
		v, ok := e.ser.tick(ts)
		if !ok {
			e.BeaconOverflow++
			return
		}
		a4, _ := v4(actor)
		p4, _ := v4(peer)
		b := r.Bytes + r.RevBytes
		*ext = pendingBit | e.pend.add(pending{tick: v, actor: a4, peer: p4, port: r.DstPort, srcPort: r.SrcPort, proto: r.Proto, flags: b2u(known)}, b)
		e.beaconTimes++
		return
	case ext != nil:
		// Keep the series on the pipeline's relation: no second map (but a
		// series restored from an earlier ingest is in the map).
		k := svcKey{actor, peer, r.DstPort, r.Proto}
		i, ok := uint32(0), false
		if e.restored {
			i, ok = e.beacon[k]
		}
		if ok {
			si = i
		} else {
			si = e.ser.add(k, known)
		}
		*ext = si + 1
	default:
		k := svcKey{actor, peer, r.DstPort, r.Proto}
		i, ok := e.beacon[k]
		if !ok {
			if len(e.beacon) >= e.rules.Beacon.MaxPairs {
				e.BeaconOverflow++
				return
			}
			i = e.ser.add(k, known)
			e.beacon[k] = i
		}
		si = i
	}
	s := e.ser.get(si)
	if n := s.len(); n > 0 && r.SrcPort != 0 && r.SrcPort == s.lastPort {
		if v, ok := e.ser.tick(ts); ok && int64(v)-int64(e.ser.last(s)) < retryTicks {
			return // a retry of the last connection (same source port): not a new beat
		}
	}
	s.lastPort = r.SrcPort
	switch {
	case s.len() >= maxSeriesTimes:
	case e.beaconTimes >= maxBeaconTimes:
		e.BeaconOverflow++
	default:
		if v, ok := e.ser.tick(ts); ok {
			e.ser.push(s, v)
			e.beaconTimes++
			b := r.Bytes + r.RevBytes
			s.bytes += b
			s.sq += float64(b) * float64(b)
		} else {
			e.BeaconOverflow++
		}
	}
}

// inRestored reports whether r's series was restored by LoadState.
func (e *Engine) inRestored(actor, peer netip.Addr, r *flow.Record) bool {
	if !e.restored {
		return false
	}
	_, ok := e.beacon[svcKey{actor, peer, r.DstPort, r.Proto}]
	return ok
}

func (e *Engine) observeKnownBad(r *flow.Record, o flow.Orientation) {
	if ind, ok := e.ind.MatchAddr(o.Peer); ok {
		e.alertFlow(KnownBad, r, o.Device, o.Peer, o.Known, false, fmt.Sprintf(
			"contacted %s, listed as %s%s", netip.AddrPortFrom(o.Peer, o.Port), ind.Value, label(ind)))
		return
	}
	for _, n := range e.names[o.Peer] {
		if ind, ok := e.ind.MatchName(n); ok {
			e.alertFlow(KnownBad, r, o.Device, o.Peer, o.Known, false, fmt.Sprintf(
				"contacted %s (%s per DNS), listed as %s%s", netip.AddrPortFrom(o.Peer, o.Port), n, ind.Value, label(ind)))
			return
		}
	}
}

func label(ind intel.Indicator) string {
	var parts []string
	if ind.Label != "" {
		parts = append(parts, ind.Label)
	}
	if ind.Source != "" {
		parts = append(parts, ind.Source)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// Alerts implements flow.Observer: streaming alerts plus the beaconing
// decisions, which need the whole series.
func (e *Engine) Alerts() []flow.Alert {
	// Series keys are unique: one per pipeline relation, or per map key.
	// Only series long enough to be judged are sorted and judged.
	least := max(e.rules.Beacon.MinConnections, 2)
	idx := make([]uint32, 0, 1024)
	for i := range e.ser.len() {
		if e.ser.get(uint32(i)).len() >= least {
			idx = append(idx, uint32(i))
		}
	}
	key := func(i uint32) *svcKey { return &e.ser.keys[i/seriesChunk][i%seriesChunk] }
	slices.SortFunc(idx, func(i, j uint32) int {
		a, b := key(i), key(j)
		if c := a.actor.Compare(b.actor); c != 0 {
			return c
		}
		if c := a.peer.Compare(b.peer); c != 0 {
			return c
		}
		if a.port != b.port {
			return int(a.port) - int(b.port)
		}
		return int(a.proto) - int(b.proto)
	})
	var sc periodicScratch
	var times []int64
	rl := e.rules.Beacon
	for _, i := range idx {
		k, s := key(i), e.ser.get(i)
		n := s.len()
		if rl.MaxAvgBytes > 0 && s.bytes/uint64(n) > rl.MaxAvgBytes {
			continue // bulk transfers are not beacons
		}
		times = e.ser.times(times[:0], s)
		b, ok := e.scoreBeacon(times, sizeStats{n: n, sum: float64(s.bytes), sumSq: s.sq}, &sc)
		if !ok || b.Score < rl.Threshold {
			continue
		}
		t := time.Unix(0, times[len(times)-1]).UTC()
		if e.seen[alertKey{BruteForce, k.actor, k.peer, t.Unix() / 86400}] {
			continue // the regular attempts of a brute force, already reported as such
		}
		reason := b.reason(rl.Threshold)
		if why := e.beaconAllowed(k.peer); why != "" {
			e.Allowed = append(e.Allowed, Heartbeat{Device: k.actor, Peer: k.peer, Port: k.port, Reason: reason, Declared: why})
			continue
		}
		if e.Expected != nil {
			if ok, decl := e.Expected(k.actor, k.peer, e.names[k.peer], k.proto, k.port); ok {
				e.Heartbeats = append(e.Heartbeats, Heartbeat{Device: k.actor, Peer: k.peer, Port: k.port, Reason: reason, Declared: decl})
				continue
			}
		}
		// Last, when nothing names the peer: the shape of a device timer.
		if why := e.timerHeartbeat(b, float64(s.bytes)/float64(n)); why != "" {
			e.Timers = append(e.Timers, Heartbeat{Device: k.actor, Peer: k.peer, Port: k.port, Reason: reason, Declared: why})
			continue
		}
		if a := e.alert(Beacon, k.actor, k.peer, t, s.known(), false, fmt.Sprintf("to %s/%s: %s", netip.AddrPortFrom(k.peer, k.port), flow.ProtoName(k.proto), reason)); a != nil {
			a.Port, a.Proto, a.Scores = k.port, k.proto, b.m()
			if e.sampling > 1 {
				a.Sampling = e.sampling
				a.Reason += fmt.Sprintf("; telemetry sampled 1:%d (beats are missed at random: scores are lower than unsampled)", e.sampling)
			}
		}
	}
	return e.alerts
}

// Checkpoint implements flow.Checkpointer: after a pipeline checkpoint (a
// long-running collector storing its roll-ups) the relations start afresh
// without their series index, so every series is indexed by its key for the
// relations that follow to find, as after LoadState; a first beat still
// pending becomes a one-beat series (as SaveState writes it), or a beacon
// slower than the checkpoints would never get its second beat. Heartbeats,
// Allowed and Timers, which each Alerts call lists again, are reset, the
// alerts already taken are forgotten, and state idle beyond the idle window
// expires (expire.go).
func (e *Engine) Checkpoint() {
	for i := range e.pend.n {
		pd := e.pend.get(uint32(i))
		if pd.flags&pendDone != 0 {
			continue
		}
		s := e.ser.get(e.ser.add(pd.key(), pd.flags&pendKnown != 0))
		e.ser.push(s, pd.tick)
		b := e.pend.bytes(uint32(i))
		s.bytes, s.sq, s.lastPort = b, float64(b)*float64(b), pd.srcPort
	}
	e.pend, e.rels = pendingStore{}, relState{}
	for i := range e.ser.len() {
		e.beacon[e.ser.keys[i/seriesChunk][i%seriesChunk]] = uint32(i)
	}
	e.restored = true
	e.Heartbeats, e.Allowed, e.Timers, e.alerts = nil, nil, nil, nil
	e.expire()
}

// periodicScratch is reused across series to avoid allocating per series.
type periodicScratch struct {
	ts, iv, sorted, beats []int64
	f, dev, bins          []float64
}

// beaconAllowed returns why peer is a known periodic service (allow-listed
// network, DNS name seen, network owner), or "".
func (e *Engine) beaconAllowed(peer netip.Addr) string {
	for _, p := range e.allowNets {
		if p.Contains(peer) {
			return "beacon.allow_networks " + p.String()
		}
	}
	for _, n := range e.names[peer] {
		for _, d := range e.rules.Beacon.AllowDomains {
			d = strings.ToLower(strings.TrimSuffix(d, "."))
			if n == d || strings.HasSuffix(n, "."+d) {
				return "beacon.allow_domains " + d + " (DNS name " + n + ")"
			}
		}
	}
	if len(e.rules.Beacon.AllowOwners) > 0 {
		o, db := "", ""
		if e.Owner != nil {
			o, db = e.Owner(peer), "--asn-db"
		}
		if o == "" {
			o, db = VendorOwner(peer), "embedded vendor networks"
		}
		if lo := strings.ToLower(o); lo != "" {
			for _, a := range e.rules.Beacon.AllowOwners {
				if strings.Contains(lo, strings.ToLower(a)) {
					return "beacon.allow_owners " + a + " (" + o + ", " + db + ")"
				}
			}
		}
	}
	return ""
}

// v4 returns an IPv4 address as a number.
func v4(a netip.Addr) (uint32, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), true
}
