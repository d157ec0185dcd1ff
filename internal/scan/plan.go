package scan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"iotwatch/internal/target"
)

// DefaultRate is the probe rate of a scan that names none: zmap's default
// of 10,000 packets per second.
const DefaultRate = 10_000

// LargeScan is the number of public addresses (a /8) above which a scan must
// name its rate and say that it means it (Config.AllowLarge).
const LargeScan = 1 << 24

// ErrLargeScan reports a scan of more than LargeScan public addresses that
// did not name its rate or was not allowed to be large.
var ErrLargeScan = errors.New("scan space larger than a /8 of public addresses")

// Plan is what a scan is about to do, known before any packet is sent.
type Plan struct {
	Items           uint64        `json:"items"` // (address, port) pairs in this shard
	Addresses       uint64        `json:"addresses"`
	PublicAddresses uint64        `json:"public_addresses"` // not private, loopback, link-local, CGN, multicast or reserved
	Ports           int           `json:"ports"`
	Rate            int           `json:"rate"`     // probes per second, 0 unlimited
	Duration        time.Duration `json:"duration"` // at Rate (0 when unlimited)
}

// Large reports whether the plan covers more than LargeScan public addresses.
func (p Plan) Large() bool { return p.PublicAddresses > LargeScan }

func (p Plan) String() string {
	s := fmt.Sprintf("%d endpoints (%d addresses, %d public, × %d ports)", p.Items, p.Addresses, p.PublicAddresses, p.Ports)
	if p.Rate == 0 {
		return s + " at no rate limit"
	}
	return s + fmt.Sprintf(" at %d probes/s: about %s", p.Rate, p.Duration.Round(time.Second))
}

// NewPlan works out the scan cfg describes and checks it: a scan of more
// than LargeScan public addresses needs an explicit rate (cfg.Rate not 0)
// and cfg.AllowLarge, or NewPlan returns ErrLargeScan. It sends nothing.
func NewPlan(ctx context.Context, cfg Config) (Plan, error) {
	sp, err := Space(ctx, &cfg)
	if err != nil {
		return Plan{}, fmt.Errorf("%w: %w", ErrBadTargets, err)
	}
	shards := max(cfg.Shards, 1)
	p := Plan{Addresses: sp.Set.Len(), Ports: len(sp.Ports), Items: sp.Len() / uint64(shards), Rate: effectiveRate(cfg.Rate)}
	for _, r := range sp.Set.Ranges() {
		p.PublicAddresses = satAdd(p.PublicAddresses, publicIn(r))
	}
	if p.Rate > 0 {
		p.Duration = time.Duration(float64(p.Items) / float64(p.Rate) * float64(time.Second))
	}
	if p.Large() && (cfg.Rate == 0 || !cfg.AllowLarge) {
		return p, fmt.Errorf("%w: %s; name the rate and allow a large scan explicitly", ErrLargeScan, p)
	}
	return p, nil
}

// effectiveRate maps Config.Rate to probes per second (0: unlimited).
func effectiveRate(r int) int {
	switch {
	case r == 0:
		return DefaultRate
	case r < 0:
		return 0
	}
	return r
}

// nonPublic lists the ranges that are not public unicast addresses.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
		"::/8", "fc00::/7", "fe80::/10", "ff00::/8"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// publicIn counts the public addresses of r (saturating).
func publicIn(r target.Range) uint64 {
	n := r.Size()
	for _, p := range nonPublic {
		lo, hi := p.Masked().Addr(), lastOf(p)
		if lo.Is4() != r.Lo.Is4() {
			continue
		}
		if r.Lo.Compare(lo) > 0 {
			lo = r.Lo
		}
		if r.Hi.Compare(hi) < 0 {
			hi = r.Hi
		}
		if lo.Compare(hi) <= 0 {
			n -= min(n, target.Range{Lo: lo, Hi: hi}.Size())
		}
	}
	return n
}

// lastOf returns the last address of prefix p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}
