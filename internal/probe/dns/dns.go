// Package dns probes DNS servers, read-only: it asks the server about itself
// with the CHAOS-class TXT query version.bind (and version.server when that
// says nothing), over UDP or TCP. Routers answer with their forwarder's
// version ("dnsmasq-2.78"), which feeds vulnerability matching. The codec is
// internal/wire/dns.
package dns

import (
	"context"
	"fmt"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	dnswire "iotwatch/internal/wire/dns"
)

// Record is the DNS handshake data.
type Record struct {
	// Version is the TXT answer to Query, as the server wrote it.
	Version string `json:"version,omitempty"`
	// Query is the name that answered (version.bind. or version.server.).
	Query string `json:"query,omitempty"`
	// Rcode is the version.bind reply's code (NOERROR, REFUSED, NOTIMP, …).
	Rcode              string `json:"rcode"`
	Authoritative      bool   `json:"authoritative,omitempty"`
	RecursionAvailable bool   `json:"recursion_available,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"dns.version": r.Version, "dns.query": r.Query, "dns.rcode": r.Rcode}
}

// Prober is the DNS prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoDNS }

// queryID is the first query's id; the second uses the next.
const queryID = 0x6977

// Probe implements probe.Prober. conn is a connected UDP socket or a TCP
// connection (length-framed messages, both queries on the one connection).
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	udp := conn.LocalAddr() != nil && conn.LocalAddr().Network() == "udp"
	var rec *Record
	for i, name := range []string{dnswire.VersionBind, dnswire.VersionServer} {
		r, err := exchange(conn, udp, queryID+uint16(i), name, env.Limit())
		if err != nil {
			if rec != nil { // version.bind answered: the server is DNS
				break
			}
			return probe.Fail(model.ProtoDNS, err)
		}
		if rec == nil {
			rec = &Record{Rcode: r.Rcode, Authoritative: r.Authoritative, RecursionAvailable: r.RecursionAvailable}
		}
		if len(r.TXT) > 0 {
			rec.Version, rec.Query = r.TXT[0], r.Name
			break
		}
	}
	banner := rec.Version
	if banner == "" {
		banner = "version.bind " + rec.Rcode
	}
	return probe.Result{Protocol: model.ProtoDNS, Status: model.StatusSuccess, Banner: banner, Data: rec}
}

// exchange sends one query and reads until the reply with its id arrives.
func exchange(conn net.Conn, udp bool, id uint16, name string, limit int) (*dnswire.Reply, error) {
	q, err := dnswire.Query(id, name)
	if err != nil {
		return nil, err
	}
	if !udp {
		q = dnswire.Frame(q)
	}
	if _, err := conn.Write(q); err != nil {
		return nil, fmt.Errorf("dns send %s: %w", name, err)
	}
	buf := make([]byte, min(limit, dnswire.MaxMessage))
	r := &probe.LimitConn{Conn: conn, N: limit}
	for {
		var b []byte
		if udp {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, fmt.Errorf("dns read %s: %w", name, err)
			}
			b = buf[:n]
		} else if b, err = dnswire.ReadFrame(r); err != nil {
			return nil, fmt.Errorf("dns read %s: %w", name, err)
		}
		reply, err := dnswire.ParseReply(b)
		switch {
		case err != nil:
			return nil, fmt.Errorf("dns %s: %w: %w", name, probe.ErrProtocol, err)
		case reply.ID != id || reply.Name != name:
			if !udp {
				return nil, fmt.Errorf("dns %s: %w: reply to another query", name, probe.ErrProtocol)
			}
			continue // a late datagram; wait for ours
		}
		return reply, nil
	}
}
