// Package dns is the DNS codec iotwatch speaks on its side of the wire: the
// CHAOS-class TXT queries a server answers about itself (version.bind,
// version.server; RFC 4892), the replies to them, and the two-byte length
// framing of DNS over TCP (RFC 1035 4.2.2). Messages are encoded and decoded
// by github.com/miekg/dns; this package decides what a reply must look like
// to count as an answer, so the prober and the simulator agree on it.
//
// Replies come from the network and are untrusted: ParseReply never panics
// and FuzzParseReply keeps it so.
package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	mdns "github.com/miekg/dns"
)

// Names a server answers about itself in the CHAOS class.
const (
	VersionBind   = "version.bind."   // BIND, dnsmasq, Unbound, PowerDNS, Knot
	VersionServer = "version.server." // RFC 4892; Unbound, NSD, Knot
	HostnameBind  = "hostname.bind."
)

// MaxMessage is the largest DNS message (and TCP frame).
const MaxMessage = 65535

// ErrNotReply marks bytes that are not a DNS reply to a CHAOS TXT question.
var ErrNotReply = errors.New("dns: not a reply to a CHAOS TXT query")

// Query returns the wire form of a CHAOS-class TXT query for name with id,
// recursion not desired.
func Query(id uint16, name string) ([]byte, error) {
	m := new(mdns.Msg)
	m.Id = id
	m.RecursionDesired = false
	m.Question = []mdns.Question{{Name: mdns.Fqdn(name), Qtype: mdns.TypeTXT, Qclass: mdns.ClassCHAOS}}
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("dns: pack query %s: %w", name, err)
	}
	return b, nil
}

// Reply is a server's answer to one CHAOS TXT question.
type Reply struct {
	ID    uint16
	Rcode string // "NOERROR", "REFUSED", "NOTIMP", …
	// Name is the question, lower case and fully qualified.
	Name string
	// TXT holds one string per TXT record answering Name (a record's
	// character-strings joined).
	TXT                []string
	Authoritative      bool
	RecursionAvailable bool
}

// ParseReply decodes b as a reply to a CHAOS-class TXT query. Records that
// answer another name or type are ignored.
func ParseReply(b []byte) (*Reply, error) {
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReply, err)
	}
	if !m.Response {
		return nil, fmt.Errorf("%w: a query, not a response", ErrNotReply)
	}
	if len(m.Question) != 1 {
		return nil, fmt.Errorf("%w: %d questions", ErrNotReply, len(m.Question))
	}
	q := m.Question[0]
	if q.Qclass != mdns.ClassCHAOS || q.Qtype != mdns.TypeTXT {
		return nil, fmt.Errorf("%w: question %s %s", ErrNotReply, mdns.Class(q.Qclass), mdns.Type(q.Qtype))
	}
	r := &Reply{ID: m.Id, Rcode: rcode(m.Rcode), Name: strings.ToLower(q.Name),
		Authoritative: m.Authoritative, RecursionAvailable: m.RecursionAvailable}
	for _, rr := range m.Answer {
		txt, ok := rr.(*mdns.TXT)
		if !ok || !strings.EqualFold(txt.Hdr.Name, q.Name) {
			continue
		}
		r.TXT = append(r.TXT, strings.Join(txt.Txt, ""))
	}
	return r, nil
}

func rcode(c int) string {
	if s, ok := mdns.RcodeToString[c]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", c)
}

// Answer builds the reply a server gives to query: the TXT string of its
// question's name in texts (NOERROR), or REFUSED for a name it does not
// know. It is the server side the simulator speaks.
func Answer(query []byte, texts map[string]string) ([]byte, error) {
	q := new(mdns.Msg)
	if err := q.Unpack(query); err != nil {
		return nil, fmt.Errorf("dns: unpack query: %w", err)
	}
	if q.Response || len(q.Question) != 1 {
		return nil, errors.New("dns: not a single-question query")
	}
	m := new(mdns.Msg)
	m.SetReply(q)
	qn := q.Question[0]
	text, ok := texts[strings.ToLower(qn.Name)]
	switch {
	case ok && qn.Qclass == mdns.ClassCHAOS && qn.Qtype == mdns.TypeTXT:
		m.Answer = []mdns.RR{&mdns.TXT{Hdr: mdns.RR_Header{Name: qn.Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassCHAOS}, Txt: []string{text}}}
	default:
		m.Rcode = mdns.RcodeRefused
	}
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("dns: pack reply: %w", err)
	}
	return b, nil
}

// Frame returns msg with the two-byte length prefix of DNS over TCP.
func Frame(msg []byte) []byte {
	out := make([]byte, 2, 2+len(msg))
	binary.BigEndian.PutUint16(out, uint16(len(msg)))
	return append(out, msg...)
}

// ReadFrame reads one length-prefixed message of DNS over TCP.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("dns: read frame length: %w", err)
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if n < 12 { // shorter than a DNS header
		return nil, fmt.Errorf("%w: %d-byte frame", ErrNotReply, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("dns: read frame: %w", err)
	}
	return b, nil
}
