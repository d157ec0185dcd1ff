package flow

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"iotwatch/internal/model"
)

// Identity decides which end of a flow is the device. Addresses and prefixes
// come from the inventory (store.Assets) or a device list the user gives; a
// flow that touches none of them is still oriented by address scope (private
// side is the device) and counted as unknown.
type Identity struct {
	names    map[netip.Addr]string
	prefixes []netip.Prefix
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
	// Ext points at the Ext field of the record's relation in the
	// pipeline's aggregator, valid during the Observe call only (nil when the
	// relation bound was reached or outside a pipeline). Observers may keep
	// per-relation state under an index stored there instead of in a map of
	// their own.
	Ext *uint32
}

// Orient decides which side of r is the device.
func (id *Identity) Orient(r *Record) Orientation {
	out := func(known bool) Orientation {
		return Orientation{Device: r.Src, Peer: r.Dst, Outbound: true, Known: known, Port: r.DstPort}
	}
	in := func(known bool) Orientation {
		return Orientation{Device: r.Dst, Peer: r.Src, Outbound: false, Known: known, Port: r.SrcPort}
	}
	if id.Known(r.Src) {
		return out(true)
	}
	if id.Known(r.Dst) {
		return in(true)
	}
	ls, ld := Local(r.Src), Local(r.Dst)
	switch {
	case ls && !ld:
		return out(false)
	case ld && !ls:
		return in(false)
	}
	// Same scope: the side answering from a service port is the peer.
	if serviceLike(r.SrcPort) && !serviceLike(r.DstPort) {
		return in(false)
	}
	return out(false)
}

func serviceLike(p uint16) bool { return p != 0 && p < 1024 }

// Local reports whether a is a private, loopback, link-local or CGNAT address:
// the side of a flow where devices live when nothing else is known.
func Local(a netip.Addr) bool {
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		return b[0] == 100 && b[1]&0xc0 == 64 // 100.64.0.0/10
	}
	return false
}
