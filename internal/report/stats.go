package report

import (
	"cmp"
	"net/netip"
	"slices"

	"iotwatch/internal/audit"
)

// Wilson returns the Wilson score interval at 95% for k successes out of n
// (the audit's estimator, so both print the same numbers). With n = 0 the
// interval is [0, 1]: nothing is known.
func Wilson(k, n int) Interval {
	k = max(0, min(k, n))
	lo, hi := audit.Wilson(k, n, audit.Z95)
	return Interval{Low: lo, High: hi}
}

// share returns k/n, or 0 when n is 0.
func share(k, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// growth returns (cur-prev)/prev, or 0 when prev is 0.
func growth(cur, prev int) float64 {
	if prev <= 0 {
		return 0
	}
	return float64(cur-prev) / float64(prev)
}

// subnetOf names the /24 (IPv4) or /48 (IPv6) network of a.
func subnetOf(a netip.Addr) string {
	bits := 24
	if a.Is6() && !a.Is4In6() {
		bits = 48
	}
	p, err := a.Unmap().Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// orUnknown names an empty key "unknown".
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// addrSet is a set of device addresses.
type addrSet map[netip.Addr]struct{}

func (s addrSet) add(a netip.Addr) { s[a] = struct{}{} }

func (s addrSet) has(a netip.Addr) bool { _, ok := s[a]; return ok }

// groups maps a key to the set of addresses in it.
type groups map[string]addrSet

func (g groups) add(key string, a netip.Addr) {
	s, ok := g[key]
	if !ok {
		s = addrSet{}
		g[key] = s
	}
	s.add(a)
}

// shares computes the weak share per group: n = addresses in the group,
// k = those also in weak. Largest groups first, then by key.
func (g groups) shares(weak func(key string, a netip.Addr) bool) []GroupShare {
	out := make([]GroupShare, 0, len(g))
	for key, set := range g {
		k := 0
		for a := range set {
			if weak(key, a) {
				k++
			}
		}
		out = append(out, GroupShare{Key: key, Devices: len(set), Weak: k, Share: share(k, len(set)), CI95: Wilson(k, len(set))})
	}
	slices.SortFunc(out, func(a, b GroupShare) int {
		return cmp.Or(unknownLast(a.Key, b.Key), cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// counts turns groups into Counts, largest first, then by key.
func (g groups) counts(services map[string]int) []Count {
	out := make([]Count, 0, len(g))
	for key, set := range g {
		out = append(out, Count{Key: key, Devices: len(set), Services: services[key]})
	}
	sortCounts(out)
	return out
}

func sortCounts(cs []Count) {
	slices.SortFunc(cs, func(a, b Count) int {
		return cmp.Or(unknownLast(a.Key, b.Key), cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Key, b.Key))
	})
}

// tally turns a key→count map into sorted Counts.
func tally(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, Devices: n})
	}
	sortCounts(out)
	return out
}

// unknownLast orders the "unknown" group after every named one.
func unknownLast(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "unknown":
		return 1
	case b == "unknown":
		return -1
	}
	return 0
}
