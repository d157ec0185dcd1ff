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

// Observer sees every oriented record in arrival order; detectors implement it.
type Observer interface {
	Observe(r *Record, o Orientation)
	// ObserveDNS sees every DNS answer in arrival order.
	ObserveDNS(a DNSAnswer)
	// Alerts returns the decisions so far, oldest first: the pipeline calls
	// it at the end and at each checkpoint, and takes the alerts after those
	// it already took.
	Alerts() []Alert
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
	Queue     int // batches in flight, default 64
	Log       *slog.Logger
	// Attribute places peers in a country and network (nil: no attribution).
	Attribute func(netip.Addr) geo.Attribution
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
	dns  []DNSAnswer
	mark chan *Result // a checkpoint: the consumer answers with the result so far
}

// Pipeline carries decoded records from one producer to one consumer that
// orients them, rolls them up and runs the observers. A record is accepted
// when its batch enters the queue; accepted records are never lost: Close
// drains the queue before returning.
type Pipeline struct {
	cfg     PipelineConfig
	q       chan batch
	pending batch
	done    chan struct{}
	pool    sync.Pool

	accepted, dropped atomic.Int64

	// consumer-owned state, read after done is closed
	agg      *Aggregator
	dns      map[DNSAnswer]struct{}
	unknown  int64
	nDNS     int64
	panicErr error

	// what earlier checkpoints took (consumer-owned)
	taken struct {
		dropped, unknown, nDNS int64
		alerts                 []int // per observer
	}
	records     int64 // records the consumer has seen
	spillWarned bool
}

// NewPipeline starts a pipeline's consumer.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.Identity == nil {
		cfg.Identity = &Identity{names: map[netip.Addr]string{}}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		cfg:  cfg,
		q:    make(chan batch, cfg.Queue),
		done: make(chan struct{}),
		agg:  NewAggregator(cfg.Attribute, cfg.MaxRelations),
		dns:  map[DNSAnswer]struct{}{},
	}
	p.agg.SpillTo(cfg.SpillDir, cfg.ActiveRelations)
	p.pool.New = func() any { return make([]Record, 0, cfg.BatchSize) }
	p.pending.recs = p.pool.Get().([]Record)
	go p.consume()
	return p
}

// Flow implements Sink.
func (p *Pipeline) Flow(r Record) {
	p.pending.recs = append(p.pending.recs, r)
	if len(p.pending.recs) >= p.cfg.BatchSize {
		p.send()
	}
}

// DNS implements Sink.
func (p *Pipeline) DNS(a DNSAnswer) {
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
	p.q <- b
	p.accepted.Add(int64(len(b.recs)))
}

// Accepted returns how many records have entered the queue so far.
func (p *Pipeline) Accepted() int64 { return p.accepted.Load() }

func (p *Pipeline) consume() {
	defer close(p.done)
	defer func() {
		if v := recover(); v != nil {
			p.panicErr = fmt.Errorf("flow pipeline: panic: %v\n%s", v, debug.Stack())
			for b := range p.q { // keep the producer from blocking forever
				if b.mark != nil {
					close(b.mark) // Checkpoint reports panicErr
				}
			}
		}
	}()
	id := p.cfg.Identity
	for b := range p.q {
		if b.mark != nil {
			b.mark <- p.result(true)
			continue
		}
		p.records += int64(len(b.recs))
		for _, a := range b.dns {
			a.Time = a.Time.UTC()
			key := DNSAnswer{Name: a.Name, Addr: a.Addr}
			if _, ok := p.dns[key]; !ok {
				p.dns[key] = struct{}{}
				p.nDNS++
			}
			for _, ob := range p.cfg.Observers {
				ob.ObserveDNS(a)
			}
		}
		for i := range b.recs {
			r := &b.recs[i]
			o := id.Orient(r)
			if !o.Known {
				p.unknown++
			}
			o.Rel = p.agg.Add(r, o)
			for _, ob := range p.cfg.Observers {
				ob.Observe(r, o)
			}
		}
		p.pool.Put(b.recs[:0]) //nolint:staticcheck // slice reuse
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

// Close flushes, drains the queue, waits for the consumer and returns the
// result. The producer must not call Flow or DNS after Close.
func (p *Pipeline) Close(ctx context.Context) (*Result, error) {
	p.send()
	close(p.q)
	select {
	case <-p.done:
	case <-ctx.Done():
		// Draining is bounded by the queue length; wait anyway so nothing
		// accepted is lost, but report the cancellation.
		<-p.done
	}
	if p.panicErr != nil {
		return nil, p.panicErr
	}
	return p.result(false), nil
}

// Checkpoint returns what the pipeline produced since the previous
// checkpoint (or its start): the records the consumer has taken from the
// queue so far are in its roll-ups, DNS answers and alerts, and the
// pipeline goes on from empty roll-ups while the observers keep their state.
// A long-running collector stores each checkpoint, so that it keeps the
// store current and a crash loses at most one interval; Close returns the
// rest. Checkpoint must not be called after or during Close.
func (p *Pipeline) Checkpoint(ctx context.Context) (*Result, error) {
	reply := make(chan *Result, 1)
	select {
	case p.q <- batch{mark: reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res, ok := <-reply:
		if !ok {
			return nil, p.panicErr
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// result takes the roll-ups, DNS answers and alerts since the last
// checkpoint (consumer goroutine, or after it ended). checkpoint tells
// Checkpointer observers that the relations start afresh.
func (p *Pipeline) result(checkpoint bool) *Result {
	dropped := p.dropped.Load()
	res := &Result{Counts: Counts{
		CountRecords: p.records,
		CountDropped: dropped - p.taken.dropped,
		CountUnknown: p.unknown - p.taken.unknown,
		CountDNS:     p.nDNS - p.taken.nDNS,
	}}
	p.records, p.taken.dropped, p.taken.unknown, p.taken.nDNS = 0, dropped, p.unknown, p.nDNS
	if p.taken.alerts == nil {
		p.taken.alerts = make([]int, len(p.cfg.Observers))
	}
	for i, ob := range p.cfg.Observers {
		all := ob.Alerts()
		res.Alerts = append(res.Alerts, all[min(p.taken.alerts[i], len(all)):]...)
		p.taken.alerts[i] = len(all)
	}
	spillErr := p.agg.spillErr
	res.Rollups = p.agg.take() // one copy at a time: the aggregator's memory goes as it is copied
	res.Counts[CountRollups] = int64(len(res.Rollups.Hourly))
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
	res.Counts[CountAlerts] = int64(len(res.Alerts))
	if checkpoint {
		for i, ob := range p.cfg.Observers {
			if c, ok := ob.(Checkpointer); ok {
				c.Checkpoint()
				p.taken.alerts[i] = 0
			}
		}
	}
	return res
}
