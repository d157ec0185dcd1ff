// Package mdns is the mDNS/DNS-SD codec iotwatch speaks on its side of the
// wire (RFC 6762, RFC 6763): one-question queries sent by unicast to a
// device's port 5353 (a "legacy unicast" query: the responder answers the
// sender directly, echoing the query id), the replies to them, and the
// directory of service types, instances, SRV targets, TXT records and
// addresses that the replies add up to. Messages are encoded and decoded by
// github.com/miekg/dns.
//
// Nothing here sends to the multicast group: a scan asks the target only.
//
// Replies come from the network and are untrusted: ParseReply and
// Directory.Add never panic and bound what they keep (FuzzParseReply).
package mdns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"iotwatch/internal/netx"
)

// Names and sizes.
const (
	Port = 5353
	// ServicesName is the DNS-SD meta-query: its PTR records name every
	// service type the responder offers (RFC 6763 section 9).
	ServicesName = "_services._dns-sd._udp.local."
	// MaxMessage is the largest mDNS message (RFC 6762 section 17).
	MaxMessage = 9000
	// Caps on what a Directory keeps from hostile replies.
	MaxNames   = 256 // owner names per record type
	MaxTargets = 64  // PTR targets, TXT strings or addresses per name
	MaxString  = 255 // a TXT character-string's length limit
)

// Record types a query may ask.
const (
	TypePTR = mdns.TypePTR
	TypeSRV = mdns.TypeSRV
	TypeTXT = mdns.TypeTXT
	TypeA   = mdns.TypeA
)

// classUnicast is the top bit of a question's class: "unicast response
// requested" (QU, RFC 6762 section 5.4).
const classUnicast = 1 << 15

// ErrNotReply marks bytes that are not an mDNS reply.
var ErrNotReply = fmt.Errorf("not an mDNS reply: %w", netx.ErrProtocol)

// Query returns a query with id for name and qtype, class IN with the
// unicast-response bit, recursion not desired.
func Query(id uint16, name string, qtype uint16) ([]byte, error) {
	m := new(mdns.Msg)
	m.Id = id
	m.Question = []mdns.Question{{Name: mdns.Fqdn(name), Qtype: qtype, Qclass: mdns.ClassINET | classUnicast}}
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("mdns: pack query %s: %w", name, err)
	}
	return b, nil
}

// SRV is a service instance's host and port.
type SRV struct {
	Host string
	Port uint16
}

// Reply is one decoded reply.
type Reply struct {
	ID uint16
	// Question is the question the reply echoes ("" when it echoes none, as
	// multicast answers do not).
	Question string
	Qtype    uint16
	Rcode    int
	// Records holds the reply's PTR, SRV, TXT, A and AAAA records from every
	// section (answers, authority, additional), names lower case.
	Records Directory
}

// ParseReply decodes b as an mDNS reply.
func ParseReply(b []byte) (*Reply, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotReply, len(b))
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReply, err)
	}
	if !m.Response {
		return nil, fmt.Errorf("%w: a query, not a response", ErrNotReply)
	}
	if m.Opcode != mdns.OpcodeQuery {
		return nil, fmt.Errorf("%w: opcode %d", ErrNotReply, m.Opcode)
	}
	r := &Reply{ID: m.Id, Rcode: m.Rcode}
	if len(m.Question) > 0 {
		r.Question, r.Qtype = strings.ToLower(m.Question[0].Name), m.Question[0].Qtype
	}
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			r.Records.addRR(rr)
		}
	}
	return r, nil
}

// Directory is what a responder said about itself, merged over replies.
// Names are lower case and fully qualified, except TXT strings and
// instance labels, which keep their case.
type Directory struct {
	PTR  map[string][]string     // owner -> targets, in arrival order
	SRV  map[string]SRV          // instance -> host and port
	TXT  map[string][]string     // instance -> character-strings
	Addr map[string][]netip.Addr // host -> IPv4 and IPv6 addresses
}

// Add merges o into d.
func (d *Directory) Add(o Directory) {
	for k, v := range o.PTR {
		for _, t := range v {
			d.addPTR(k, t)
		}
	}
	for k, v := range o.SRV {
		d.addSRV(k, v)
	}
	for k, v := range o.TXT {
		d.addTXT(k, v)
	}
	for k, v := range o.Addr {
		for _, a := range v {
			d.addAddr(k, a)
		}
	}
}

func (d *Directory) addRR(rr mdns.RR) {
	name := strings.ToLower(rr.Header().Name)
	switch rr := rr.(type) {
	case *mdns.PTR:
		d.addPTR(name, rr.Ptr)
	case *mdns.SRV:
		d.addSRV(name, SRV{Host: strings.ToLower(rr.Target), Port: rr.Port})
	case *mdns.TXT:
		d.addTXT(name, rr.Txt)
	case *mdns.A:
		if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
			d.addAddr(name, a)
		}
	case *mdns.AAAA:
		if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
			d.addAddr(name, a)
		}
	}
}

// room reports whether a map with n names may take name.
func room[V any](m map[string]V, name string) bool {
	_, ok := m[name]
	return ok || len(m) < MaxNames
}

func (d *Directory) addPTR(owner, target string) {
	if d.PTR == nil {
		d.PTR = map[string][]string{}
	}
	owner = strings.ToLower(owner)
	if !room(d.PTR, owner) || len(d.PTR[owner]) >= MaxTargets || slices.ContainsFunc(d.PTR[owner], func(s string) bool { return strings.EqualFold(s, target) }) {
		return
	}
	d.PTR[owner] = append(d.PTR[owner], target)
}

func (d *Directory) addSRV(inst string, s SRV) {
	if d.SRV == nil {
		d.SRV = map[string]SRV{}
	}
	inst = strings.ToLower(inst)
	if _, ok := d.SRV[inst]; ok || !room(d.SRV, inst) {
		return
	}
	d.SRV[inst] = s
}

func (d *Directory) addTXT(inst string, txt []string) {
	if d.TXT == nil {
		d.TXT = map[string][]string{}
	}
	inst = strings.ToLower(inst)
	if !room(d.TXT, inst) {
		return
	}
	for _, s := range txt {
		if len(d.TXT[inst]) >= MaxTargets {
			return
		}
		if s != "" && !slices.Contains(d.TXT[inst], s) {
			d.TXT[inst] = append(d.TXT[inst], s)
		}
	}
}

func (d *Directory) addAddr(host string, a netip.Addr) {
	if d.Addr == nil {
		d.Addr = map[string][]netip.Addr{}
	}
	host = strings.ToLower(host)
	if !room(d.Addr, host) || len(d.Addr[host]) >= MaxTargets || slices.Contains(d.Addr[host], a) {
		return
	}
	d.Addr[host] = append(d.Addr[host], a)
}

// Types returns the service types the meta-query named ("_ipp._tcp.local."),
// lower case.
func (d *Directory) Types() []string {
	out := make([]string, 0, len(d.PTR[ServicesName]))
	for _, t := range d.PTR[ServicesName] {
		out = append(out, strings.ToLower(t))
	}
	return out
}

// Instances returns the instances of service type t, as the responder
// spelled them.
func (d *Directory) Instances(t string) []string { return d.PTR[strings.ToLower(t)] }

// Lookup returns the SRV and TXT of an instance.
func (d *Directory) Lookup(inst string) (SRV, bool, []string) {
	s, ok := d.SRV[strings.ToLower(inst)]
	return s, ok, d.TXT[strings.ToLower(inst)]
}

// Label returns the instance part of an instance name: "Living Room TV" of
// "Living Room TV._googlecast._tcp.local." (escapes undone).
func Label(inst, typ string) string {
	l := inst
	if len(inst) > len(typ) && strings.EqualFold(inst[len(inst)-len(typ):], typ) {
		l = strings.TrimSuffix(inst[:len(inst)-len(typ)], ".")
	}
	return unescape(l)
}

// unescape undoes the presentation escapes of a label (\. \\ \DDD).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// KeyValues splits TXT strings into key=value pairs (RFC 6763 section 6.4:
// the key is case-insensitive, the first occurrence wins; a key without
// "=" is a boolean attribute with an empty value).
func KeyValues(txt []string) map[string]string {
	kv := map[string]string{}
	for _, s := range txt {
		k, v, _ := strings.Cut(s, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if _, dup := kv[k]; !dup {
			kv[k] = v
		}
	}
	return kv
}

// Service is one service instance a responder announces (the simulator's
// side).
type Service struct {
	Instance string   // "Living Room TV"
	Type     string   // "_googlecast._tcp"
	Port     uint16   // the service's port
	TXT      []string // "md=Chromecast", …
}

// Zone is what a responder announces: its host name, address and services.
type Zone struct {
	Host     string // "Chromecast-5a3f" (".local." is added)
	Addr     netip.Addr
	Services []Service
}

// ErrNotQuery marks bytes that are not a one-question query.
var ErrNotQuery = errors.New("mdns: not a one-question query")

// Answer builds the unicast reply to query from z, as a responder answers
// a legacy unicast query (RFC 6762 section 6.7: the id and question echoed,
// records with the cache-flush bit clear): the meta-query lists the service
// types; a type's PTR lists its instances, with their SRV, TXT and the
// host's address as additional records (RFC 6763 section 12); SRV, TXT and
// A questions get their record. Other questions get no answer (nil).
func Answer(query []byte, z Zone) ([]byte, error) {
	q := new(mdns.Msg)
	if err := q.Unpack(query); err != nil {
		return nil, fmt.Errorf("mdns: unpack query: %w", err)
	}
	if q.Response || len(q.Question) != 1 {
		return nil, ErrNotQuery
	}
	qn := q.Question[0]
	name := canon(qn.Name)
	host := mdns.Fqdn(z.Host + ".local")
	hdr := func(n string, t uint16) mdns.RR_Header {
		return mdns.RR_Header{Name: n, Rrtype: t, Class: mdns.ClassINET, Ttl: 120}
	}
	inst := func(s Service) string { return escape(s.Instance) + "." + mdns.Fqdn(s.Type+".local") }
	srv := func(s Service) mdns.RR {
		return &mdns.SRV{Hdr: hdr(inst(s), mdns.TypeSRV), Target: host, Port: s.Port}
	}
	txt := func(s Service) mdns.RR { return &mdns.TXT{Hdr: hdr(inst(s), mdns.TypeTXT), Txt: s.TXT} }
	a := func() mdns.RR { return &mdns.A{Hdr: hdr(host, mdns.TypeA), A: z.Addr.AsSlice()} }
	m := new(mdns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.RecursionDesired = false
	switch {
	case name == ServicesName && qn.Qtype == mdns.TypePTR:
		for _, s := range z.Services {
			t := mdns.Fqdn(s.Type + ".local")
			if !slices.ContainsFunc(m.Answer, func(rr mdns.RR) bool { return rr.(*mdns.PTR).Ptr == t }) {
				m.Answer = append(m.Answer, &mdns.PTR{Hdr: hdr(ServicesName, mdns.TypePTR), Ptr: t})
			}
		}
	case name == canon(host) && qn.Qtype == mdns.TypeA && z.Addr.Is4():
		m.Answer = append(m.Answer, a())
	default:
		for _, s := range z.Services {
			switch {
			case qn.Qtype == mdns.TypePTR && name == canon(s.Type+".local."):
				m.Answer = append(m.Answer, &mdns.PTR{Hdr: hdr(name, mdns.TypePTR), Ptr: inst(s)})
				m.Extra = append(m.Extra, srv(s), txt(s))
			case qn.Qtype == mdns.TypeSRV && name == canon(inst(s)):
				m.Answer = append(m.Answer, srv(s))
			case qn.Qtype == mdns.TypeTXT && name == canon(inst(s)):
				m.Answer = append(m.Answer, txt(s))
			}
		}
		if len(m.Extra) > 0 && z.Addr.Is4() {
			m.Extra = append(m.Extra, a())
		}
	}
	if len(m.Answer) == 0 {
		return nil, nil
	}
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("mdns: pack reply: %w", err)
	}
	return b, nil
}

// canon returns a name in miekg/dns's presentation form, lower case, so
// that differently escaped spellings of one name compare equal.
func canon(n string) string {
	buf := make([]byte, 256)
	off, err := mdns.PackDomainName(mdns.Fqdn(n), buf, 0, nil, false)
	if err != nil {
		return strings.ToLower(n)
	}
	s, _, err := mdns.UnpackDomainName(buf[:off], 0)
	if err != nil {
		return strings.ToLower(n)
	}
	return strings.ToLower(s)
}

// escape writes an instance label in presentation form (dots and
// backslashes escaped; spaces stay).
func escape(l string) string {
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(l)
}
