package detect

import (
	"net/netip"
	"time"
)

// Expiry of idle state. A long-running collector checkpoints its engine
// every flush and never closes it, so every device, peer and window it ever
// saw would stay: over days the state would grow with the number of devices
// ever seen, not with those active. At a checkpoint the engine forgets what
// has been idle for longer than its idle window (Engine.Idle): beacon
// series whose last beat is older (their alerts were taken at earlier
// checkpoints), closed scan, brute-force, DDoS and fan-out windows, DNS
// names of peers no longer seen, the per-day alert keys of those days, and
// the alerts already taken. What is active is kept whole, so detections do
// not change (TestExpiryBounded).

// DefaultIdle is the idle window when Engine.Idle is zero and the rules ask
// for less: two of the longest beacon period judged.
const DefaultIdle = 48 * time.Hour

// idle returns the idle window: Engine.Idle, else the longest of
// DefaultIdle, twice beacon.max_period, beacon.carry and the brute-force
// long window; negative means never.
func (e *Engine) idle() time.Duration {
	if e.Idle != 0 {
		return e.Idle
	}
	r := e.rules
	return max(DefaultIdle, 2*time.Duration(r.Beacon.MaxPeriod), time.Duration(r.Beacon.Carry), 2*time.Duration(r.BruteForce.LongWindow))
}

// expire forgets state idle for longer than the idle window. It runs from
// Checkpoint (the pipeline's relations start afresh there, so no relation
// holds a series index) once a quarter of the window of traffic time has
// passed since it last ran, so that it costs one pass over the state per
// quarter window.
func (e *Engine) expire() {
	idle := int64(e.idle())
	if idle <= 0 || e.latest == 0 {
		return
	}
	if e.expired == 0 {
		e.expired = e.latest
		return
	}
	if e.latest-e.expired < idle/4 {
		return
	}
	e.expired = e.latest
	cut := e.latest - idle

	// Beacon series: rebuilt with those beating since cut, whole.
	old := e.ser
	ns := seriesStore{base: old.base, hasBas: old.hasBas}
	clear(e.beacon)
	e.beaconTimes = 0
	peers := map[netip.Addr]bool{}
	var times []int64
	for i := range old.len() {
		s := old.get(uint32(i))
		n := s.len()
		if n == 0 || old.base+int64(old.last(s))*tickNS < cut {
			continue
		}
		k := old.keys[i/seriesChunk][i%seriesChunk]
		j := ns.add(k, s.known())
		t := ns.get(j)
		times = old.times(times[:0], s)
		for _, ts := range times {
			ns.push(t, uint32((ts-old.base)/tickNS))
		}
		t.bytes, t.sq, t.lastPort = s.bytes, s.sq, s.lastPort
		e.beacon[k] = j
		e.beaconTimes += n
		peers[k.peer] = true
	}
	e.ser = ns

	// Alert keys of the days a kept series or window may still alert on.
	day := cut / int64(24*time.Hour)
	for k := range e.seen {
		if k.day < day {
			delete(e.seen, k)
		}
	}
	// DNS names of peers neither seen since cut nor in a kept series.
	for a, at := range e.namesAt {
		if at < cut && !peers[a] {
			delete(e.names, a)
			delete(e.namesAt, a)
		}
	}

	// Windows: those before the previous one are closed (a record that
	// arrives late by a window still finds its state).
	before := func(w Duration) int64 { return e.latest/max(int64(w), 1) - 1 }
	scanB := before(e.rules.Scan.Window)
	for a, s := range e.scan {
		if s.bucket < scanB {
			delete(e.scan, a)
		}
	}
	for _, m := range []map[netip.Addr]*hState{e.mirai, e.dht} {
		for a, s := range m {
			if s.bucket < scanB {
				delete(m, a)
			}
		}
	}
	longB := before(e.rules.BruteForce.LongWindow)
	for k, s := range e.bf {
		if s.longBucket < longB {
			delete(e.bf, k)
		}
	}
	ddosB := before(e.rules.DDoS.Window)
	for k, s := range e.ddos {
		if s.bucket < ddosB {
			delete(e.ddos, k)
		}
	}
	for k, s := range e.ddos4 {
		if s.bucket < ddosB {
			delete(e.ddos4, k)
		}
	}
	for a, w := range e.actors {
		if w.bucket < ddosB {
			delete(e.actors, a)
		}
	}
	// An actor's entry stays while it holds fan-out windows; its closed
	// DDoS window is then as new (bucket 0), as if it had gone.
	e.actors4 = e.actors4.keep(func(ae *actorEnt) bool {
		if ae.w.bucket >= ddosB {
			return true
		}
		ae.w = actorWindow{}
		return ae.busy()
	})
}

// stateSize counts the entries the engine holds (tests).
func (e *Engine) stateSize() int {
	return e.ser.len() + e.pend.n + len(e.beacon) + len(e.seen) + len(e.names) + len(e.scan) + len(e.bf) +
		len(e.ddos) + len(e.ddos4) + len(e.actors) + e.actors4.n + len(e.mirai) + len(e.dht) +
		e.fan.size() + len(e.sess) + len(e.alerts)
}
