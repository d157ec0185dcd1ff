package detect

import (
	"fmt"
	"net/netip"
	"time"

	"iotwatch/internal/flow"
)

// Long connections: sessions stitched across the pieces exporters cut them
// into, and the alert for those held open too long.

// observeLong flags a TCP session between a device and an outside host that
// lasted at least long_connection.min_duration on a service port not in
// long_connection.allow_ports: a remote-control channel held open (RITA's
// long connections). Which side opened it does not matter (a capture may
// miss the handshake); the service port is the lower of the two.
//
// Flow exporters cut a long session into pieces (NetFlow's and nfpcapd's
// active timeout, 30 min; the pcap assembler's idle timeout, 60 s, which an
// IRC channel's PING every 90 s outlasts), so no single record reaches the
// duration. Pieces of one connection are stitched: a record with TCP flags
// and no SYN continues the connection of the same addresses and ports if
// it starts within long_connection.max_gap of the last piece's end; a SYN
// starts a new connection and a FIN or RST ends it. Only continuations are
// kept (one small entry per open connection, pruned after max_gap), never
// connection attempts.
func (e *Engine) observeLong(r *flow.Record, o flow.Orientation) {
	rl := &e.rules.LongConnection
	if rl.MinDuration <= 0 {
		return
	}
	svc := min(r.SrcPort, r.DstPort)
	if svc == 0 || has(&e.longAllow, svc) || o.Peer.IsMulticast() {
		return
	}
	// Whole seconds first (Sub is dearer): a record as long as the
	// threshold spans at least its whole seconds.
	if end, start := r.End.Unix(), r.Start.Unix(); end >= start && uint64(end-start) >= uint64(time.Duration(rl.MinDuration)/time.Second) {
		if d := r.End.Sub(r.Start); d >= time.Duration(rl.MinDuration) {
			e.alertLong(r, o, svc, d, 1)
			return
		}
	}
	if r.TCPFlags == 0 || rl.MaxGap <= 0 {
		return // flags unknown (Zeek: whole connections): no stitching
	}
	const syn, fin, rst = 0x02, 0x01, 0x04
	if r.TCPFlags&syn != 0 {
		if len(e.sess) > 0 {
			delete(e.sess, connKey(r, o)) // a new connection on the same ports
		}
		return
	}
	k := connKey(r, o)
	gap := int64(rl.MaxGap)
	start, end := r.Start.UnixNano(), r.End.UnixNano()
	if b := start / gap; b > e.sessBucket {
		e.sessBucket = b
		for k, s := range e.sess {
			if s.end < start-gap {
				delete(e.sess, k)
			}
		}
	}
	if e.sess == nil {
		e.sess = map[sessKey]session{}
	}
	s, ok := e.sess[k]
	if !ok || start-s.end > gap {
		s = session{start: start}
	}
	s.end = max(s.end, end)
	s.pieces++
	if d := time.Duration(s.end - s.start); d >= time.Duration(rl.MinDuration) && !s.fired {
		s.fired = true
		e.alertLong(r, o, svc, d, int(s.pieces))
	}
	if r.TCPFlags&(fin|rst) != 0 {
		delete(e.sess, k)
		return
	}
	e.sess[k] = s
}

// alertLong raises the long-connection alert for a session of d seen in
// pieces records.
func (e *Engine) alertLong(r *flow.Record, o flow.Orientation, svc uint16, d time.Duration, pieces int) {
	rl := e.rules.LongConnection
	how := ""
	if pieces > 1 {
		how = fmt.Sprintf(", seen as %d flow records of one connection at most %s apart", pieces, rl.MaxGap)
	}
	if a := e.alert(LongConn, o.Device, o.Peer, r.End, o.Known, false, fmt.Sprintf(
		"TCP session with %s held for %s on port %d%s (threshold %s; ports of long-lived device services excepted)",
		o.Peer, d.Round(time.Second), svc, how, rl.MinDuration)); a != nil {
		a.Port, a.Proto = svc, r.Proto
	}
}

// connKey returns the key of r's connection.
func connKey(r *flow.Record, o flow.Orientation) sessKey {
	devPort, peerPort := r.SrcPort, r.DstPort
	if r.Src != o.Device {
		devPort, peerPort = peerPort, devPort
	}
	return sessKey{o.Device, o.Peer, devPort, peerPort}
}

// sessKey is one TCP connection between a device and a peer.
type sessKey struct {
	dev, peer         netip.Addr
	devPort, peerPort uint16
}

// session is a connection stitched from its flow records (Unix ns).
type session struct {
	start, end int64
	pieces     uint32
	fired      bool
}
