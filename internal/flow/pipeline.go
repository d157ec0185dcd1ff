package flow

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"iotwatch/internal/geo"
)

// Observer sees every oriented record in arrival order; detectors implement
// it. A pipeline calls its observers from one goroutine (its observer stage),
// not the one that aggregates.
type Observer interface {
	Observe(r *Record, o Orientation)
	// ObserveDNS sees every DNS answer in arrival order.
	ObserveDNS(a DNSAnswer)
	// Alerts returns the decisions so far, oldest first: the pipeline calls
	// it at the end and at each checkpoint, and takes the alerts after those
	// it already took.
	Alerts() []Alert
}

// BatchObserver is an Observer that takes a batch's records at once (and may
// read its state of later records ahead); ObserveBatch(recs, ors) observes
// recs[i] with ors[i] in order, as Observe would.
type BatchObserver interface {
	ObserveBatch(recs []Record, ors []Orientation)
}

// Checkpointer is an Observer that keeps state on the pipeline's relations
// (Orientation.Rel): a checkpoint starts the relations afresh, and the
// observer is told so after taking its alerts. Checkpoint forgets the alerts
// taken: Alerts then returns only those that follow.
type Checkpointer interface {
	Checkpoint()
}

// Policy is what the pipeline does when its queue is full.
type Policy int

const (
	// Block makes the producer wait: nothing is dropped (files).
	Block Policy = iota
	// Drop discards the batch and counts its records (live collectors, so the
	// socket keeps being read).
	Drop
)

// PipelineConfig configures a pipeline; zero values take defaults.
type PipelineConfig struct {
	Identity  *Identity
	Observers []Observer
	Policy    Policy
	BatchSize int // records per batch, default 1024
	Queue     int // batches in flight, default 64 (Drop) or 16 (Block)
	Log       *slog.Logger
	// Attribute places peers in a country and network (nil: no attribution).
	Attribute func(netip.Addr) geo.Attribution
	// Attributor, when Attribute is nil, places them with its Lookup, and
	// numbers IPv4 peers' attributions with its table (geo.Attributor.Index4).
	Attributor *geo.Attributor
	// MaxRelations bounds the device↔peer relations kept (default DefaultMaxRelations).
	MaxRelations int
	// ActiveRelations is how many IPv4 relations stay in memory before the
	// least recently seen half is spilled to a file in SpillDir (default
	// DefaultActiveRelations; negative: never spill). See relspill.go.
	ActiveRelations int
	SpillDir        string
}

type batch struct {
	recs []Record
	ors  []Orientation // recs' orientations, when the producer gave them (Block)
	// pis number recs' peer attributions in attrs, the producer's list
	// (attrIndex), when ors are given
	pis   []uint32
	attrs []geo.Attribution
	dns   []DNSAnswer
	mark  chan *Result // a checkpoint: the consumer answers with the result so far
}

// staged is a batch the aggregation stage has done with, on its way to the
// observers: ors[i] is recs[i]'s orientation, with its relation's ID, and
// ais[i] its peer's attribution index (for the hourly roll-up). A mark
// carries the aggregation's part of the checkpoint's result (res).
type staged struct {
	recs []Record
	ors  []Orientation
	ais  []uint32
	dns  []DNSAnswer
	mark chan *Result
	res  *Result
}

// stagedQueue is how many batches may wait between the aggregation and the
// observers: enough to absorb the two stages' varying speed per batch, few
// enough that the batches in flight stay those of the producer's queue.
const stagedQueue = 8

// Pipeline carries decoded records from one producer through two stages on
// their own goroutines: the aggregation orients each record (unless the
// producer did, see send) and sums it into its relation (giving the relation an ID, Orientation.Rel, and numbering its
// peer's attribution, which a producer that waits looked up); the second stage then sums the same records into
// their hourly roll-ups and runs the observers over them, in order, with
// their orientations. The stages overlap (the second works on one batch
// while the next is aggregated), so that an ingest uses a second core; the
// hourly roll-ups are in the second stage because the relations' work is
// the larger. A record is accepted when its batch enters the
// queue; accepted records are never lost: Close drains both stages before
// returning.
type Pipeline struct {
	cfg     PipelineConfig
	q       chan batch
	staged  chan staged
	pending batch
	done    chan struct{} // closed when the observer stage (the last) ended
	pool    sync.Pool     // []Record
	orPool  sync.Pool     // []Orientation
	aiPool  sync.Pool     // []uint32 (also the producer's pis)
	attrs   attrIndex     // the producer's (Block)

	accepted, dropped atomic.Int64

	mu       sync.Mutex
	panicErr error // the first stage's panic (failed reports one)
	failed   atomic.Bool

	// aggregation-stage state, read after done is closed
	agg         *Aggregator
	dns         map[DNSAnswer]struct{}
	unknown     int64
	nDNS        int64
	records     int64                                  // records seen since the last checkpoint
	taken       struct{ dropped, unknown, nDNS int64 } // what earlier checkpoints took
	spillWarned bool

	// observer-stage state: the hourly roll-ups (only those of hours is
	// used), and how many alerts earlier checkpoints took, per observer
	hours       *Aggregator
	takenAlerts []int
}

// NewPipeline starts a pipeline's stages.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.Queue <= 0 {
		// A producer that drops needs room for bursts; one that waits only
		// enough to keep the stages busy (the queue is full while they are
		// the slower, and each batch in it holds 230 KB).
		cfg.Queue = 64
		if cfg.Policy == Block {
			cfg.Queue = 16
		}
	}
	if cfg.Identity == nil {
		cfg.Identity = &Identity{names: map[netip.Addr]string{}}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Attribute == nil && cfg.Attributor != nil {
		cfg.Attribute = cfg.Attributor.Lookup
	} else {
		cfg.Attributor = nil
	}
	p := &Pipeline{
		cfg:         cfg,
		q:           make(chan batch, cfg.Queue),
		staged:      make(chan staged, min(cfg.Queue, stagedQueue)),
		done:        make(chan struct{}),
		agg:         NewAggregator(cfg.Attribute, cfg.MaxRelations),
		hours:       NewAggregator(nil, 0),
		dns:         map[DNSAnswer]struct{}{},
		takenAlerts: make([]int, len(cfg.Observers)),
	}
	p.agg.SpillTo(cfg.SpillDir, cfg.ActiveRelations)
	p.agg.attrIndex.geo = cfg.Attributor // it looks peers up when the producer does not (Drop)
	if cfg.Policy == Block {
		p.attrs = newAttrIndex(cfg.Attribute)
		p.attrs.geo = cfg.Attributor
	}
	p.pool.New = func() any { return make([]Record, 0, cfg.BatchSize) }
	p.orPool.New = func() any { return make([]Orientation, 0, cfg.BatchSize) }
	p.aiPool.New = func() any { return make([]uint32, 0, cfg.BatchSize) }
	p.pending.recs = p.pool.Get().([]Record)
	go p.aggregate()
	go p.observe()
	return p
}

// Flow implements Sink.
func (p *Pipeline) Flow(r Record) {
	p.pending.recs = append(p.pending.recs, r)
	if len(p.pending.recs) >= p.cfg.BatchSize {
		p.send()
	}
}

// Record implements RecordSink. The record's batch is sent when full at
// the sink's next call (a Flow sends it at once): the batches are Flow's.
func (p *Pipeline) Record() *Record {
	if len(p.pending.recs) >= p.cfg.BatchSize {
		p.send()
	}
	p.pending.recs = append(p.pending.recs, Record{})
	return &p.pending.recs[len(p.pending.recs)-1]
}

// DNS implements Sink.
func (p *Pipeline) DNS(a DNSAnswer) {
	if len(p.pending.recs) >= p.cfg.BatchSize { // Record's
		p.send()
	}
	p.pending.dns = append(p.pending.dns, a)
	if len(p.pending.dns) >= p.cfg.BatchSize {
		p.send()
	}
}

// Flush sends buffered records to the consumer now.
func (p *Pipeline) Flush() { p.send() }

func (p *Pipeline) send() {
	b := p.pending
	if len(b.recs) == 0 && len(b.dns) == 0 {
		return
	}
	p.pending = batch{recs: p.pool.Get().([]Record)[:0]}
	if p.cfg.Policy == Drop {
		select {
		case p.q <- b:
			p.accepted.Add(int64(len(b.recs)))
		default:
			p.dropped.Add(int64(len(b.recs)))
			p.pool.Put(b.recs[:0]) //nolint:staticcheck // slice reuse
		}
		return
	}
	// A producer that may wait orients its records and looks their peers
	// up itself: it waits because the aggregation, which would do that, is
	// the slower. (One that drops keeps its time for its socket.)
	// Each record is oriented in place in the batch's orientations, and
	// its IPv4 peer's first attribution line asked for then: lookUp, which
	// reads those lines after the whole batch is oriented, finds them in
	// the cache.
	ors := p.orPool.Get().([]Orientation)
	if cap(ors) < len(b.recs) {
		ors = make([]Orientation, len(b.recs))
	}
	b.ors = ors[:len(b.recs)]
	for i := range b.recs {
		o := &b.ors[i]
		p.cfg.Identity.orient(&b.recs[i], o)
		if p4, ok := v4(o.Peer); ok {
			p.attrs.prefetchEntry(p4)
		}
	}
	p.lookUp(&b)
	p.q <- b
	p.accepted.Add(int64(len(b.recs)))
}

// lookUp numbers b's peer attributions (b.pis, b.attrs). When the
// attribution panics it leaves them out: the aggregation then looks the
// batch's peers up itself and meets the panic in the records' order (a
// failed stage, as if the producer had not looked).
func (p *Pipeline) lookUp(b *batch) {
	pis := p.aiPool.Get().([]uint32)[:0]
	defer func() {
		if v := recover(); v != nil {
			p.aiPool.Put(pis[:0]) //nolint:staticcheck // slice reuse
			b.pis, b.attrs = nil, nil
		}
	}()
	for i := range b.ors {
		if j := i + readAhead; j < len(b.ors) {
			if p4, ok := v4(b.ors[j].Peer); ok {
				p.attrs.prefetchRanges(p4)
			}
		}
		pis = append(pis, p.attrs.attr(b.ors[i].Peer))
	}
	// The list only grows: the aggregation reads the attributions up to
	// here, which are never written again.
	b.pis, b.attrs = pis, p.attrs.attrs[:len(p.attrs.attrs):len(p.attrs.attrs)]
}

// Accepted returns how many records have entered the queue so far.
func (p *Pipeline) Accepted() int64 { return p.accepted.Load() }

// fail records a stage's panic (the first one is reported).
func (p *Pipeline) fail(stage string, v any) {
	p.mu.Lock()
	if p.panicErr == nil {
		p.panicErr = fmt.Errorf("flow pipeline: %s: panic: %v\n%s", stage, v, debug.Stack())
	}
	p.mu.Unlock()
	p.failed.Store(true)
}

func (p *Pipeline) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.panicErr
}

// aggregate is the first stage: it orients each batch (when the producer
// did not), sums it into the relations and hands it to the second stage.
// After a panic (its own or the second stage's) it only drains the queue,
// so that the producer never blocks; a checkpoint then gets no answer
// (Checkpoint reports the panic).
func (p *Pipeline) aggregate() {
	defer close(p.staged)
	defer func() {
		if v := recover(); v != nil {
			p.fail("aggregation", v)
			for b := range p.q {
				if b.mark != nil {
					close(b.mark)
				}
			}
		}
	}()
	id := p.cfg.Identity
	for b := range p.q {
		if p.failed.Load() {
			if b.mark != nil {
				close(b.mark)
			}
			continue
		}
		if b.mark != nil {
			p.staged <- staged{mark: b.mark, res: p.aggResult()}
			continue
		}
		p.records += int64(len(b.recs))
		for i := range b.dns {
			a := &b.dns[i]
			a.Time = a.Time.UTC()
			key := DNSAnswer{Name: a.Name, Addr: a.Addr}
			if _, ok := p.dns[key]; !ok {
				p.dns[key] = struct{}{}
				p.nDNS++
			}
		}
		ors, ais := b.ors, p.aiPool.Get().([]uint32)[:0]
		if ors == nil {
			ors = p.orPool.Get().([]Orientation)[:0]
			for i := range b.recs {
				ors = append(ors, id.Orient(&b.recs[i]))
			}
		}
		for i := range ors {
			if !ors[i].Known {
				p.unknown++
			}
		}
		ais = p.agg.addRelations(b.recs, ors, b.pis, b.attrs, ais) // sets each Rel
		if b.pis != nil {
			p.aiPool.Put(b.pis[:0]) //nolint:staticcheck // slice reuse
		}
		p.staged <- staged{recs: b.recs, ors: ors, ais: ais, dns: b.dns}
	}
}

// observe is the second stage: it sums each batch into the hourly roll-ups
// and runs the observers over it, in order. After a panic it only drains its
// queue, so that the aggregation never blocks.
func (p *Pipeline) observe() {
	defer close(p.done)
	defer func() {
		if v := recover(); v != nil {
			p.fail("observers", v)
			for s := range p.staged {
				if s.mark != nil {
					close(s.mark)
				}
			}
		}
	}()
	for s := range p.staged {
		if s.mark != nil {
			p.observeResult(s.res, true)
			s.mark <- s.res
			continue
		}
		for _, a := range s.dns {
			for _, ob := range p.cfg.Observers {
				ob.ObserveDNS(a)
			}
		}
		p.hours.addHours(s.recs, s.ors, s.ais)
		// Observers are independent: each sees the batch in turn.
		for _, ob := range p.cfg.Observers {
			if bo, ok := ob.(BatchObserver); ok {
				bo.ObserveBatch(s.recs, s.ors)
				continue
			}
			for i := range s.recs {
				ob.Observe(&s.recs[i], s.ors[i])
			}
		}
		p.pool.Put(s.recs[:0])  //nolint:staticcheck // slice reuse
		p.orPool.Put(s.ors[:0]) //nolint:staticcheck // slice reuse
		p.aiPool.Put(s.ais[:0]) //nolint:staticcheck // slice reuse
	}
}

// Result is what a pipeline produced.
type Result struct {
	Counts  Counts
	Rollups Rollups
	DNS     []DNSAnswer
	Alerts  []Alert
	// Inputs are the file inputs read completely, recorded with the rest so
	// that they are recognised when ingested again (filled by the caller).
	Inputs []Input
}

// Close flushes, drains the queue and both stages, and returns the
// result. The producer must not call Flow or DNS after Close.
func (p *Pipeline) Close(ctx context.Context) (*Result, error) {
	p.send()
	close(p.q)
	select {
	case <-p.done:
	case <-ctx.Done():
		// Draining is bounded by the queues' length; wait anyway so nothing
		// accepted is lost, but report the cancellation.
		<-p.done
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	res := p.aggResult()
	p.observeResult(res, false)
	return res, nil
}

// Checkpoint returns what the pipeline produced since the previous
// checkpoint (or its start): the records the pipeline has taken from the
// queue so far are in its roll-ups, DNS answers and alerts, and the
// pipeline goes on from empty roll-ups while the observers keep their state.
// The checkpoint passes through both stages in the records' order: the
// aggregation takes its roll-ups where it meets it, and the observers' alerts
// are taken when they have seen every record before it.
// A long-running collector stores each checkpoint, so that it keeps the
// store current and a crash loses at most one interval; Close returns the
// rest. Checkpoint must not be called after or during Close.
//
// ctx bounds the wait for room in the queue: cancelled then, Checkpoint
// takes nothing and returns ctx's error. Once the checkpoint is queued it
// waits for its result whatever ctx says, as Close does (the wait is bounded
// by the queues' length): the pipeline goes on from empty roll-ups after it,
// so a result left behind would be lost.
func (p *Pipeline) Checkpoint(ctx context.Context) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reply := make(chan *Result, 1)
	select {
	case p.q <- batch{mark: reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res, ok := <-reply
	if !ok {
		return nil, p.err()
	}
	return res, nil
}

// aggResult takes the relations and DNS answers since the last checkpoint
// (aggregation stage, or after it ended); the relations start afresh.
func (p *Pipeline) aggResult() *Result {
	dropped := p.dropped.Load()
	res := &Result{Counts: Counts{
		CountRecords: p.records,
		CountDropped: dropped - p.taken.dropped,
		CountUnknown: p.unknown - p.taken.unknown,
		CountDNS:     p.nDNS - p.taken.nDNS,
	}}
	p.records, p.taken.dropped, p.taken.unknown, p.taken.nDNS = 0, dropped, p.unknown, p.nDNS
	spillErr := p.agg.spillError()
	res.Rollups = p.agg.take() // one copy at a time: the aggregator's memory goes as it is copied
	res.Counts[CountRelations] = int64(res.Rollups.NumRelations())
	if res.Rollups.Spilled > 0 {
		res.Counts[CountSpilled] = res.Rollups.Spilled
	}
	if err := spillErr; err != nil && !p.spillWarned {
		p.spillWarned = true
		p.cfg.Log.Warn("relations kept in memory: their spill file failed", "err", err)
	}
	if res.Rollups.Untracked > 0 {
		res.Counts[CountUntracked] = res.Rollups.Untracked
	}
	for a := range p.dns {
		res.DNS = append(res.DNS, a)
	}
	clear(p.dns)
	return res
}

// observeResult adds to res the hourly roll-ups and the alerts since the
// last checkpoint (second stage, or after it ended). checkpoint tells
// Checkpointer observers that the relations start afresh.
func (p *Pipeline) observeResult(res *Result, checkpoint bool) {
	// The hourly roll-ups' attribution indexes are those of the relations'
	// aggregator (res.Rollups.Attributions), which took its own at the same
	// record.
	res.Rollups.Hourly = p.hours.take().Hourly
	res.Counts[CountRollups] = int64(len(res.Rollups.Hourly))
	for i, ob := range p.cfg.Observers {
		all := ob.Alerts()
		res.Alerts = append(res.Alerts, all[min(p.takenAlerts[i], len(all)):]...)
		p.takenAlerts[i] = len(all)
	}
	res.Counts[CountAlerts] = int64(len(res.Alerts))
	if checkpoint {
		for i, ob := range p.cfg.Observers {
			if c, ok := ob.(Checkpointer); ok {
				c.Checkpoint()
				p.takenAlerts[i] = 0
			}
		}
	}
}
