package flow

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"iotwatch/internal/model"
)

// Identity decides which end of a flow is the device. A device is an address
// in the monitored networks: the inventory (store.Assets), a device list the
// user gives, and the monitored CIDRs (SetNetworks; private, CGNAT and
// link-local ranges when none are set). Any other address is a peer, whichever
// side opened the connection: an outside host attacking a device is never
// itself a device. A flow between two outside addresses has no device
// (Orientation.Transit).
type Identity struct {
	names    map[netip.Addr]string
	prefixes []netip.Prefix
	networks []netip.Prefix // monitored networks; nil: Local ranges
}

// SetNetworks sets the monitored networks (replacing the default private
// ranges); inventoried and listed devices stay devices.
func (id *Identity) SetNetworks(ps []netip.Prefix) {
	id.networks = nil
	for _, p := range ps {
		id.networks = append(id.networks, p.Masked())
	}
}

// Monitored reports whether a is a device address: inventoried, listed, or
// in the monitored networks.
func (id *Identity) Monitored(a netip.Addr) bool {
	return id.Known(a) || id.inNetworks(a)
}

// inNetworks reports whether a is in the monitored networks.
func (id *Identity) inNetworks(a netip.Addr) bool {
	if id == nil || id.networks == nil {
		return Local(a)
	}
	for _, p := range id.networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseNetworks parses comma-separated or repeated CIDRs (a bare address is
// a /32 or /128).
func ParseNetworks(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !strings.Contains(f, "/") {
				a, err := netip.ParseAddr(f)
				if err != nil {
					return nil, fmt.Errorf("network %q: %w", f, err)
				}
				out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("network %q: %w", f, err)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// NewIdentity builds an identity from inventoried assets.
func NewIdentity(assets []model.Asset) *Identity {
	id := &Identity{names: map[netip.Addr]string{}}
	for _, a := range assets {
		name := a.Hostname
		if name == "" {
			name = strings.TrimSpace(a.Vendor + " " + a.Product)
		}
		id.names[a.IP.Unmap()] = name
	}
	return id
}

// ReadDeviceList adds devices from a list: one address or CIDR per line,
// optionally followed by whitespace or a comma and a name; '#' starts a comment.
func (id *Identity) ReadDeviceList(r io.Reader) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(strings.ReplaceAll(line, ",", " "))
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		name := strings.Join(f[1:], " ")
		if strings.Contains(f[0], "/") {
			p, err := netip.ParsePrefix(f[0])
			if err != nil {
				return fmt.Errorf("device list line %d: %w", n, err)
			}
			id.prefixes = append(id.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			return fmt.Errorf("device list line %d: %w", n, err)
		}
		id.names[a.Unmap()] = name
	}
	return sc.Err()
}

// Len returns how many addresses and prefixes are known.
func (id *Identity) Len() int { return len(id.names) + len(id.prefixes) }

// Known reports whether a is an inventoried device.
func (id *Identity) Known(a netip.Addr) bool {
	if id == nil {
		return false
	}
	if _, ok := id.names[a]; ok {
		return true
	}
	for _, p := range id.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Name returns the device's name from the inventory, if any.
func (id *Identity) Name(a netip.Addr) string {
	if id == nil {
		return ""
	}
	return id.names[a]
}

// Orientation is a record seen from its device.
type Orientation struct {
	Device, Peer netip.Addr
	// Outbound reports whether the device is the record's source.
	Outbound bool
	// Known reports whether the device is in the inventory.
	Known bool
	// Port is the peer's service port (destination port when outbound).
	Port uint16
	// Internal reports whether both ends are devices (lateral traffic): the
	// source is then a device even when Outbound is false.
	Internal bool
	// Transit reports whether neither end is a device (both outside the
	// monitored networks): no device acts in it. Device is then the source.
	Transit bool
	// Rel identifies the record's relation in the pipeline's aggregator:
	// IDs are dense from 1 and a relation keeps its ID for its life in the
	// pipeline (also when it is spilled and comes back) until a checkpoint
	// starts the relations afresh (Checkpointer). 0 means none (the relation
	// bound was reached, or outside a pipeline). Observers may keep
	// per-relation state in an array indexed by it instead of in a map of
	// their own; they run on another goroutine than the aggregator, so the ID
	// is a number, not a pointer into its tables.
	Rel uint32
}

// Orient decides which side of r is the device.
func (id *Identity) Orient(r *Record) Orientation {
	var o Orientation
	id.orient(r, &o)
	return o
}

// orient is Orient writing r's orientation into o (all of it: Rel is 0), as
// a pipeline's producer does into its batch, with no copy of the result.
func (id *Identity) orient(r *Record, o *Orientation) {
	var ks, kd, ms, md bool
	if id == nil || (len(id.names) == 0 && len(id.prefixes) == 0) {
		// No inventory (the common case): only the networks tell; by
		// default the local ranges, tested here on IPv4 addresses.
		if (id == nil || id.networks == nil) && r.Src.Is4() && r.Dst.Is4() {
			s, d := r.Src.As4(), r.Dst.As4()
			ms = local4(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]))
			md = local4(uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3]))
		} else {
			ms, md = id.inNetworks(r.Src), id.inNetworks(r.Dst)
		}
	} else {
		ks, kd = id.Known(r.Src), id.Known(r.Dst)
		ms, md = ks || id.inNetworks(r.Src), kd || id.inNetworks(r.Dst)
	}
	out := true
	switch {
	case ks:
	case kd:
		out = false
	case ms && !md:
	case md && !ms:
		out = false
	case serviceLike(r.SrcPort) && !serviceLike(r.DstPort):
		// Same side: the end answering from a service port is the peer.
		out = false
	}
	if out {
		*o = Orientation{Device: r.Src, Peer: r.Dst, Outbound: true, Known: ks, Port: r.DstPort, Internal: ms && md, Transit: !ms && !md}
	} else {
		*o = Orientation{Device: r.Dst, Peer: r.Src, Known: kd, Port: r.SrcPort, Internal: ms && md, Transit: !ms && !md}
	}
}

func serviceLike(p uint16) bool { return p != 0 && p < 1024 }

// Local reports whether a is a private, loopback, link-local or CGNAT address:
// the side of a flow where devices live when nothing else is known.
func Local(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		return local4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
}

// local4 is Local for an IPv4 address as a number: 10/8, 172.16/12,
// 192.168/16 (private), 127/8 (loopback), 169.254/16 (link-local) and
// 100.64/10 (CGNAT).
func local4(a uint32) bool {
	return a>>24 == 10 || a>>20 == 172<<4|1 || a>>16 == 192<<8|168 || a>>24 == 127 || a>>16 == 169<<8|254 || a>>22 == 100<<2|1
}
