package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"iotwatch/internal/stats"
)

// DefaultMinCell is the default minimum cell size of a published report: a
// per-network count of fewer devices is suppressed.
const DefaultMinCell = 10

// PublishOptions make a report fit for the public (see Publish).
type PublishOptions struct {
	// MinCell is the minimum number of devices a per-network or per-region
	// row must count to be published (DefaultMinCell when 0).
	MinCell int
	// Pseudonym maps a device address to its pseudonym (Crypto-PAn); nil
	// drops every per-device row instead.
	Pseudonym func(netip.Addr) netip.Addr
	// PseudoPrefix maps a network to its pseudonymous network; nil leaves
	// network rows out of the report.
	PseudoPrefix func(netip.Prefix) netip.Prefix
	// Devices keeps the per-device rows (device list, devices under
	// unauthorized control) with pseudonymised addresses; it needs Pseudonym.
	Devices bool
	// Addresses are further addresses to hide wherever they appear (the
	// covered runs' devices that are not in the report's rows).
	Addresses []netip.Addr
}

// Publish returns a copy of r fit for the public: no device address anywhere
// (scan targets withheld; every address of a device or of its network that
// appears in any text is replaced by its pseudonym or dropped), rows per
// network and per region only where they count at least MinCell devices (the
// others suppressed, with enough further rows that the suppressed total is
// MinCell or more, so that it cannot be recovered by subtraction, and said
// in the method notes), and per-device rows only when asked for, keyed by
// pseudonym. Secrets are never shown.
func Publish(r *Report, opts PublishOptions) (*Report, error) {
	if opts.MinCell <= 0 {
		opts.MinCell = DefaultMinCell
	}
	if opts.Devices && opts.Pseudonym == nil {
		return nil, fmt.Errorf("publish: per-device rows need a pseudonym key")
	}
	hide := hiddenAddrs(r, opts.Addresses)
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var p Report
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	for i := range p.Runs {
		p.Runs[i].Targets = nil
	}
	if !opts.Devices {
		p.Devices = []DeviceRow{}
		if p.Fall != nil {
			p.Fall.Devices = nil
		}
	}
	notes := []string{}
	w := &p.WeakCredentials
	var n int
	w.BySubnet, n = suppressShares(w.BySubnet, opts.MinCell)
	notes = appendSuppressed(notes, n, "networks", "the weak-credential share by subnet")
	w.ByRegion, n = suppressShares(w.ByRegion, opts.MinCell)
	notes = appendSuppressed(notes, n, "regions", "the weak-credential share by region")
	p.Inventory.BySubnet, n = suppressCounts(p.Inventory.BySubnet, opts.MinCell)
	notes = appendSuppressed(notes, n, "networks", "the inventory by subnet")
	if opts.PseudoPrefix == nil {
		w.BySubnet, p.Inventory.BySubnet = []GroupShare{}, []Count{}
	}

	// Every text of the report: replace hidden addresses and their networks.
	b, err = json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	b, err = pseudonymiseJSON(b, hide, opts)
	if err != nil {
		return nil, err
	}
	var out Report
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if out.Method == nil {
		out.Method = map[string]string{}
	}
	how := fmt.Sprintf("published report: no device address; per-network and per-region rows only with at least %d devices (minimum cell size); scan targets withheld; secrets never shown", opts.MinCell)
	if opts.Devices {
		how += "; per-device rows keyed by Crypto-PAn pseudonyms (keyed and prefix-preserving: devices in one /24 share a pseudonymous /24)"
	} else {
		how += "; no per-device rows"
	}
	if opts.PseudoPrefix != nil {
		how += "; networks named by their Crypto-PAn pseudonyms"
	}
	if len(notes) > 0 {
		how += "; suppressed: " + strings.Join(notes, ", ")
	}
	out.Method["publication"] = how
	return &out, nil
}

func appendSuppressed(notes []string, n int, what, where string) []string {
	if n == 0 {
		return notes
	}
	return append(notes, fmt.Sprintf("%d %s in %s", n, what, where))
}

// suppressShares drops rows of fewer than k devices, and then the smallest
// remaining rows until the dropped rows count k devices or more (or none is
// left); the dropped rows are summed into one row when they count k or more.
// It returns the rows kept and how many were suppressed.
func suppressShares(rows []GroupShare, k int) ([]GroupShare, int) {
	kept, dropped := suppress(rows, k, func(r GroupShare) int { return r.Devices })
	if len(dropped) == 0 {
		return kept, 0
	}
	var weak, n int
	for _, r := range dropped {
		weak, n = weak+r.Weak, n+r.Devices
	}
	if n >= k {
		kept = append(kept, stats.NewShare(suppressedKey(len(dropped), k), weak, n))
	}
	return kept, len(dropped)
}

// suppressCounts is suppressShares for rows of counts.
func suppressCounts(rows []Count, k int) ([]Count, int) {
	kept, dropped := suppress(rows, k, func(r Count) int { return r.Devices })
	if len(dropped) == 0 {
		return kept, 0
	}
	sum := Count{Key: suppressedKey(len(dropped), k)}
	for _, r := range dropped {
		sum.Devices += r.Devices
		sum.Services += r.Services
	}
	if sum.Devices >= k {
		kept = append(kept, sum)
	}
	return kept, len(dropped)
}

func suppressedKey(n, k int) string {
	return fmt.Sprintf("suppressed: %d groups of fewer than %d devices", n, k)
}

// suppress splits rows into those published and those suppressed: primary
// suppression of rows under k, then secondary suppression of the smallest
// published rows while the suppressed total is under k.
func suppress[T any](rows []T, k int, size func(T) int) (kept, dropped []T) {
	kept = []T{}
	for _, r := range rows {
		if size(r) < k {
			dropped = append(dropped, r)
		} else {
			kept = append(kept, r)
		}
	}
	if len(dropped) == 0 {
		return kept, nil
	}
	total := 0
	for _, r := range dropped {
		total += size(r)
	}
	for total < k && len(kept) > 0 {
		i := 0
		for j := range kept {
			if size(kept[j]) < size(kept[i]) {
				i = j
			}
		}
		total += size(kept[i])
		dropped = append(dropped, kept[i])
		kept = slices.Delete(kept, i, i+1)
	}
	return kept, dropped
}

// hidden is what must not appear in a published report: device addresses
// and the networks (/24, /64) they are in.
type hidden struct {
	addrs map[netip.Addr]bool
	nets  map[netip.Prefix]bool
}

func (h hidden) has(a netip.Addr) bool {
	a = stats.DeviceKey(a)
	if h.addrs[a] {
		return true
	}
	p, err := netip.ParsePrefix(stats.SubnetKey(a))
	return err == nil && h.nets[p]
}

// hiddenAddrs collects the addresses of r's devices and of extra.
func hiddenAddrs(r *Report, extra []netip.Addr) hidden {
	h := hidden{addrs: map[netip.Addr]bool{}, nets: map[netip.Prefix]bool{}}
	add := func(a netip.Addr) {
		if !a.IsValid() {
			return
		}
		a = stats.DeviceKey(a)
		h.addrs[a] = true
		if p, err := netip.ParsePrefix(stats.SubnetKey(a)); err == nil {
			h.nets[p] = true
		}
	}
	for _, d := range r.Devices {
		if a, err := netip.ParseAddr(d.IP); err == nil {
			add(a)
		}
	}
	if r.Fall != nil {
		for _, d := range r.Fall.Devices {
			add(d.Device)
		}
	}
	for _, rows := range [][]GroupShare{r.WeakCredentials.BySubnet} {
		for _, s := range rows {
			if p, err := netip.ParsePrefix(s.Key); err == nil {
				h.nets[p.Masked()] = true
			}
		}
	}
	for _, c := range r.Inventory.BySubnet {
		if p, err := netip.ParsePrefix(c.Key); err == nil {
			h.nets[p.Masked()] = true
		}
	}
	for _, a := range extra {
		add(a)
	}
	return h
}

// addrToken finds IPv4 and IPv6 addresses, with an optional /length, in text.
var addrToken = regexp.MustCompile(`[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*[0-9A-Fa-f](?:/[0-9]{1,3})?`)

// pseudonymiseText replaces every hidden address in s by its pseudonym (or
// "[address withheld]" without a pseudonym function) and every hidden
// network by its pseudonymous network (or "[network withheld]").
func pseudonymiseText(s string, h hidden, opts PublishOptions) string {
	if !strings.ContainsAny(s, ".:") {
		return s
	}
	return addrToken.ReplaceAllStringFunc(s, func(tok string) string {
		if p, err := netip.ParsePrefix(tok); err == nil {
			a := p.Addr()
			if !h.has(a) && !h.nets[p.Masked()] {
				return tok
			}
			if p.Bits() == a.BitLen() || p.Bits() > 64 || (a.Is4() && p.Bits() > 24) {
				if opts.Pseudonym == nil {
					return "[address withheld]"
				}
				return netip.PrefixFrom(opts.Pseudonym(a), p.Bits()).String()
			}
			if opts.PseudoPrefix == nil {
				return "[network withheld]"
			}
			return opts.PseudoPrefix(p).String()
		}
		// An address followed by a port (a.b.c.d:23) or trailing text:
		// try the longest parsable head.
		for end := len(tok); end > 0; end-- {
			a, err := netip.ParseAddr(tok[:end])
			if err != nil {
				continue
			}
			if !h.has(a) {
				return tok
			}
			if opts.Pseudonym == nil {
				return "[address withheld]" + tok[end:]
			}
			return opts.Pseudonym(a).String() + tok[end:]
		}
		return tok
	})
}

// pseudonymiseJSON applies pseudonymiseText to every string of a JSON
// document, keys included (a map keyed by address).
func pseudonymiseJSON(doc []byte, h hidden, opts PublishOptions) ([]byte, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var walk func(x any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				out[pseudonymiseText(k, h, opts)] = walk(e)
			}
			return out
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		case string:
			return pseudonymiseText(t, h, opts)
		}
		return x
	}
	return json.Marshal(walk(v))
}

// CheckPublished reports an error naming the first hidden address (of
// addrs, or of their /24 or /64 networks) that appears in the rendered
// output b: the last check before a published report is written.
func CheckPublished(b []byte, addrs []netip.Addr) error {
	h := hidden{addrs: map[netip.Addr]bool{}, nets: map[netip.Prefix]bool{}}
	for _, a := range addrs {
		if a.IsValid() {
			a = stats.DeviceKey(a)
			h.addrs[a] = true
			if p, err := netip.ParsePrefix(stats.SubnetKey(a)); err == nil {
				h.nets[p] = true
			}
		}
	}
	for _, tok := range addrToken.FindAll(b, -1) {
		s := string(tok)
		if p, err := netip.ParsePrefix(s); err == nil {
			if h.nets[p.Masked()] && p.Bits() < p.Addr().BitLen() || h.addrs[stats.DeviceKey(p.Addr())] {
				return fmt.Errorf("published output names the network or address %s", s)
			}
			continue
		}
		for end := len(s); end > 0; end-- {
			if a, err := netip.ParseAddr(s[:end]); err == nil {
				if h.addrs[stats.DeviceKey(a)] {
					return fmt.Errorf("published output names the device address %s", a)
				}
				break
			}
		}
	}
	return nil
}
