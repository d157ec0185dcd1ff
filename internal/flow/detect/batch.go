package detect

import (
	"unsafe"

	"iotwatch/internal/flow"
)

// ObserveBatch implements flow.BatchObserver: Observe over the records in
// order, each IPv4 actor's entry read ahead. A probe's windows are in its
// actor's entry, a few cache lines that the records of ten thousand devices
// evict between two records of one device: a record's misses, one after
// another (the index slot, then the entry's lines), cost a memory latency
// each, where those of several records overlap when the slot is asked for
// two distances ahead and the entry's lines one distance ahead.
func (e *Engine) ObserveBatch(recs []flow.Record, ors []flow.Orientation) {
	t := &e.actors4
	hs := e.ahead[:0]
	for i := range recs {
		var h aheadKey
		if a4, ok := v4(recs[i].Src); ok && !ors[i].Transit {
			h = aheadKey{a4, hash32(a4), true}
		}
		hs = append(hs, h)
	}
	e.ahead = hs
	for i := range recs {
		if len(t.slots) > 0 {
			if j := i + 2*readAhead; j < len(hs) && hs[j].ok {
				flow.Prefetch(unsafe.Pointer(&t.slots[hs[j].hash&t.mask]))
			}
			if j := i + readAhead; j < len(hs) && hs[j].ok {
				if ae := t.findHash(hs[j].key, hs[j].hash); ae != nil {
					p := unsafe.Pointer(ae)
					for off := uintptr(0); off < actorEntSize; off += 64 {
						flow.Prefetch(unsafe.Add(p, off))
					}
				}
			}
		}
		e.Observe(&recs[i], ors[i])
	}
}

// readAhead is how many records ahead ObserveBatch reads an actor's entry
// (and twice as many its index slot).
const readAhead = 8

// aheadKey is a record's IPv4 actor and its hash (ok), for ObserveBatch.
type aheadKey struct {
	key, hash uint32
	ok        bool
}
