package detect

// relState is the beacon detector's state per pipeline relation, indexed by
// the relation's ID (flow.Orientation.Rel): 0 is none, pendingBit|i the
// pending first beat i, i+1 the series i (see observeBeacon). The pipeline
// gives IDs densely from 1, so the state is an array of 4 bytes per relation,
// in chunks allocated as the IDs reach them (appending never copies, and
// there is nothing in them for the garbage collector to scan). The
// aggregator that gives the IDs runs on another goroutine: a number, unlike
// a pointer into its tables, stays valid there.
type relState struct{ c [][]uint32 }

const relChunk = 1 << 14 // IDs per chunk (64 KiB)

// at returns the state of relation id, nil for 0 (no relation).
func (rs *relState) at(id uint32) *uint32 {
	if id == 0 {
		return nil
	}
	c := int(id / relChunk)
	for len(rs.c) <= c {
		rs.c = append(rs.c, nil)
	}
	if rs.c[c] == nil {
		// Written once when made: a relation's state is read before it is
		// written, and a fresh page read first faults twice (the shared
		// zero page, then a copy).
		rs.c[c] = make([]uint32, relChunk)
		clear(rs.c[c])
	}
	return &rs.c[c][id%relChunk]
}
