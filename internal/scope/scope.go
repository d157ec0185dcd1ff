// Package scope decides whether scan and audit targets fall inside the CIDR
// target scopes an admin granted a user: an operator may only act on
// networks they were given, and everything else is refused with the reason.
package scope

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"iotwatch/internal/target"
)

// ErrOutside is wrapped by every refusal; errors.As gives the *Outside.
var ErrOutside = errors.New("target outside the scopes granted")

// Outside is a refusal: the first address (and the target it came from)
// that no granted scope covers.
type Outside struct {
	Addr   netip.Addr
	Target string // the range it came from, lo-hi
	Scopes []netip.Prefix
}

func (o *Outside) Error() string {
	if len(o.Scopes) == 0 {
		return fmt.Sprintf("%s: %s (no scope granted: ask an admin for `iotwatch users scope add`)", ErrOutside, o.Addr)
	}
	s := make([]string, len(o.Scopes))
	for i, p := range o.Scopes {
		s[i] = p.String()
	}
	return fmt.Sprintf("%s: %s (in %s; granted: %s)", ErrOutside, o.Addr, o.Target, strings.Join(s, ", "))
}

// Unwrap makes errors.Is(err, ErrOutside) hold.
func (o *Outside) Unwrap() error { return ErrOutside }

// Covers returns the first address of [lo, hi] that no prefix of scopes
// contains, and whether all of them are contained.
func Covers(scopes []netip.Prefix, lo, hi netip.Addr) (netip.Addr, bool) {
	cur := lo
	for {
		best, found := netip.Addr{}, false
		for _, p := range scopes {
			if !p.Contains(cur) {
				continue
			}
			if last := lastAddr(p); !found || last.Compare(best) > 0 {
				best, found = last, true
			}
		}
		if !found {
			return cur, false
		}
		if best.Compare(hi) >= 0 {
			return netip.Addr{}, true
		}
		cur = best.Next()
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// CheckSet returns nil if every address of set lies inside scopes, else an
// *Outside naming the first one that does not.
func CheckSet(scopes []netip.Prefix, set *target.Set) error {
	for _, r := range set.Ranges() {
		if a, ok := Covers(scopes, r.Lo, r.Hi); !ok {
			return &Outside{Addr: a, Target: r.Lo.String() + "-" + r.Hi.String(), Scopes: scopes}
		}
	}
	return nil
}

// Check parses target specifications as scan and audit do (addresses, CIDRs,
// ranges, host names resolved with res, nil for the system resolver) and
// checks them against scopes. Files ("@file") and standard input ("-") are
// refused: a remote user cannot name files on the server.
func Check(ctx context.Context, scopes []netip.Prefix, specs []string, res target.Resolver) (*target.Set, error) {
	if len(specs) == 0 {
		return nil, errors.New("no targets")
	}
	for _, s := range specs {
		if s = strings.TrimSpace(s); s == "-" || strings.HasPrefix(s, "@") {
			return nil, fmt.Errorf("target %q: files and standard input cannot be checked against a scope here; list the addresses", s)
		}
	}
	p := target.Parser{Resolver: res}
	set, err := p.Parse(ctx, specs)
	if err != nil {
		return nil, err
	}
	return set, CheckSet(scopes, set)
}
