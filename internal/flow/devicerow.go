package flow

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"iotwatch/internal/geo"
	"iotwatch/internal/store"
)

// deviceRow is one flow_devices row: a device's roll-ups and relations of
// one run. Rows written since 00048 hold them in packed (see rowcodec.go);
// older rows as compact JSON arrays in "hours" and "peers" (see
// 00003_flows.sql), which scanDevices still reads.
type deviceRow struct {
	device                netip.Addr
	known                 bool
	firstHour, lastHour   int64
	flows, packets, bytes uint64
	countryDB, ownerDB    string
	packed                []byte
}

type hourEntry struct {
	hour                  int64
	outbound              bool
	country, owner        string
	asn                   uint32
	flows, packets, bytes uint64
}

type relEntry struct {
	peer                  netip.Addr
	proto                 uint8
	port                  uint16
	outbound              bool
	flows, packets, bytes uint64
	first, last           int64
	country, owner        string
	asn                   uint32
}

// groupDevices sorts roll-ups and relations by device and calls fn once per
// device with its hourly roll-ups (in flow_devices order) and relations (in
// key order). The relations a take left aside are read in order from
// memory and the spill file, merged with those in r.Relations. The slices
// are valid during the call only.
func groupDevices(r Rollups, fn func(dev netip.Addr, hours []Hourly, rels []Relation) error) error {
	// Sorted in place: the slices are in no particular order by contract,
	// and copies of them would double the peak memory of a large ingest.
	sortHours(r.Hourly)
	var all []Relation
	return groupPart(devicePart{hours: r.Hourly, rels: sortedByKey(r.Relations), src: r.rel4, hi: allDevices4},
		func(dev netip.Addr, hours []Hourly, rels []Relation, slots []relSlot) error {
			all = mergeSlots(all[:0], rels, slots)
			return fn(dev, hours, all)
		})
}

// mergeSlots appends to buf a device's relations of Rollups.Relations and
// those a take left aside, both in key order, in key order.
func mergeSlots(buf, rels []Relation, slots []relSlot) []Relation {
	j := 0
	for i := range slots {
		r := slots[i].relation()
		for ; j < len(rels) && compareRelKey(r.RelationKey, rels[j].RelationKey) >= 0; j++ {
			buf = append(buf, rels[j])
		}
		buf = append(buf, r)
	}
	return append(buf, rels[j:]...)
}

// sortedByKey sorts rels by key, in place, and returns them.
func sortedByKey(rels []Relation) []Relation {
	slices.SortFunc(rels, func(a, b Relation) int { return compareRelKey(a.RelationKey, b.RelationKey) })
	return rels
}

// devicePart is what the flow_devices rows of a range of devices are made
// of: their hourly roll-ups, their relations of Rollups.Relations (sorted
// by key) and the range [lo, hi) of devices (IPv4 addresses as integers)
// whose relations a take left aside are theirs.
type devicePart struct {
	hours  []Hourly
	rels   []Relation
	src    *relSource
	lo, hi uint64
	// ord, when not nil, is the order of hours (orderHourly), which are
	// not moved: each device's are gathered as its row is made.
	ord []relOrd
}

// groupPart calls fn once per device of a part whose hours are sorted (or
// ordered: devicePart.ord), in device order, with its hourly roll-ups, its
// relations of the part's rels and those a take left aside (summed across
// runs), each in key order. The slices are valid during the call only.
func groupPart(p devicePart, fn func(dev netip.Addr, hours []Hourly, rels []Relation, slots []relSlot) error) error {
	hours, rels, ord := p.hours, p.rels, p.ord
	var gathered []Hourly // a device's hours, in ord's order
	cur := p.src.cursorIn(p.lo, p.hi)
	// slots holds the cursor's next device's relations (more: there is one).
	slots, dev4, more := cur.appendDevice(nil)
	i, j := 0, 0
	for {
		var dev netip.Addr
		have := more
		if more {
			dev = addr4(dev4)
		}
		if i < len(hours) {
			hd := hours[i].Device
			if ord != nil {
				hd = addr4(uint32(ord[i].hi >> 32))
			}
			if !have || hd.Compare(dev) < 0 {
				dev, have = hd, true
			}
		}
		if j < len(rels) && (!have || rels[j].Device.Compare(dev) < 0) {
			dev, have = rels[j].Device, true
		}
		if !have {
			break
		}
		var devHours []Hourly
		if ord != nil {
			gathered = gathered[:0]
			if dev.Is4() {
				b := dev.As4()
				d4 := binary.BigEndian.Uint32(b[:])
				for ; i < len(ord) && uint32(ord[i].hi>>32) == d4; i++ {
					gathered = append(gathered, hours[ord[i].lo&hourIndex])
				}
			}
			devHours = gathered
		} else {
			h := i
			for i < len(hours) && hours[i].Device == dev {
				i++
			}
			devHours = hours[h:i]
		}
		r := j
		for j < len(rels) && rels[j].Device == dev {
			j++
		}
		var own []relSlot
		if more && dev == addr4(dev4) {
			own = slots
		}
		if cur.err != nil {
			return cur.err
		}
		if err := fn(dev, devHours, rels[r:j], own); err != nil {
			return err
		}
		if own != nil {
			slots, dev4, more = cur.appendDevice(slots[:0])
		}
	}
	return cur.err
}

// splitMin is how many hourly roll-ups make splitDevices split.
var splitMin = 1 << 15

// splitDevices divides r's rows in two parts by device when r has at least
// splitMin hourly roll-ups (else it returns one part): the devices up to
// the median of a sample, and the others. It sorts r.Relations; the parts'
// hours are in no order.
func splitDevices(r Rollups) []devicePart {
	rels := sortedByKey(r.Relations)
	h := r.Hourly
	if len(h) < max(splitMin, 64) {
		return []devicePart{{hours: h, rels: rels, src: r.rel4, hi: allDevices4}}
	}
	pivot, i := partitionHours(h)
	k := sort.Search(len(rels), func(j int) bool { return rels[j].Device.Compare(pivot) > 0 })
	split := uint64(allDevices4) // an IPv6 pivot: every IPv4 device is up to it
	if pivot.Is4() {
		b := pivot.As4()
		split = uint64(binary.BigEndian.Uint32(b[:])) + 1
	}
	return []devicePart{
		{hours: h[:i], rels: rels[:k], src: r.rel4, hi: split},
		{hours: h[i:], rels: rels[k:], src: r.rel4, lo: split, hi: allDevices4},
	}
}

// partitionHours moves the hourly roll-ups of the devices up to a pivot,
// the median of a sample of devices, before the others; h[:i] are theirs.
// h must have at least 64 entries.
func partitionHours(h []Hourly) (pivot netip.Addr, i int) {
	var sample [63]netip.Addr
	for i := range sample {
		sample[i] = h[i*(len(h)-1)/(len(sample)-1)].Device
	}
	slices.SortFunc(sample[:], netip.Addr.Compare)
	pivot = sample[len(sample)/2]
	for j := range h {
		if h[j].Device.Compare(pivot) <= 0 {
			h[i], h[j] = h[j], h[i]
			i++
		}
	}
	return pivot, i
}

// sortHours sorts hourly roll-ups as sortHourly does. A large slice is
// split by device and its two parts sorted on two goroutines.
func sortHours(h []Hourly) {
	if len(h) < 1<<15 {
		sortHourly(h, nil)
		return
	}
	_, i := partitionHours(h)
	var wg sync.WaitGroup
	wg.Go(func() { sortHourly(h[:i], nil) })
	sortHourly(h[i:], nil)
	wg.Wait()
}

// encodeDevices calls emit once per device with its row, packed. The row
// and its bytes are reused after emit returns.
func encodeDevices(r Rollups, emit func(*deviceRow) error) error {
	e := newDeviceEncoder(r.Attributions)
	sortHours(r.Hourly)
	return groupPart(devicePart{hours: r.Hourly, rels: sortedByKey(r.Relations), src: r.rel4, hi: allDevices4},
		func(dev netip.Addr, hours []Hourly, rels []Relation, slots []relSlot) error {
			return emit(e.encode(dev, hours, rels, slots))
		})
}

// deviceEncoder makes flow_devices rows. It is for one goroutine; fork
// makes another.
type deviceEncoder struct {
	countryDB, ownerDB string
	p                  *rowPacker
	row                deviceRow
}

func newDeviceEncoder(attrs []geo.Attribution) *deviceEncoder {
	e := &deviceEncoder{p: newRowPacker(attrs)}
	for _, a := range attrs {
		if a.CountryDB != "" {
			e.countryDB = a.CountryDB
		}
		if a.OwnerDB != "" {
			e.ownerDB = a.OwnerDB
		}
	}
	return e
}

// fork returns an encoder of the same rows for another goroutine.
func (e *deviceEncoder) fork() *deviceEncoder {
	return &deviceEncoder{countryDB: e.countryDB, ownerDB: e.ownerDB, p: e.p.fork()}
}

// encode returns the row of a device, valid until the next call; its
// relations are rels and slots (see groupPart).
func (e *deviceEncoder) encode(dev netip.Addr, hours []Hourly, rels []Relation, slots []relSlot) *deviceRow {
	row := &e.row
	*row = deviceRow{device: dev, countryDB: e.countryDB, ownerDB: e.ownerDB, firstHour: -1}
	for i := range hours {
		h := &hours[i]
		row.known = row.known || h.Known
		row.flows += h.Flows
		row.packets += h.Packets
		row.bytes += h.Bytes
		if row.firstHour < 0 || h.Hour < row.firstHour {
			row.firstHour = h.Hour
		}
		row.lastHour = max(row.lastHour, h.Hour)
	}
	for i := range rels {
		row.known = row.known || rels[i].Known
	}
	for i := range slots {
		row.known = row.known || slots[i].flags&slotKnown != 0
	}
	if row.firstHour < 0 {
		row.firstHour = 0
	}
	row.packed = e.p.packWith(hours, rels, slots)
	return row
}

func compareRelKey(a, b RelationKey) int {
	if c := a.Device.Compare(b.Device); c != 0 {
		return c
	}
	if c := a.Peer.Compare(b.Peer); c != 0 {
		return c
	}
	if a.Port != b.Port {
		return cmp.Compare(a.Port, b.Port)
	}
	if a.Proto != b.Proto {
		return cmp.Compare(a.Proto, b.Proto)
	}
	return cmp.Compare(b2i(a.Outbound), b2i(b.Outbound))
}

// scanDevices reads flow_devices rows (one device, or all when device is
// zero) and decodes their roll-ups and relations: the packed form when the
// row has it, else the JSON arrays of rows written before 00048.
func scanDevices(ctx context.Context, st *store.Store, device netip.Addr, fn func(*deviceRow, []hourEntry, []relEntry) error) error {
	q := `SELECT device, known, flows, packets, bytes, country_db, owner_db, hours, peers, packed FROM flow_devices`
	var args []any
	if device.IsValid() {
		q += ` WHERE device = ?`
		args = append(args, device.Unmap().String())
	}
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q+` ORDER BY device, run_id`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	// The entry slices are reused from row to row: fn must not keep them.
	in := interner{}
	var hbuf []hourEntry
	var rbuf []relEntry
	for rows.Next() {
		var d deviceRow
		var dev string
		var known, fl, pk, by int64
		var hours, peers string
		var packed sql.RawBytes // valid until the next row: decoding copies what it keeps
		if err := rows.Scan(&dev, &known, &fl, &pk, &by, &d.countryDB, &d.ownerDB, &hours, &peers, &packed); err != nil {
			return err
		}
		d.device, _ = netip.ParseAddr(dev)
		d.known = known != 0
		d.flows, d.packets, d.bytes = uint64(fl), uint64(pk), uint64(by)
		var hs []hourEntry
		var rs []relEntry
		if packed != nil {
			if hs, rs, err = decodePacked(packed, in, hbuf[:0], rbuf[:0]); err != nil {
				return fmt.Errorf("device %s: %w", dev, err)
			}
		} else if hs, rs, err = decodeJSONRow(hours, peers, in, hbuf[:0], rbuf[:0]); err != nil {
			return fmt.Errorf("device %s %w", dev, err)
		}
		hbuf, rbuf = hs[:0], rs[:0]
		if err := fn(&d, hs, rs); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeJSONRow decodes the arrays of a row written before 00048.
func decodeJSONRow(hours, peers string, in interner, hbuf []hourEntry, rbuf []relEntry) ([]hourEntry, []relEntry, error) {
	hs, ok := fastHours(hours, in, hbuf)
	if !ok {
		var err error
		if hs, err = decodeHours(hours); err != nil {
			return nil, nil, fmt.Errorf("hours: %w", err)
		}
	}
	rs, ok := fastRelations(peers, in, rbuf)
	if !ok {
		var err error
		if rs, err = decodeRelations(peers); err != nil {
			return nil, nil, fmt.Errorf("peers: %w", err)
		}
	}
	return hs, rs, nil
}

func decodeArrays(s string) ([][]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v [][]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func num(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}

func str(v any) string { s, _ := v.(string); return s }

func decodeHours(s string) ([]hourEntry, error) {
	arr, err := decodeArrays(s)
	if err != nil {
		return nil, err
	}
	out := make([]hourEntry, 0, len(arr))
	for _, a := range arr {
		if len(a) != 8 {
			return nil, fmt.Errorf("hour entry with %d fields", len(a))
		}
		out = append(out, hourEntry{hour: num(a[0]), outbound: num(a[1]) != 0, country: str(a[2]), asn: uint32(num(a[3])), owner: str(a[4]),
			flows: uint64(num(a[5])), packets: uint64(num(a[6])), bytes: uint64(num(a[7]))})
	}
	return out, nil
}

func decodeRelations(s string) ([]relEntry, error) {
	arr, err := decodeArrays(s)
	if err != nil {
		return nil, err
	}
	out := make([]relEntry, 0, len(arr))
	for _, a := range arr {
		if len(a) != 12 {
			return nil, fmt.Errorf("peer entry with %d fields", len(a))
		}
		peer, err := netip.ParseAddr(str(a[0]))
		if err != nil {
			return nil, err
		}
		out = append(out, relEntry{peer: peer, proto: uint8(num(a[1])), port: uint16(num(a[2])), outbound: num(a[3]) != 0,
			flows: uint64(num(a[4])), packets: uint64(num(a[5])), bytes: uint64(num(a[6])), first: num(a[7]), last: num(a[8]),
			country: str(a[9]), asn: uint32(num(a[10])), owner: str(a[11])})
	}
	return out, nil
}
