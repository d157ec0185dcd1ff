package flow

import (
	"net/netip"
	"time"
)

// RollupKey identifies one hourly roll-up: a device's traffic with one peer on
// one protocol and service port, in one direction.
type RollupKey struct {
	Hour     int64 // Unix seconds of the hour's start (UTC)
	Device   netip.Addr
	Peer     netip.Addr
	Proto    uint8
	Port     uint16
	Outbound bool
}

// Rollup is the sum of the flows under one key.
type Rollup struct {
	RollupKey
	Known          bool
	Flows          uint64
	Packets, Bytes uint64 // both directions
	First, Last    int64  // Unix nanoseconds
}

// Aggregator sums records into hourly roll-ups per device. It is not safe for
// concurrent use; the pipeline's consumer owns it.
type Aggregator struct {
	m map[RollupKey]*Rollup
}

// NewAggregator returns an empty aggregator.
func NewAggregator() *Aggregator { return &Aggregator{m: make(map[RollupKey]*Rollup, 1024)} }

// Add sums r, seen from o, into its roll-up.
func (a *Aggregator) Add(r *Record, o Orientation) {
	ts := r.Start.UnixNano()
	k := RollupKey{Hour: r.Start.Unix() / 3600 * 3600, Device: o.Device, Peer: o.Peer, Proto: r.Proto, Port: o.Port, Outbound: o.Outbound}
	ru := a.m[k]
	if ru == nil {
		ru = &Rollup{RollupKey: k, Known: o.Known, First: ts, Last: ts}
		a.m[k] = ru
	}
	ru.Flows++
	ru.Packets += r.Packets + r.RevPackets
	ru.Bytes += r.Bytes + r.RevBytes
	end := ts
	if !r.End.IsZero() {
		end = r.End.UnixNano()
	}
	if ts < ru.First {
		ru.First = ts
	}
	if end > ru.Last {
		ru.Last = end
	}
}

// Len returns the number of roll-ups.
func (a *Aggregator) Len() int { return len(a.m) }

// Rollups returns the roll-ups in no particular order.
func (a *Aggregator) Rollups() []Rollup {
	out := make([]Rollup, 0, len(a.m))
	for _, r := range a.m {
		out = append(out, *r)
	}
	return out
}

// HourTime returns the roll-up hour as a time.
func (k RollupKey) HourTime() time.Time { return time.Unix(k.Hour, 0).UTC() }
