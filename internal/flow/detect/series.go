package detect

import (
	"math"
	"net/netip"
	"unsafe"

	"iotwatch/internal/flow"
)

// Beacon series storage. Every device→peer service keeps the start times of
// its connections until the end of the ingest, when the periodicity test
// judges them; with millions of series this is the detector's largest state
// and its most frequent memory access. A series is one 64-byte record (one
// cache line) holding its first timestamps inline, with further timestamps in
// 64-byte overflow blocks; all of it lives in fixed-size chunks without
// pointers, so appending never copies and the garbage collector never scans
// it. Timestamps are stored as deciseconds since a base a year before the
// first one seen (uint32: about 13 years), which is far finer than any
// beacon period the rules accept.

const (
	seriesInline = 9  // timestamps inside the series record
	blockTimes   = 15 // timestamps per overflow block
	seriesChunk  = 4096
	tickNS       = int64(100 * 1e6) // one decisecond
	knownBit     = 1 << 31
)

type series struct {
	bytes      uint64
	sq         float64 // sum of squared bytes per connection (size regularity)
	n          uint32  // timestamps kept; knownBit marks a known device
	head, tail uint32  // overflow blocks, index+1 (0: none)
	// lastPort is the source port of the last connection kept: a record
	// from the same source port within retryTicks is a retry of it (SYN
	// retransmitted after a RST), not a new beat.
	lastPort uint16
	t        [seriesInline]uint32
}

type block struct {
	next uint32 // index+1 of the next block (0: none)
	t    [blockTimes]uint32
}

type seriesStore struct {
	base   int64 // Unix ns of tick 0; set by the first timestamp
	hasBas bool
	ser    [][]series
	nser   int
	blk    [][]block
	nblk   int
	keys   [][]svcKey // cold: read only when judging
}

func (st *seriesStore) get(i uint32) *series { return &st.ser[i/seriesChunk][i%seriesChunk] }

func (st *seriesStore) blockAt(i uint32) *block { return &st.blk[i/seriesChunk][i%seriesChunk] }

// add creates a series and returns its index.
func (st *seriesStore) add(k svcKey, known bool) uint32 {
	i := st.nser
	if i%seriesChunk == 0 {
		st.ser = append(st.ser, make([]series, seriesChunk))
		st.keys = append(st.keys, make([]svcKey, seriesChunk))
	}
	st.nser++
	s := st.get(uint32(i))
	if known {
		s.n = knownBit
	}
	st.keys[i/seriesChunk][i%seriesChunk] = k
	return uint32(i)
}

func (s *series) len() int       { return int(s.n &^ knownBit) }
func (s *series) known() bool    { return s.n&knownBit != 0 }
func (st *seriesStore) len() int { return st.nser }

// tick converts a timestamp; ok is false outside the representable range.
func (st *seriesStore) tick(ts int64) (uint32, bool) {
	if !st.hasBas {
		st.base, st.hasBas = ts-366*24*3600*1e9, true
	}
	d := (ts - st.base) / tickNS
	if d < 0 || d > math.MaxUint32 {
		return 0, false
	}
	return uint32(d), true
}

// push appends one timestamp tick to series s.
func (st *seriesStore) push(s *series, v uint32) {
	n := s.len()
	if n < seriesInline {
		s.t[n] = v
		s.n++
		return
	}
	j := (n - seriesInline) % blockTimes
	if j == 0 {
		b := uint32(st.nblk)
		if st.nblk%seriesChunk == 0 {
			st.blk = append(st.blk, make([]block, seriesChunk))
		}
		st.nblk++
		if s.tail != 0 {
			st.blockAt(s.tail - 1).next = b + 1
		} else {
			s.head = b + 1
		}
		s.tail = b + 1
	}
	st.blockAt(s.tail - 1).t[j] = v
	s.n++
}

// times appends series s's timestamps (Unix ns, in arrival order) to dst.
func (st *seriesStore) times(dst []int64, s *series) []int64 {
	n := s.len()
	for i := 0; i < min(n, seriesInline); i++ {
		dst = append(dst, st.base+int64(s.t[i])*tickNS)
	}
	n -= seriesInline
	for b := s.head; b != 0 && n > 0; {
		blk := st.blockAt(b - 1)
		for i := 0; i < min(n, blockTimes); i++ {
			dst = append(dst, st.base+int64(blk.t[i])*tickNS)
		}
		n -= blockTimes
		b = blk.next
	}
	return dst
}

// retryTicks is how close (in ticks) a connection from the same source port
// must follow the last one to be its retry: TCP retransmits a refused or
// unanswered SYN within seconds.
const retryTicks = 10 * int64(1e9) / tickNS

// last returns series s's last timestamp tick (s must not be empty).
func (st *seriesStore) last(s *series) uint32 {
	n := s.len()
	if n <= seriesInline {
		return s.t[n-1]
	}
	return st.blockAt(s.tail - 1).t[(n-seriesInline-1)%blockTimes]
}

// Most device→peer services of a large ingest see one connection (a scan, a
// lookup, a single download), and a series is judged only from
// beacon.min_connections on. The first beat of a pipeline relation between
// IPv4 addresses is therefore kept in a 24-byte pending record (key, tick,
// source port, sizes) under the relation's state (relState) with pendingBit set; the second
// beat turns it into a series. For a million one-connection relations this
// holds 24 MB instead of the 120 MB of series records and keys.

const pendingBit = 1 << 31

type pending struct {
	tick    uint32
	actor   uint32
	peer    uint32
	port    uint16 // the peer's
	srcPort uint16
	// The bytes (pendingStore.bytes): their low 48 bits, or all ones when
	// they need more (then in pendingStore.big).
	bytesLo uint32
	bytesHi uint16
	proto   uint8
	flags   uint8 // pendKnown, pendDone
}

const (
	pendKnown = 1
	pendDone  = 2 // turned into a series
)

// pendingStore holds the pending records, 24 bytes each: a million
// one-connection relations are 24 MB, written once.
type pendingStore struct {
	p    [][]pending
	n    int
	slab []pending         // chunks allocated ahead (see chunk)
	big  map[uint32]uint64 // bytes of 2^48 and more, by index
}

// bigBytes marks bytes in pendingStore.big.
const bigBytes = 1<<48 - 1

// add stores p, whose first beat exchanged bytes, and returns its index.
func (ps *pendingStore) add(p pending, bytes uint64) uint32 {
	i := ps.n
	if i%seriesChunk == 0 {
		ps.p = append(ps.p, ps.chunk())
	}
	ps.n++
	if bytes >= bigBytes {
		if ps.big == nil {
			ps.big = map[uint32]uint64{}
		}
		ps.big[uint32(i)] = bytes
		bytes = bigBytes
	}
	p.bytesLo, p.bytesHi = uint32(bytes), uint16(bytes>>32)
	ps.p[i/seriesChunk][i%seriesChunk] = p
	return uint32(i)
}

// bytes returns the bytes of pending record i.
func (ps *pendingStore) bytes(i uint32) uint64 {
	p := ps.get(i)
	b := uint64(p.bytesHi)<<32 | uint64(p.bytesLo)
	if b == bigBytes {
		return ps.big[i]
	}
	return b
}

// chunk returns a new chunk. Past the first few, chunks are cut from slabs
// of as many chunks as there are (up to slabChunks), in huge pages where
// the system gives them: a million first beats are 32 MB of fresh memory,
// written once, which cost a fault per 4 KiB page otherwise (8,000).
func (ps *pendingStore) chunk() []pending {
	if len(ps.slab) == 0 {
		n := min(len(ps.p), slabChunks)
		if n < 4 {
			return make([]pending, seriesChunk)
		}
		ps.slab = make([]pending, n*seriesChunk)
		flow.HugePages(unsafe.Slice((*byte)(unsafe.Pointer(&ps.slab[0])), len(ps.slab)*int(unsafe.Sizeof(ps.slab[0]))))
	}
	c := ps.slab[:seriesChunk:seriesChunk]
	ps.slab = ps.slab[seriesChunk:]
	return c
}

// slabChunks is the most chunks a slab holds (6 MiB of pending records: a
// huge page's alignment leaves at least 4 MiB of them in huge pages).
const slabChunks = 64

func (ps *pendingStore) get(i uint32) *pending { return &ps.p[i/seriesChunk][i%seriesChunk] }

func (p *pending) key() svcKey {
	return svcKey{addr4(p.actor), addr4(p.peer), p.port, p.proto}
}

func addr4(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
