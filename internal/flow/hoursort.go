package flow

import (
	"cmp"
	"math"
	"slices"
)

// sortHourly sorts hourly roll-ups by device, hour, direction (inbound
// first) and attribution, in place, as flow_devices rows list them (see
// orderHourly). ord is scratch space, returned for reuse.
func sortHourly(h []Hourly, ord []relOrd) []relOrd {
	ord = orderHourly(h, ord)
	if len(ord) > 0 {
		permute(h, ord, hourIndex)
	}
	return ord[:0]
}

// hourIndex masks the index of an hourly roll-up in orderHourly's keys.
const hourIndex = 1<<30 - 1

// orderHourly returns the order sortHourly gives hourly roll-ups, without
// moving them: packed keys whose lo & hourIndex index h, in order, hi's
// upper 32 bits being the device (an IPv4 address as an integer). That is
// when every device is an IPv4 address and the hours span less than 2³² s:
// it radix-sorts 16-byte packed keys (sorting the 72-byte entries
// themselves moved them at every swap and compared netip.Addr values).
// Otherwise it sorts h in place, comparing the entries, and returns no
// keys. Entries equal in all four fields (one hour of a device both known
// and not) list the unknown one first. ord is scratch space.
func orderHourly(h []Hourly, ord []relOrd) []relOrd {
	ord = ord[:0]
	if len(h) == 0 {
		return ord
	}
	lo, hi := h[0].Hour, h[0].Hour
	packable := len(h) < 1<<30
	for i := range h {
		if !h[i].Device.Is4() {
			packable = false
			break
		}
		lo, hi = min(lo, h[i].Hour), max(hi, h[i].Hour)
	}
	if !packable || hi < lo || uint64(hi-lo) > math.MaxUint32 {
		slices.SortFunc(h, compareHourly)
		return ord
	}
	n := len(h)
	if cap(ord) < 2*n {
		ord = make([]relOrd, 0, 2*n)
	}
	for i := range h {
		d := h[i].Device.As4()
		dev := uint64(d[0])<<24 | uint64(d[1])<<16 | uint64(d[2])<<8 | uint64(d[3])
		ord = append(ord, relOrd{dev<<32 | uint64(h[i].Hour-lo),
			uint64(b2i(h[i].Outbound))<<63 | uint64(h[i].Attr)<<31 | uint64(b2i(h[i].Known))<<30 | uint64(i)})
	}
	// The radix sort keeps equal keys in their order, that of their index.
	radixSortOrd(ord, ord[n:2*n], 30)
	return ord
}

// compareHourly is the order sortHourly gives.
func compareHourly(a, b Hourly) int {
	if c := a.Device.Compare(b.Device); c != 0 {
		return c
	}
	if a.Hour != b.Hour {
		return cmp.Compare(a.Hour, b.Hour)
	}
	if a.Outbound != b.Outbound {
		return cmp.Compare(b2i(a.Outbound), b2i(b.Outbound))
	}
	if a.Attr != b.Attr {
		return cmp.Compare(a.Attr, b.Attr)
	}
	return cmp.Compare(b2i(a.Known), b2i(b.Known))
}
