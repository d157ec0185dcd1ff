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
// inline ones, go to the fanout's tables (h4, v4) as before; hOvf and vOvf
// count the actor's windows there, so an actor with none skips the tables.
// Each window is in one place at a time and evolves as it would in the
// tables: the inline form only changes where a window lives
// (TestFanoutInline checks the alerts against the tables alone).
//
// Inline windows are of the latest window seen (fanout.bucket) or the one
// before, which a bit tells: a window of an earlier one (a late record's)
// goes to the tables, and the prune when the latest window moves on keeps
// only those of the one before the new latest.
type fanActor struct {
	hpp [fanH]uint32 // proto<<16 | port of the inline horizontal windows
	vt  [fanV]uint32 // targets of the inline vertical pairs
	h   [fanH]hSmall
	vpp [fanV]uint32 // their one port, proto<<16 | port + 1
}

// fanCounts counts an actor's fan-out windows.
type fanCounts struct {
	nh, nv     uint8
	targets    uint16 // vertical pairs this window (maxVerticalTargets)
	vcur       uint16 // bit j: inline pair j is of the latest window
	hOvf, vOvf int32  // windows in the tables
}

// Inline capacities: horizontal windows, hosts per horizontal window,
// vertical pairs.
const (
	fanH     = 4
	fanHosts = 6
	fanV     = 16 // bits of vcur
)

// hSmall is a horizontal window of at most fanHosts IPv4 hosts (28 bytes).
type hSmall struct {
	n     uint8
	fired bool
	cur   bool // of the latest window, else of the one before
	few   [fanHosts]uint32
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
	return a.nh != 0 || a.nv != 0 || a.targets != 0 || a.hOvf != 0 || a.vOvf != 0
}

func (a *actorEnt) findH(pp uint32) int {
	for i, x := range a.hpp[:a.nh] {
		if x == pp {
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

func (a *actorEnt) delH(i int) {
	last := int(a.nh) - 1
	a.hpp[i], a.h[i] = a.hpp[last], a.h[last]
	a.nh--
}

func (a *actorEnt) delV(i int) {
	last := int(a.nv) - 1
	a.vt[i], a.vpp[i] = a.vt[last], a.vpp[last]
	a.setV(i, a.curV(last))
	a.vcur &^= 1 << last
	a.nv--
}

func (a *actorEnt) curV(j int) bool { return a.vcur&(1<<j) != 0 }

func (a *actorEnt) setV(j int, cur bool) {
	if cur {
		a.vcur |= 1 << j
	} else {
		a.vcur &^= 1 << j
	}
}

// prune drops the inline windows before keep (as the tables' prune) when
// the latest window moves on from last, and the pair count of the window
// that ended; the counts of windows in the tables are recounted by the
// caller. What stays is of the window before the new latest.
func (a *actorEnt) prune(last, keep int64) {
	a.targets, a.hOvf, a.vOvf = 0, 0, 0
	at := func(cur bool) int64 {
		if cur {
			return last
		}
		return last - 1
	}
	for i := int(a.nh) - 1; i >= 0; i-- {
		if at(a.h[i].cur) < keep {
			a.delH(i)
		} else {
			a.h[i].cur = false
		}
	}
	for i := int(a.nv) - 1; i >= 0; i-- {
		if at(a.curV(i)) < keep {
			a.delV(i)
		}
	}
	a.vcur = 0
}

// hState returns the inline window i in its table form.
func (a *actorEnt) hState(f *fanout, i int) *hState {
	s := &a.h[i]
	h := &hState{bucket: f.window(s.cur), fired: s.fired}
	for _, u := range s.few[:s.n] {
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

	var h *hState
	i := ae.findH(uint32(r.Proto)<<16 | uint32(r.DstPort))
	if i < 0 && ae.hOvf > 0 {
		h, _ = f.h4.get(hk, false)
	}
	if i < 0 && h == nil {
		if ae.nh < fanH && !f.tablesOnly && b >= f.bucket-1 {
			i = int(ae.nh)
			ae.hpp[i], ae.h[i] = uint32(r.Proto)<<16|uint32(r.DstPort), hSmall{cur: b == f.bucket}
			ae.nh++
		} else {
			h, _ = f.h4.get(hk, true)
			h.bucket = b
			ae.hOvf++
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
		v := vState{bucket: f.window(ae.curV(j)), first: ae.vpp[j]}
		e.vertical(&v, true, r, actor, b, known, inbound)
		if v.fired || v.more != nil { // outgrown: to the table
			ae.delV(j)
			p, _ := f.v4.get(vk, true)
			*p = v
			ae.vOvf++
		} else { // still of the window it was of, or reset to the latest
			ae.vpp[j] = v.first
			ae.setV(j, v.bucket == f.bucket)
		}
		return
	}
	if ae.vOvf > 0 {
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
	if !v.fired && v.more == nil && ae.nv < fanV && !f.tablesOnly && v.bucket >= f.bucket-1 {
		ae.vt[ae.nv], ae.vpp[ae.nv] = t4, v.first
		ae.setV(int(ae.nv), v.bucket == f.bucket)
		ae.nv++
		return
	}
	p, _ := f.v4.get(vk, true)
	*p = v
	ae.vOvf++
}

// horizontalInline is horizontal for the inline window i. When r's host
// does not fit inline the window moves to the table, which it returns for
// horizontal to go on with; else it returns nil.
func (e *Engine) horizontalInline(ae *actorEnt, i int, actor netip.Addr, r *flow.Record, b int64, known, inbound bool) *hState {
	s := &ae.h[i]
	if b > e.fan.window(s.cur) { // b is the latest window
		s.cur, s.fired, s.n = true, false, 0
	}
	if s.fired {
		return nil
	}
	t4, ok := v4(r.Dst)
	if !ok || (s.n == fanHosts && !s.has(t4)) {
		h, _ := e.fan.h4.get(uint64(ae.key)<<32|uint64(r.DstPort)<<8|uint64(r.Proto), true)
		*h = *ae.hState(&e.fan, i)
		ae.delH(i)
		ae.hOvf++
		return h
	}
	if !s.has(t4) {
		s.few[s.n] = t4
		s.n++
	}
	if th := e.threshold(e.rules.Scan.HorizontalMinDestinations, r.SamplingRate); int(s.n) >= th {
		s.fired = true
		e.alertHorizontal(r, actor, int(s.n), th, known, inbound)
		s.n = 0
	}
	return nil
}

func (s *hSmall) has(u uint32) bool {
	for _, x := range s.few[:s.n] {
		if x == u {
			return true
		}
	}
	return false
}
