// Package snmp audits SNMP v1/v2c community strings: a GET of sysDescr with
// the community; a well-formed response with the same request id is the
// verdict. Agents stay silent on a wrong community, so a refusal is a
// timeout. Sessions send a batch of communities at once, wait, resend the
// unanswered once, and wait again.
package snmp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
	wiresnmp "iotwatch/internal/wire/snmp"
)

// DefaultTimeout is how long to wait for an agent's answer (a wrong
// community gets no answer at all).
const DefaultTimeout = 1500 * time.Millisecond

// Module is the SNMP community module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoSNMP} }

// Open implements login.Module.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return &Session{t: t}, nil
}

// Session tries communities; it implements login.BatchSession.
type Session struct {
	t login.Target
}

var _ login.BatchSession = (*Session)(nil)

// Close implements login.Session.
func (s *Session) Close() error { return nil }

// Try implements login.Session (the community is c.Password).
func (s *Session) Try(ctx context.Context, c login.Credential) login.Result {
	return s.TryBatch(ctx, []login.Credential{c}, 0)[0]
}

func (s *Session) timeout() time.Duration {
	if s.t.Timeout > 0 && s.t.Timeout < DefaultTimeout {
		return s.t.Timeout
	}
	return DefaultTimeout
}

// TryBatch sends one v2c and one v1 GET per community, spaced by gap, then
// waits one timeout for answers and, for the unanswered, once more after a
// retransmission. Results are in the order of cs.
func (s *Session) TryBatch(ctx context.Context, cs []login.Credential, gap time.Duration) []login.Result {
	res := make([]login.Result, len(cs))
	conn, err := s.t.DialContext(ctx, "udp")
	if err != nil {
		for i := range res {
			res[i] = login.Fail(fmt.Errorf("snmp dial %s: %w", s.t.Addr, err))
		}
		return res
	}
	defer conn.Close()
	defer netx.Interrupt(ctx, conn)()
	base := rand.Uint32() >> 2
	ids := map[uint32]int{}
	send := func(i int) {
		for v, ver := range []gosnmp.SnmpVersion{gosnmp.Version2c, gosnmp.Version1} {
			id := base + uint32(2*i+v)
			ids[id] = i
			pkt, err := wiresnmp.Get(ver, cs[i].Password, id, wiresnmp.OIDSysDescr)
			if err == nil {
				_, err = conn.Write(pkt)
			}
			if err != nil {
				res[i] = login.Fail(fmt.Errorf("snmp send %s: %w", s.t.Addr, err))
			}
		}
	}
	for i := range cs {
		send(i)
		if gap > 0 && i < len(cs)-1 {
			select {
			case <-ctx.Done():
			case <-time.After(gap):
			}
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(s.timeout()))
	if ctx.Err() != nil {
		_ = conn.SetDeadline(time.Unix(1, 0)) // the deadline just set undid the interruption
	}
	buf := make([]byte, 65535)
	got, resent := 0, false
	for got < len(cs) {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if resent || ctx.Err() != nil {
					break
				}
				// One retransmission of the unanswered: UDP and busy
				// agents lose requests; a wrong community stays silent.
				resent = true
				for i := range cs {
					if res[i].Status == "" {
						send(i)
					}
				}
				_ = conn.SetReadDeadline(time.Now().Add(s.timeout()))
				if ctx.Err() != nil {
					break
				}
				continue
			}
			if netx.ClassOf(err) == netx.ClassRefused { // ICMP port unreachable
				for i := range res {
					if res[i].Status == "" {
						res[i] = login.Fail(fmt.Errorf("snmp %s: %w", s.t.Addr, err))
					}
				}
				return res
			}
			break
		}
		id, descr, err := ParseResponse(buf[:n])
		if err != nil {
			continue
		}
		i, ok := ids[id]
		if !ok || res[i].Status != "" {
			continue
		}
		res[i] = login.Result{Status: model.StatusSuccess, Kind: model.KindSNMPCommunity,
			Evidence: "GetResponse sysDescr=" + login.Truncate(descr, 80)}
		got++
	}
	for i := range res {
		if res[i].Status == "" {
			// Silence is the agent's refusal of a community.
			res[i] = login.Denied("no response within " + s.timeout().String())
		}
	}
	return res
}

// ParseResponse decodes an SNMP v1/v2c GetResponse and returns its request id
// and first value as text. It never panics on arbitrary bytes.
func ParseResponse(b []byte) (id uint32, value string, err error) {
	p, err := wiresnmp.DecodeResponse(b)
	if err != nil {
		return 0, "", err
	}
	if p.Error != gosnmp.NoError {
		// Agents drop wrong communities silently; any answer proves it valid.
		return p.RequestID, fmt.Sprintf("error-status %v", p.Error), nil
	}
	if len(p.Variables) > 0 {
		switch v := p.Variables[0].Value.(type) {
		case []byte:
			value = string(v)
		case string:
			value = v
		default:
			value = fmt.Sprint(v)
		}
	}
	return p.RequestID, value, nil
}
