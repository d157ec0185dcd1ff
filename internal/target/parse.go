package target

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

//go:embed blocklist.conf
var defaultBlocklist string

// DefaultBlocklist returns the built-in list of never-valid destinations
// (this-network, multicast, reserved, broadcast, documentation and
// benchmarking ranges). It leaves loopback and private ranges scannable.
func DefaultBlocklist() []netip.Prefix {
	p, err := ParsePrefixList(strings.NewReader(defaultBlocklist))
	if err != nil {
		panic("target: built-in blocklist: " + err.Error()) // covered by tests
	}
	return p
}

// Resolver looks up host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Parser turns target specifications into a Set.
type Parser struct {
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Stdin is read for the "-" target; nil means os.Stdin.
	Stdin io.Reader
	// ReadFile reads @file targets; nil means os.ReadFile via os.Open.
	Open func(name string) (io.ReadCloser, error)
}

// Parse parses each spec: an IPv4 or IPv6 address, a CIDR, a range
// a.b.c.d-e or a.b.c.d-a.b.c.e, a host name, "@file" or "-" (stdin). Files
// and stdin hold one spec per line and also accept zmap output ("ip" or
// "ip,port" CSV) and masscan -oL lines ("open tcp 80 1.2.3.4 1390167550").
func (p *Parser) Parse(ctx context.Context, specs []string) (*Set, error) {
	s := &Set{Names: map[netip.Addr]string{}}
	for _, spec := range specs {
		if err := p.parseOne(ctx, s, spec, true); err != nil {
			return nil, err
		}
	}
	if err := s.normalize(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Parser) parseOne(ctx context.Context, s *Set, spec string, top bool) error {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil
	case top && spec == "-":
		in := p.Stdin
		if in == nil {
			in = os.Stdin
		}
		return p.parseLines(ctx, s, in, "stdin")
	case top && strings.HasPrefix(spec, "@"):
		open := p.Open
		if open == nil {
			open = func(n string) (io.ReadCloser, error) { return os.Open(n) }
		}
		f, err := open(spec[1:])
		if err != nil {
			return fmt.Errorf("target file: %w", err)
		}
		defer f.Close()
		return p.parseLines(ctx, s, f, spec[1:])
	}
	return p.parseSpec(ctx, s, spec)
}

func (p *Parser) parseLines(ctx context.Context, s *Set, r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := p.parseLine(ctx, s, line); err != nil {
			return fmt.Errorf("%s line %d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// parseLine accepts a plain spec, zmap CSV "ip,port[,...]" and masscan -oL.
func (p *Parser) parseLine(ctx context.Context, s *Set, line string) error {
	if f := strings.Fields(line); len(f) >= 4 && (f[0] == "open" || f[0] == "closed") {
		port, err := strconv.ParseUint(f[2], 10, 16)
		if err != nil {
			return fmt.Errorf("masscan line: bad port %q", f[2])
		}
		a, err := netip.ParseAddr(f[3])
		if err != nil {
			return fmt.Errorf("masscan line: %w", err)
		}
		if f[0] == "open" && f[1] == "tcp" {
			s.Pairs = append(s.Pairs, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		}
		return nil
	}
	if strings.Contains(line, ",") {
		f := strings.Split(line, ",")
		a, err := netip.ParseAddr(strings.TrimSpace(f[0]))
		if err != nil {
			if strings.TrimSpace(f[0]) == "saddr" || strings.TrimSpace(f[0]) == "ip" {
				return nil // zmap CSV header
			}
			return fmt.Errorf("zmap line: %w", err)
		}
		port, err := strconv.ParseUint(strings.TrimSpace(f[1]), 10, 16)
		if err != nil {
			return fmt.Errorf("zmap line: bad port %q", f[1])
		}
		s.Pairs = append(s.Pairs, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		return nil
	}
	return p.parseSpec(ctx, s, line)
}

func (p *Parser) parseSpec(ctx context.Context, s *Set, spec string) error {
	if strings.Contains(spec, "/") {
		pf, err := parsePrefix(spec)
		if err != nil {
			return err
		}
		s.add(Range{pf.Addr(), lastAddr(pf)})
		return nil
	}
	if i := strings.LastIndexByte(spec, '-'); i > 0 {
		if lo, err := netip.ParseAddr(spec[:i]); err == nil {
			return addRange(s, lo.Unmap(), spec[i+1:], spec)
		}
	}
	if a, err := netip.ParseAddr(spec); err == nil {
		a = a.Unmap().WithZone("")
		s.add(Range{a, a})
		return nil
	}
	if !validHostname(spec) {
		return fmt.Errorf("target %q: not an address, CIDR, range or host name", spec)
	}
	res := p.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	addrs, err := res.LookupNetIP(ctx, "ip", spec)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", spec, err)
	}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		s.add(Range{a, a})
		s.Names[a] = spec
	}
	return nil
}

// addRange handles a.b.c.d-e (last octet) and full a.b.c.d-a.b.c.e forms.
func addRange(s *Set, lo netip.Addr, hiText, spec string) error {
	var hi netip.Addr
	if a, err := netip.ParseAddr(hiText); err == nil {
		hi = a.Unmap()
	} else if lo.Is4() {
		n, err := strconv.ParseUint(hiText, 10, 8)
		if err != nil {
			return fmt.Errorf("range %q: bad end %q", spec, hiText)
		}
		b := lo.As4()
		b[3] = byte(n)
		hi = netip.AddrFrom4(b)
	} else {
		return fmt.Errorf("range %q: bad end %q", spec, hiText)
	}
	if hi.Is4() != lo.Is4() || hi.Less(lo) {
		return fmt.Errorf("range %q: end before start", spec)
	}
	if _, ok := distance(lo, hi); !ok {
		return fmt.Errorf("range %q: too large", spec)
	}
	s.add(Range{lo, hi})
	return nil
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	// A top-level label is never all digits (RFC 3696 2): "10.0.0.300" is a
	// mistyped address, refused here rather than sent to the resolver.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return false
	}
	for _, label := range labels {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if c != '-' && c != '_' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				return false
			}
		}
	}
	return true
}
