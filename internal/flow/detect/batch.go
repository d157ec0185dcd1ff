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
// two distances ahead and the entry's lines one distance ahead. The entry
// found ahead is the record's: an entry keeps its index while records are
// observed (only expire and LoadState rebuild the table), so the record
// looks it up again only when its actor had none then.
func (e *Engine) ObserveBatch(recs []flow.Record, ors []flow.Orientation) {
	t := &e.actors4
	hs := e.ahead[:0]
	for i := range recs {
		var h aheadKey
		if a4, ok := v4(recs[i].Src); ok && !ors[i].Transit {
			h = aheadKey{key: a4, hash: hash32(a4), ok: true}
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
				if x := t.index(hs[j].key, hs[j].hash); x != 0 {
					hs[j].ent = x
					p := unsafe.Pointer(&t.ents[x-1])
					for off := uintptr(0); off < actorEntSize; off += 64 {
						flow.Prefetch(unsafe.Add(p, off))
					}
				}
			}
		}
		var ae *actorEnt
		if h := &hs[i]; h.ent != 0 {
			ae = &t.ents[h.ent-1]
		} else if h.ok {
			ae = t.get(h.key)
		}
		e.observe(&recs[i], ors[i], ae)
	}
}

// readAhead is how many records ahead ObserveBatch reads an actor's entry
// (and twice as many its index slot).
const readAhead = 8

// aheadKey is a record's IPv4 actor and its hash (ok), and its entry's
// index+1 when ObserveBatch found it ahead (0: not looked up, or none yet).
type aheadKey struct {
	key, hash, ent uint32
	ok             bool
}
