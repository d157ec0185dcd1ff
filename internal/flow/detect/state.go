package detect

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Carry-over state. Telemetry often arrives as a sequence of files (nfcapd
// rotates every five minutes, Zeek every hour) ingested one by one; beaconing
// shows only over many of them. SaveState writes what a later ingest of the
// same stream needs to judge such series whole: the beacon series with their
// timestamps within the rules' beacon.carry window before the latest record,
// the beacon alerts already raised for the last two days (so a series is
// not reported twice for one day), the scan, fan-out (horizontal and
// vertical), Mirai and DHT windows and the brute-force windows still open
// at the latest record, and the long TCP sessions being stitched. LoadState
// restores it into a new engine before its first record. DDoS windows (one
// minute) start afresh with each ingest.

// stateMagic heads a state document; version 2 added each series' sum of
// squared sizes, version 3 the open fan-out windows (horizontal and
// vertical scans, Mirai fingerprints, DHT peers) and the long TCP sessions
// being stitched. Older documents still load: a version 1 document with
// sizes taken as regular, versions 1 and 2 without those windows.
const (
	stateMagic   = "IWDS3\n"
	stateMagicV2 = "IWDS2\n"
	stateMagicV1 = "IWDS1\n"
)

// Limits on a state document (it comes from the store, but is parsed as
// untrusted bytes all the same).
const (
	maxStateSeries = 1 << 24
	maxStateAlerts = 1 << 24
)

// ErrState reports a state document that does not parse.
var ErrState = errors.New("detector state: malformed")

// SaveState writes the carry-over state; it returns the series written.
func (e *Engine) SaveState(w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	// bufio.Writer keeps its first error and returns it from every later
	// call, so the Flush at the end reports a failed write.
	_, _ = bw.WriteString(stateMagic)
	var buf []byte
	put := func(b []byte) { _, _ = bw.Write(b) }
	carry := int64(e.rules.Beacon.Carry)
	cut := e.latest - carry
	var times []int64
	var keep []uint32
	for i := range e.ser.len() {
		s := e.ser.get(uint32(i))
		if s.len() == 0 {
			continue
		}
		times = e.ser.times(times[:0], s)
		if slices.Max(times) >= cut {
			keep = append(keep, uint32(i))
		}
	}
	// First beats still pending (see pending) are written as one-beat series.
	var pend []uint32
	for i := range e.pend.n {
		if p := e.pend.get(uint32(i)); p.flags&pendDone == 0 && e.ser.base+int64(p.tick)*tickNS >= cut {
			pend = append(pend, uint32(i))
		}
	}
	buf = binary.AppendUvarint(buf[:0], uint64(len(keep)+len(pend)))
	put(buf)
	for _, i := range pend {
		p := e.pend.get(i)
		k := p.key()
		buf = appendAddr(buf[:0], k.actor)
		buf = appendAddr(buf, k.peer)
		buf = binary.BigEndian.AppendUint16(buf, k.port)
		buf = append(buf, k.proto, p.flags&pendKnown)
		b := e.pend.bytes(i)
		buf = binary.AppendUvarint(buf, b)
		buf = binary.AppendUvarint(buf, math.Float64bits(float64(b)*float64(b)))
		buf = binary.AppendUvarint(buf, 1)
		buf = binary.AppendVarint(buf, (e.ser.base+int64(p.tick)*tickNS)/tickNS)
		put(buf)
	}
	for _, i := range keep {
		k, s := e.ser.keys[i/seriesChunk][i%seriesChunk], e.ser.get(i)
		times = e.ser.times(times[:0], s)
		times = slices.DeleteFunc(times, func(t int64) bool { return t < cut })
		buf = appendAddr(buf[:0], k.actor)
		buf = appendAddr(buf, k.peer)
		buf = binary.BigEndian.AppendUint16(buf, k.port)
		buf = append(buf, k.proto, b2u(s.known()))
		buf = binary.AppendUvarint(buf, s.bytes)
		buf = binary.AppendUvarint(buf, math.Float64bits(s.sq))
		buf = binary.AppendUvarint(buf, uint64(len(times)))
		prev := int64(0)
		for _, t := range times {
			d := t / tickNS
			buf = binary.AppendVarint(buf, d-prev)
			prev = d
		}
		put(buf)
	}
	day := e.latest / int64(24*time.Hour)
	var alerted []alertKey
	for k := range e.seen {
		if k.day >= day-1 {
			alerted = append(alerted, k)
		}
	}
	slices.SortFunc(alerted, func(a, b alertKey) int {
		return cmp.Or(cmp.Compare(a.det, b.det), a.actor.Compare(b.actor), a.peer.Compare(b.peer), cmp.Compare(a.day, b.day))
	})
	buf = binary.AppendUvarint(buf[:0], uint64(len(alerted)))
	for _, k := range alerted {
		buf = binary.AppendUvarint(buf, uint64(len(k.det)))
		buf = append(buf, k.det...)
		buf = appendAddr(buf, k.actor)
		buf = appendAddr(buf, k.peer)
		buf = binary.AppendVarint(buf, k.day)
	}
	put(buf)
	// Open scan windows.
	scanB := e.latest / max(int64(e.rules.Scan.Window), 1)
	var scans []netip.Addr
	for a, st := range e.scan {
		if st.bucket == scanB && (len(st.dsts) > 0 || st.fired) {
			scans = append(scans, a)
		}
	}
	slices.SortFunc(scans, netip.Addr.Compare)
	buf = binary.AppendUvarint(buf[:0], uint64(len(scans)))
	put(buf)
	for _, a := range scans {
		st := e.scan[a]
		buf = appendAddr(buf[:0], a)
		buf = binary.AppendVarint(buf, st.bucket)
		buf = append(buf, b2u(st.fired))
		buf = binary.AppendUvarint(buf, uint64(len(st.dsts)))
		dsts := make([]netip.Addr, 0, len(st.dsts))
		for d := range st.dsts {
			dsts = append(dsts, d)
		}
		slices.SortFunc(dsts, netip.Addr.Compare)
		for _, d := range dsts {
			buf = appendAddr(buf, d)
		}
		put(buf)
	}
	// Open brute-force windows (the long one spans files).
	longB := e.latest / max(int64(e.rules.BruteForce.LongWindow), 1)
	var bfs []svcKey
	for k, st := range e.bf {
		if st.longBucket == longB {
			bfs = append(bfs, k)
		}
	}
	slices.SortFunc(bfs, func(a, b svcKey) int {
		return cmp.Or(a.actor.Compare(b.actor), a.peer.Compare(b.peer), cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto))
	})
	buf = binary.AppendUvarint(buf[:0], uint64(len(bfs)))
	put(buf)
	for _, k := range bfs {
		st := e.bf[k]
		buf = appendAddr(buf[:0], k.actor)
		buf = appendAddr(buf, k.peer)
		buf = binary.BigEndian.AppendUint16(buf, k.port)
		buf = append(buf, k.proto, b2u(st.fired))
		buf = binary.AppendVarint(buf, st.bucket)
		buf = binary.AppendVarint(buf, st.longBucket)
		buf = binary.AppendUvarint(buf, uint64(st.n))
		buf = binary.AppendUvarint(buf, uint64(st.longN))
		put(buf)
	}
	buf = e.appendFanout(buf[:0])
	put(buf)
	buf = binary.AppendVarint(buf[:0], e.latest)
	put(buf)
	return len(keep) + len(pend), bw.Flush()
}

// LoadState restores a state written by SaveState into an engine that has
// not observed anything yet.
func (e *Engine) LoadState(r io.Reader) (int, error) {
	if e.ser.len() > 0 || e.pend.n > 0 {
		return 0, errors.New("detector state: engine already in use")
	}
	br := bufio.NewReader(r)
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(br, magic); err != nil || (string(magic) != stateMagic && string(magic) != stateMagicV2 && string(magic) != stateMagicV1) {
		return 0, fmt.Errorf("%w: bad header", ErrState)
	}
	v1 := string(magic) == stateMagicV1
	fail := func(what string, err error) (int, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("%w: %s: %v", ErrState, what, err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return fail("series count", err)
	}
	if n > maxStateSeries {
		return fail("series count", fmt.Errorf("%d exceeds %d", n, maxStateSeries))
	}
	var fixed [16 + 16 + 2 + 2]byte
	for i := range n {
		if _, err := io.ReadFull(br, fixed[:]); err != nil {
			return fail(fmt.Sprintf("series %d", i), err)
		}
		actor, peer := readAddr(fixed[0:16]), readAddr(fixed[16:32])
		k := svcKey{actor: actor, peer: peer, port: binary.BigEndian.Uint16(fixed[32:34]), proto: fixed[34]}
		bytes, err := binary.ReadUvarint(br)
		if err != nil {
			return fail(fmt.Sprintf("series %d bytes", i), err)
		}
		var sq float64
		if !v1 {
			bits, err := binary.ReadUvarint(br)
			if err != nil {
				return fail(fmt.Sprintf("series %d sizes", i), err)
			}
			if sq = math.Float64frombits(bits); math.IsNaN(sq) || sq < 0 {
				return fail(fmt.Sprintf("series %d sizes", i), errors.New("out of range"))
			}
		}
		cnt, err := binary.ReadUvarint(br)
		if err != nil || cnt > maxSeriesTimes {
			return fail(fmt.Sprintf("series %d length", i), errors.Join(err, fmt.Errorf("%d timestamps", cnt)))
		}
		if _, dup := e.beacon[k]; dup {
			return fail(fmt.Sprintf("series %d", i), errors.New("duplicate key"))
		}
		si := e.ser.add(k, fixed[35] != 0)
		s := e.ser.get(si)
		s.bytes, s.sq = bytes, sq
		if v1 && cnt > 0 {
			s.sq = float64(bytes) * float64(bytes) / float64(cnt)
		}
		e.beacon[k] = si
		d := int64(0)
		for j := range cnt {
			delta, err := binary.ReadVarint(br)
			if err != nil {
				return fail(fmt.Sprintf("series %d timestamp %d", i, j), err)
			}
			d += delta
			if d < 0 || d > (1<<62)/tickNS {
				return fail(fmt.Sprintf("series %d timestamp %d", i, j), fmt.Errorf("out of range"))
			}
			v, ok := e.ser.tick(d * tickNS)
			if !ok {
				return fail(fmt.Sprintf("series %d timestamp %d", i, j), fmt.Errorf("out of range"))
			}
			e.ser.push(s, v)
			e.beaconTimes++
		}
	}
	na, err := binary.ReadUvarint(br)
	if err != nil || na > maxStateAlerts {
		return fail("alert count", errors.Join(err, fmt.Errorf("%d alerts", na)))
	}
	var pair [32]byte
	for i := range na {
		dl, err := binary.ReadUvarint(br)
		if err != nil || dl > 64 {
			return fail(fmt.Sprintf("alert %d detector", i), errors.Join(err, fmt.Errorf("name length %d", dl)))
		}
		det := make([]byte, dl)
		if _, err := io.ReadFull(br, det); err != nil {
			return fail(fmt.Sprintf("alert %d detector", i), err)
		}
		if _, err := io.ReadFull(br, pair[:]); err != nil {
			return fail(fmt.Sprintf("alert %d", i), err)
		}
		day, err := binary.ReadVarint(br)
		if err != nil {
			return fail(fmt.Sprintf("alert %d", i), err)
		}
		e.seen[alertKey{string(det), readAddr(pair[:16]), readAddr(pair[16:]), day}] = true
	}
	ns, err := binary.ReadUvarint(br)
	if err != nil || ns > maxStateSeries {
		return fail("scan windows", errors.Join(err, fmt.Errorf("%d windows", ns)))
	}
	var one [16]byte
	for i := range ns {
		if _, err := io.ReadFull(br, one[:]); err != nil {
			return fail(fmt.Sprintf("scan window %d", i), err)
		}
		st := &scanState{dsts: map[netip.Addr]struct{}{}}
		if st.bucket, err = binary.ReadVarint(br); err != nil {
			return fail(fmt.Sprintf("scan window %d", i), err)
		}
		fired, err := br.ReadByte()
		if err != nil {
			return fail(fmt.Sprintf("scan window %d", i), err)
		}
		st.fired = fired != 0
		nd, err := binary.ReadUvarint(br)
		if err != nil || nd > 1<<16 {
			return fail(fmt.Sprintf("scan window %d", i), errors.Join(err, fmt.Errorf("%d destinations", nd)))
		}
		for range nd {
			if _, err := io.ReadFull(br, pair[:16]); err != nil {
				return fail(fmt.Sprintf("scan window %d", i), err)
			}
			st.dsts[readAddr(pair[:16])] = struct{}{}
		}
		e.scan[readAddr(one[:])] = st
	}
	nb, err := binary.ReadUvarint(br)
	if err != nil || nb > maxStateSeries {
		return fail("brute-force windows", errors.Join(err, fmt.Errorf("%d windows", nb)))
	}
	var key [16 + 16 + 2 + 2]byte
	for i := range nb {
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return fail(fmt.Sprintf("brute-force window %d", i), err)
		}
		k := svcKey{actor: readAddr(key[0:16]), peer: readAddr(key[16:32]), port: binary.BigEndian.Uint16(key[32:34]), proto: key[34]}
		st := &countState{fired: key[35] != 0}
		var n, ln uint64
		if st.bucket, err = binary.ReadVarint(br); err == nil {
			if st.longBucket, err = binary.ReadVarint(br); err == nil {
				if n, err = binary.ReadUvarint(br); err == nil {
					ln, err = binary.ReadUvarint(br)
				}
			}
		}
		if err != nil || n > 1<<31 || ln > 1<<31 {
			return fail(fmt.Sprintf("brute-force window %d", i), errors.Join(err, errors.New("counts out of range")))
		}
		st.n, st.longN = int(n), int(ln)
		e.bf[k] = st
	}
	if string(magic) == stateMagic {
		if err := e.readFanout(br); err != nil {
			return fail("fan-out windows", err)
		}
	}
	if e.latest, err = binary.ReadVarint(br); err != nil {
		return fail("latest time", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return fail("trailer", errors.New("trailing bytes"))
	}
	e.restored = n > 0
	return int(n), nil
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, make([]byte, 16)...)
	}
	x := a.As16()
	return append(b, x[:]...)
}

// readAddr inverts appendAddr: IPv4-mapped addresses come back as IPv4.
func readAddr(b []byte) netip.Addr {
	a := netip.AddrFrom16([16]byte(b))
	if a == netip.IPv6Unspecified() {
		return netip.Addr{}
	}
	return a.Unmap()
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// appendFanout appends the version 3 sections: the horizontal, Mirai and
// DHT windows and the vertical pairs of the window the latest record is in,
// and the long sessions being stitched, each sorted for a stable document.
func (e *Engine) appendFanout(buf []byte) []byte {
	b := e.latest / max(int64(e.rules.Scan.Window), 1)
	appendDsts := func(buf []byte, st *hState) []byte {
		buf = binary.AppendVarint(buf, st.bucket)
		buf = append(buf, b2u(st.fired))
		dsts := st.dsts.sorted()
		buf = binary.AppendUvarint(buf, uint64(len(dsts)))
		for _, d := range dsts {
			buf = appendAddr(buf, d)
		}
		return buf
	}
	var hs []hKey
	hst := map[hKey]*hState{}
	e.eachH(func(k hKey, st *hState) {
		if st.bucket == b {
			hs = append(hs, k)
			hst[k] = st
		}
	})
	slices.SortFunc(hs, func(a, b hKey) int {
		return cmp.Or(a.actor.Compare(b.actor), cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto))
	})
	buf = binary.AppendUvarint(buf, uint64(len(hs)))
	for _, k := range hs {
		buf = appendAddr(buf, k.actor)
		buf = binary.BigEndian.AppendUint16(buf, k.port)
		buf = append(buf, k.proto)
		buf = appendDsts(buf, hst[k])
	}
	var vs []pairKey
	vst := map[pairKey]vState{}
	e.eachV(func(k pairKey, st vState) {
		if st.bucket == b {
			vs = append(vs, k)
			vst[k] = st
		}
	})
	slices.SortFunc(vs, func(a, b pairKey) int { return cmp.Or(a.actor.Compare(b.actor), a.peer.Compare(b.peer)) })
	buf = binary.AppendUvarint(buf, uint64(len(vs)))
	for _, k := range vs {
		st := vst[k]
		buf = appendAddr(buf, k.actor)
		buf = appendAddr(buf, k.peer)
		buf = binary.AppendVarint(buf, st.bucket)
		buf = append(buf, b2u(st.fired))
		ports := slices.Clone(st.more)
		if st.first != 0 {
			ports = append([]uint32{st.first - 1}, ports...)
		}
		buf = binary.AppendUvarint(buf, uint64(len(ports)))
		for _, p := range ports {
			buf = binary.AppendUvarint(buf, uint64(p))
		}
	}
	for _, m := range []map[netip.Addr]*hState{e.mirai, e.dht} {
		var as []netip.Addr
		for a, st := range m {
			if st.bucket == b {
				as = append(as, a)
			}
		}
		slices.SortFunc(as, netip.Addr.Compare)
		buf = binary.AppendUvarint(buf, uint64(len(as)))
		for _, a := range as {
			buf = appendAddr(buf, a)
			buf = appendDsts(buf, m[a])
		}
	}
	ks := make([]sessKey, 0, len(e.sess))
	for k := range e.sess {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b sessKey) int {
		return cmp.Or(a.dev.Compare(b.dev), a.peer.Compare(b.peer), cmp.Compare(a.devPort, b.devPort), cmp.Compare(a.peerPort, b.peerPort))
	})
	buf = binary.AppendUvarint(buf, uint64(len(ks)))
	for _, k := range ks {
		s := e.sess[k]
		buf = appendAddr(buf, k.dev)
		buf = appendAddr(buf, k.peer)
		buf = binary.BigEndian.AppendUint16(buf, k.devPort)
		buf = binary.BigEndian.AppendUint16(buf, k.peerPort)
		buf = binary.AppendVarint(buf, s.start)
		buf = binary.AppendVarint(buf, s.end)
		buf = binary.AppendUvarint(buf, uint64(s.pieces))
		buf = append(buf, b2u(s.fired))
	}
	return append(buf, binary.AppendVarint(nil, e.sessBucket)...)
}

// maxStateDsts bounds the destinations or ports of one carried window (the
// thresholds that fire a window are far lower).
const maxStateDsts = 1 << 16

// readFanout reads appendFanout's sections.
func (e *Engine) readFanout(br *bufio.Reader) error {
	var a [16]byte
	addr := func() (netip.Addr, error) {
		if _, err := io.ReadFull(br, a[:]); err != nil {
			return netip.Addr{}, err
		}
		return readAddr(a[:]), nil
	}
	count := func(limit uint64) (uint64, error) {
		n, err := binary.ReadUvarint(br)
		if err == nil && n > limit {
			err = fmt.Errorf("count %d exceeds %d", n, limit)
		}
		return n, err
	}
	readDsts := func() (*hState, error) {
		st := &hState{}
		var err error
		if st.bucket, err = binary.ReadVarint(br); err != nil {
			return nil, err
		}
		f, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		st.fired = f != 0
		n, err := count(maxStateDsts)
		if err != nil {
			return nil, err
		}
		for range n {
			d, err := addr()
			if err != nil {
				return nil, err
			}
			st.dsts.add(d)
		}
		return st, nil
	}
	e.initFanout()
	n, err := count(maxStateSeries)
	if err != nil {
		return fmt.Errorf("horizontal: %w", err)
	}
	var pp [3]byte
	for i := range n {
		actor, err := addr()
		if err == nil {
			_, err = io.ReadFull(br, pp[:])
		}
		var st *hState
		if err == nil {
			st, err = readDsts()
		}
		if err != nil {
			return fmt.Errorf("horizontal %d: %w", i, err)
		}
		e.putH(hKey{actor, binary.BigEndian.Uint16(pp[:2]), pp[2]}, st)
		e.fan.bucket = max(e.fan.bucket, st.bucket)
	}
	if n, err = count(maxStateSeries); err != nil {
		return fmt.Errorf("vertical: %w", err)
	}
	for i := range n {
		actor, err := addr()
		var target netip.Addr
		if err == nil {
			target, err = addr()
		}
		var v vState
		if err == nil {
			v.bucket, err = binary.ReadVarint(br)
		}
		var f byte
		if err == nil {
			f, err = br.ReadByte()
		}
		var np uint64
		if err == nil {
			np, err = count(maxStateDsts)
		}
		for j := uint64(0); err == nil && j < np; j++ {
			var p uint64
			if p, err = binary.ReadUvarint(br); err == nil && p > 0xff_ffff {
				err = fmt.Errorf("port %d out of range", p)
			}
			if err == nil {
				v.add(uint32(p))
			}
		}
		if err != nil {
			return fmt.Errorf("vertical %d: %w", i, err)
		}
		v.fired = f != 0
		e.putV(pairKey{actor, target}, v)
		e.fan.bucket = max(e.fan.bucket, v.bucket)
	}
	for _, m := range []map[netip.Addr]*hState{e.mirai, e.dht} {
		if n, err = count(maxStateSeries); err != nil {
			return err
		}
		for i := range n {
			actor, err := addr()
			var st *hState
			if err == nil {
				st, err = readDsts()
			}
			if err != nil {
				return fmt.Errorf("window %d: %w", i, err)
			}
			m[actor] = st
		}
	}
	if n, err = count(maxStateSeries); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	for i := range n {
		dev, err := addr()
		var peer netip.Addr
		if err == nil {
			peer, err = addr()
		}
		var ports [4]byte
		if err == nil {
			_, err = io.ReadFull(br, ports[:])
		}
		var s session
		if err == nil {
			s.start, err = binary.ReadVarint(br)
		}
		if err == nil {
			s.end, err = binary.ReadVarint(br)
		}
		var pieces uint64
		if err == nil {
			pieces, err = count(math.MaxUint32)
		}
		var f byte
		if err == nil {
			f, err = br.ReadByte()
		}
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		s.pieces, s.fired = uint32(pieces), f != 0
		if e.sess == nil {
			e.sess = map[sessKey]session{}
		}
		e.sess[sessKey{dev, peer, binary.BigEndian.Uint16(ports[:2]), binary.BigEndian.Uint16(ports[2:])}] = s
	}
	if e.sessBucket, err = binary.ReadVarint(br); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	return nil
}
