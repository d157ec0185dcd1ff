package detect

import (
	"net/netip"

	"iotwatch/internal/flow"
)

// fanActor holds an IPv4 actor's fan-out windows in its actorTable entry,
// where the record's DDoS pre-filter already looked: a device probes a few
// ports of a few hosts per window, so its horizontal windows (while they
// hold at most fanHosts hosts) and its vertical pairs (while they hold one
// port) fit inline, and a probe costs no lookup in a table of every actor's
// windows. A window that outgrows its inline form, and windows beyond the
// inline ones, go to the fanout's tables (h4, v4) as before; htab and vtab
// tell the actor's windows there, so an actor with none skips the tables.
// Each window is in one place at a time and evolves as it would in the
// tables: the inline form only changes where a window lives
// (TestFanoutInline checks the alerts against the tables alone).
//
// Inline windows are of the latest window seen (fanout.bucket) or the one
// before, which a bit tells: a window of an earlier one (a late record's)
// goes to the tables, and the prune when the latest window moves on keeps
// only those of the one before the new latest. Probes are of TCP or UDP:
// an inline port is 16 bits and a bit for UDP (inlinePort), which keeps
// an entry four cache lines.
type fanActor struct {
	// The first cache line (with the DDoS window and the counts): the
	// inline windows' keys and states; bit i of a mask is window or pair i.
	vcur  uint16       // pairs of the latest window
	vudp  uint16       // pairs whose port is UDP's (else TCP's)
	hpp   [fanH]uint16 // ports of the horizontal windows
	hudp  uint8        // windows of a UDP port (else TCP)
	hcur  uint8        // windows of the latest window
	hfire uint8        // windows that fired
	hn    [fanH]uint8  // hosts in each window
	_     [5]byte      // (vt starts the second line)
	vt    [fanV]uint32 // targets of the pairs
	vport [fanV]uint16 // their one port
	few   [fanH][fanHosts]uint32
}

// fanCounts counts an actor's fan-out windows. htab and vtab tell its
// windows in the tables: a bit for each (hBit of a horizontal window's
// port, vBit of a pair's target), so that a probe of another port or
// target does not look there, and none when there are none.
type fanCounts struct {
	htab, vtab uint32
	targets    uint16 // vertical pairs this window (maxVerticalTargets)
	nh, nv     uint8
}

// Inline capacities: horizontal windows, hosts per horizontal window,
// vertical pairs.
const (
	fanH     = 4 // bits of hcur
	fanHosts = 6
	fanV     = 16 // bits of vcur
)

// inlinePort splits proto<<16 | port into the port and whether the proto is
// UDP; ok is false for a proto other than TCP and UDP (not held inline).
func inlinePort(pp uint32) (port uint16, udp, ok bool) {
	switch uint8(pp >> 16) {
	case flow.ProtoTCP:
		return uint16(pp), false, pp>>24 == 0
	case flow.ProtoUDP:
		return uint16(pp), true, pp>>24 == 0
	}
	return 0, false, false
}

// portPP is inlinePort's inverse.
func portPP(port uint16, udp bool) uint32 {
	if udp {
		return uint32(flow.ProtoUDP)<<16 | uint32(port)
	}
	return uint32(flow.ProtoTCP)<<16 | uint32(port)
}

// hBit is the bit in htab of a window of proto<<16 | port pp; vBit the
// bit in vtab of a pair of target t.
func hBit(pp uint32) uint32 { return 1 << (pp * 0x9e3779b1 >> 27) }
func vBit(t uint32) uint32  { return 1 << (t * 0x9e3779b1 >> 27) }

// h4PP returns proto<<16 | port of the table key k of a horizontal window.
func h4PP(k uint64) uint32 { return uint32(k&0xff)<<16 | uint32(k>>8&0xffff) }

func bit[T uint8 | uint16](x T, i int) bool { return x&(1<<i) != 0 }

func setBit[T uint8 | uint16](x *T, i int, v bool) {
	if v {
		*x |= 1 << i
	} else {
		*x &^= 1 << i
	}
}

// window returns the window an inline window is of: the latest (cur) or
// the one before.
func (f *fanout) window(cur bool) int64 {
	if cur {
		return f.bucket
	}
	return f.bucket - 1
}

// busy reports whether the actor holds a fan-out window or pair count.
func (a *actorEnt) busy() bool {
	return a.nh != 0 || a.nv != 0 || a.targets != 0 || a.htab != 0 || a.vtab != 0
}

// findH returns the inline horizontal window of port (udp: of UDP, else
// TCP), or -1.
func (a *actorEnt) findH(port uint16, udp bool) int {
	for i, x := range a.hpp[:a.nh] {
		if x == port && bit(a.hudp, i) == udp {
			return i
		}
	}
	return -1
}

func (a *actorEnt) findV(t uint32) int {
	for i, x := range a.vt[:a.nv] {
		if x == t {
			return i
		}
	}
	return -1
}

// addH adds an inline horizontal window without hosts.
func (a *actorEnt) addH(port uint16, udp, cur bool) int {
	i := int(a.nh)
	a.hpp[i], a.hn[i] = port, 0
	setBit(&a.hudp, i, udp)
	setBit(&a.hcur, i, cur)
	setBit(&a.hfire, i, false)
	a.nh++
	return i
}

func (a *actorEnt) delH(i int) {
	last := int(a.nh) - 1
	a.hpp[i], a.hn[i], a.few[i] = a.hpp[last], a.hn[last], a.few[last]
	setBit(&a.hudp, i, bit(a.hudp, last))
	setBit(&a.hcur, i, bit(a.hcur, last))
	setBit(&a.hfire, i, bit(a.hfire, last))
	a.nh--
}

// setV sets inline pair j's port (udp: of UDP, else TCP) and whether it is
// of the latest window.
func (a *actorEnt) setV(j int, port uint16, udp, cur bool) {
	a.vport[j] = port
	setBit(&a.vudp, j, udp)
	setBit(&a.vcur, j, cur)
}

// firstV returns inline pair j's port as vState.first.
func (a *actorEnt) firstV(j int) uint32 { return portPP(a.vport[j], bit(a.vudp, j)) + 1 }

func (a *actorEnt) delV(j int) {
	last := int(a.nv) - 1
	a.vt[j] = a.vt[last]
	a.setV(j, a.vport[last], bit(a.vudp, last), bit(a.vcur, last))
	a.nv--
}

// prune drops the inline windows before keep (as the tables' prune) when
// the latest window moves on from last, and the pair count of the window
// that ended; the counts of windows in the tables are recounted by the
// caller. What stays is of the window before the new latest.
func (a *actorEnt) prune(last, keep int64) {
	a.targets, a.htab, a.vtab = 0, 0, 0
	at := func(cur bool) int64 {
		if cur {
			return last
		}
		return last - 1
	}
	for i := int(a.nh) - 1; i >= 0; i-- {
		if at(bit(a.hcur, i)) < keep {
			a.delH(i)
		}
	}
	for j := int(a.nv) - 1; j >= 0; j-- {
		if at(bit(a.vcur, j)) < keep {
			a.delV(j)
		}
	}
	a.hcur, a.vcur = 0, 0
}

// hState returns the inline window i in its table form.
func (a *actorEnt) hState(f *fanout, i int) *hState {
	h := &hState{bucket: f.window(bit(a.hcur, i)), fired: bit(a.hfire, i)}
	for _, u := range a.few[i][:a.hn[i]] {
		h.dsts.add4(u)
	}
	return h
}

// fanoutInline is observeFanout for an IPv4 actor: its windows inline in
// ae, or in the tables.
func (e *Engine) fanoutInline(ae *actorEnt, actor netip.Addr, r *flow.Record, b int64, known, inbound bool) {
	f := &e.fan
	hk := uint64(ae.key)<<32 | uint64(r.DstPort)<<8 | uint64(r.Proto)
	t4, dst4 := v4(r.Dst)
	pp := uint32(r.Proto)<<16 | uint32(r.DstPort)
	port, udp, inl := inlinePort(pp)

	var h *hState
	i := -1
	if inl {
		i = ae.findH(port, udp)
	}
	if i < 0 && ae.htab&hBit(pp) != 0 {
		h, _ = f.h4.get(hk, false)
	}
	if i < 0 && h == nil {
		if inl && ae.nh < fanH && !f.tablesOnly && b >= f.bucket-1 {
			i = ae.addH(port, udp, b == f.bucket)
		} else {
			h, _ = f.h4.get(hk, true)
			h.bucket = b
			ae.htab |= hBit(pp)
		}
	}
	if i >= 0 {
		h = e.horizontalInline(ae, i, actor, r, b, known, inbound)
	}
	if h != nil {
		e.horizontal(h, r, actor, b, known, inbound)
	}

	if !dst4 {
		e.verticalMap(r, actor, b, known, inbound)
		return
	}
	vk := uint64(ae.key)<<32 | uint64(t4)
	if j := ae.findV(t4); j >= 0 {
		v := vState{bucket: f.window(bit(ae.vcur, j)), first: ae.firstV(j)}
		e.vertical(&v, true, r, actor, b, known, inbound)
		vport, vudp, ok := inlinePort(v.first - 1)
		if v.fired || v.more != nil || !ok { // outgrown: to the table
			ae.delV(j)
			p, _ := f.v4.get(vk, true)
			*p = v
			ae.vtab |= vBit(t4)
		} else { // still of the window it was of, or reset to the latest
			ae.setV(j, vport, vudp, v.bucket == f.bucket)
		}
		return
	}
	if ae.vtab&vBit(t4) != 0 {
		if p, ok := f.v4.get(vk, false); ok {
			e.vertical(p, true, r, actor, b, known, inbound)
			return
		}
	}
	if ae.targets >= maxVerticalTargets {
		return
	}
	ae.targets++
	var v vState
	if !e.vertical(&v, false, r, actor, b, known, inbound) {
		return
	}
	if vport, vudp, ok := inlinePort(v.first - 1); ok && !v.fired && v.more == nil && ae.nv < fanV && !f.tablesOnly && v.bucket >= f.bucket-1 {
		j := int(ae.nv)
		ae.vt[j] = t4
		ae.setV(j, vport, vudp, v.bucket == f.bucket)
		ae.nv++
		return
	}
	p, _ := f.v4.get(vk, true)
	*p = v
	ae.vtab |= vBit(t4)
}

// horizontalInline is horizontal for the inline window i. When r's host
// does not fit inline the window moves to the table, which it returns for
// horizontal to go on with; else it returns nil.
func (e *Engine) horizontalInline(ae *actorEnt, i int, actor netip.Addr, r *flow.Record, b int64, known, inbound bool) *hState {
	if b > e.fan.window(bit(ae.hcur, i)) { // b is the latest window
		setBit(&ae.hcur, i, true)
		setBit(&ae.hfire, i, false)
		ae.hn[i] = 0
	}
	if bit(ae.hfire, i) {
		return nil
	}
	few := &ae.few[i]
	n := ae.hn[i]
	t4, ok := v4(r.Dst)
	if !ok || (n == fanHosts && !hasHost(few[:n], t4)) {
		h, _ := e.fan.h4.get(uint64(ae.key)<<32|uint64(r.DstPort)<<8|uint64(r.Proto), true)
		*h = *ae.hState(&e.fan, i)
		ae.delH(i)
		ae.htab |= hBit(uint32(r.Proto)<<16 | uint32(r.DstPort))
		return h
	}
	if !hasHost(few[:n], t4) {
		few[n] = t4
		n++
		ae.hn[i] = n
	}
	if th := e.threshold(e.rules.Scan.HorizontalMinDestinations, r.SamplingRate); int(n) >= th {
		setBit(&ae.hfire, i, true)
		e.alertHorizontal(r, actor, int(n), th, known, inbound)
		ae.hn[i] = 0
	}
	return nil
}

func hasHost(few []uint32, u uint32) bool {
	for _, x := range few {
		if x == u {
			return true
		}
	}
	return false
}
