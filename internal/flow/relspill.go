package flow

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"unsafe"
)

// Relations that age out of memory. An ingest of a large capture sees
// millions of device↔peer relations, most of them once (a scan, a lookup), and
// every one is stored at the end. Held in the relation table until then they
// made the ingest's memory grow with the capture, not with its active flows.
// The aggregator therefore keeps at most activeRelations IPv4 relations in its
// table: when it is full, the least recently seen half is written, sorted, as
// one run of fixed-size records to a spill file (unlinked at once, so that
// nothing is left behind by a crash), and Save merges the runs with what is
// still in memory, in the order flow_devices is written, summing a relation
// that came back after it was spilled. The stored rows are the same as
// without spilling.
//
// A spilled relation's key stays in a compact index (16 bytes) with its ID
// (Orientation.Rel), so that a relation seen again keeps its ID, and with it
// its detector state,
// and the relation bound (MaxRelations) counts distinct relations as before.

// DefaultActiveRelations is how many IPv4 relations the aggregator keeps in
// memory before it spills the least recently seen half (a 4 MiB table; the
// table doubles while spilled relations keep coming back, see evict).
// Measured against 196,608 (bench/flows): the same CPU time on a million
// single-packet flows and on 5M NetFlow records, 35–45 MB less resident.
const DefaultActiveRelations = 3 << 14

// relRecSize is the size of a spilled record: a relSlot (see slotBytes),
// whose first field is its key's device (cursorIn's search reads it).
const relRecSize = 64

var _ = [1]struct{}{}[unsafe.Sizeof(relSlot{})-relRecSize+unsafe.Offsetof(relSlot{}.key)+unsafe.Offsetof(relKey4{}.dev)]

func (k relKey4) compare(o relKey4) int {
	if c := cmp.Compare(k.dev, o.dev); c != 0 {
		return c
	}
	if c := cmp.Compare(k.peer, o.peer); c != 0 {
		return c
	}
	if c := cmp.Compare(k.port, o.port); c != 0 {
		return c
	}
	if c := cmp.Compare(k.proto, o.proto); c != 0 {
		return c
	}
	return cmp.Compare(b2i(k.out), b2i(o.out))
}

// slotBytes returns the memory of relation slots. The spill file holds the
// slots as they are in memory: it is the process's own (unlinked at once),
// never read by another build or machine, so that writing a run and reading
// it back are copies, not an encoding and a decoding of every field.
func slotBytes(s []relSlot) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*relRecSize)
}

// relSpill is the spill file: sorted runs of relation records.
type relSpill struct {
	f    *os.File
	name string // still to remove when unlinking at creation failed
	runs []relRun
	off  int64
	buf  []relSlot // writeOrdered's
}

type relRun struct {
	off int64
	n   int
}

func newRelSpill(dir string) (*relSpill, error) {
	f, err := os.CreateTemp(dir, "iotwatch-relations-*")
	if err != nil {
		return nil, fmt.Errorf("relation spill file: %w", err)
	}
	sp := &relSpill{f: f}
	if os.Remove(f.Name()) != nil {
		sp.name = f.Name() // removed on close (systems that keep open files)
	}
	return sp, nil
}

// write appends one run; slots must be sorted by key.
func (sp *relSpill) write(slots []relSlot) error { return sp.writeOrdered(slots, nil) }

// spillChunk is how many records writeOrdered writes at a time (1 MiB).
const spillChunk = 1 << 14

// writeOrdered appends one run: the slots in the order ord gives (its lo's
// low 32 bits index slots; nil: as they are), which must be by key. It
// gathers them into a buffer and writes that in a few large writes.
func (sp *relSpill) writeOrdered(slots []relSlot, ord []relOrd) error {
	for i := 0; i < len(slots); i += spillChunk {
		n := min(spillChunk, len(slots)-i)
		buf := slots[i : i+n]
		if ord != nil {
			buf = slices.Grow(sp.buf[:0], n)[:n]
			for k, o := range ord[i : i+n] {
				buf[k] = slots[o.lo&0xffffffff]
			}
			sp.buf = buf
		}
		if _, err := sp.f.Write(slotBytes(buf)); err != nil {
			return fmt.Errorf("relation spill file: %w", err)
		}
	}
	sp.runs = append(sp.runs, relRun{sp.off, len(slots)})
	sp.off += int64(len(slots)) * relRecSize
	return nil
}

func (sp *relSpill) close() error {
	if sp == nil || sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	if sp.name != "" {
		err = errors.Join(err, os.Remove(sp.name))
	}
	sp.f = nil
	return err
}

// relOrd is a relation's key packed into two integers that sort as
// relKey4.compare does (hi: device, peer; lo: port, protocol, direction),
// with the slot's index in lo's low 32 bits.
type relOrd struct{ hi, lo uint64 }

func (k relKey4) packed() (hi, lo uint64) {
	lo = uint64(k.port)<<9 | uint64(k.proto)<<1
	if k.out {
		lo |= 1
	}
	return uint64(k.dev)<<32 | uint64(k.peer), lo << 32
}

// sortSlots sorts relation slots by key. It radix-sorts 16-byte packed keys
// and then moves each 64-byte slot once (sorting the slots themselves moved
// them at every swap and compared five fields); ord is scratch space (twice
// the slots), returned for reuse.
func sortSlots(s []relSlot, ord []relOrd) []relOrd {
	ord = orderSlots(s, ord)
	permute(s, ord, 0xffffffff)
	return ord[:0]
}

// orderSlots returns the order of relation slots by key, as packed keys
// whose lo's low 32 bits index s, radix-sorted; ord is scratch space (twice
// the slots), returned for reuse.
func orderSlots(s []relSlot, ord []relOrd) []relOrd {
	n := len(s)
	if cap(ord) < 2*n {
		ord = make([]relOrd, 0, 2*n)
	}
	ord = ord[:n]
	for i := range s {
		hi, lo := s[i].key.packed()
		ord[i] = relOrd{hi, lo | uint64(i)}
	}
	radixSortOrd(ord, ord[n:2*n], 32)
	return ord
}

// permute moves s[ord[i].lo&idx] to position i for every i, each element
// once: it follows each cycle of the permutation, marking a done position
// with its own index (ord's index bits are overwritten).
func permute[T any](s []T, ord []relOrd, idx uint64) {
	for i := range ord {
		j := int(ord[i].lo & idx)
		if j == i {
			continue
		}
		tmp := s[i]
		k := i
		for j != i {
			s[k] = s[j]
			ord[k].lo = ord[k].lo&^idx | uint64(k)
			k, j = j, int(ord[j].lo&idx)
		}
		s[k] = tmp
		ord[k].lo = ord[k].lo&^idx | uint64(k)
	}
}
