// Package scan runs a scan: it walks the (address, port) space of the
// targets in zmap's random cyclic order under a global rate limit and a
// bounded worker pool, connects over TCP (or sends a UDP probe), speaks each
// protocol through its prober, fingerprints the handshake record and hands
// every service to the caller.
package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"iotwatch/internal/fingerprint"
	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	httpprobe "iotwatch/internal/probe/http"
	"iotwatch/internal/protocol"
	"iotwatch/internal/target"
)

// Config describes one scan.
type Config struct {
	// Targets are target specs (see target.Parser.Parse).
	Targets []string
	// TCPPorts and UDPPorts list ports to probe; Ports adds ports with an
	// explicit protocol. All empty: target.DefaultPorts().
	TCPPorts, UDPPorts []uint16
	Ports              []target.Port
	// Blocklist and Allowlist are files in zmap's format. The built-in
	// blocklist of never-valid ranges applies unless NoDefaultBlocklist.
	Blocklist, Allowlist []string
	NoDefaultBlocklist   bool
	// Concurrency bounds simultaneous probes (0: 1000).
	Concurrency int
	// Rate bounds new probes per second over the whole scan (0: DefaultRate;
	// negative: unlimited).
	Rate int
	// AllowLarge allows a scan of more than LargeScan public addresses; it
	// must also name its Rate (see NewPlan).
	AllowLarge bool
	// Timeout bounds each probe's handshake (0: 5 s); ConnectTimeout bounds
	// the TCP connect (0: min(Timeout, 2 s)).
	Timeout, ConnectTimeout time.Duration
	// Shard (0-based) of Shards splits the space disjointly (Shards 0 = 1).
	Shard, Shards int
	// Seed fixes the random order (0: random). Shards of one scan and a
	// resumed scan must use the same seed.
	Seed uint64
	// Start is the walk position to resume from and Pending the positions
	// below it still to do (from a Checkpoint); Pending go first.
	Start   uint64
	Pending []uint64
	// Checkpoint, when set, is called about once a second and at the end
	// with the position below which every item but Pending is finished and
	// emitted. Emit and Checkpoint are never called at the same time, so a
	// caller that stores a checkpoint with the services emitted before it
	// (in one transaction) never skips a service on resume.
	Checkpoint func(Checkpoint)
	// Progress, when set, is called about four times a second.
	Progress func(Progress)
	// DiscoveryOnly connects but runs no handshakes (open/closed only).
	DiscoveryOnly bool
	// SYN discovers TCP ports with stateless raw SYNs (IPv4, needs raw
	// sockets) and connects only to the open ones; SYNWait is how long to
	// wait for late replies after the last SYN (0: 1 s).
	SYN     bool
	SYNWait time.Duration
	// EmitClosed also emits refused and timed-out endpoints.
	EmitClosed bool
	// Engine identifies services; nil builds the default engine (with RecogDir).
	Engine   *fingerprint.Engine
	RecogDir string
	// Communities for SNMP (nil: "public"); ShowSecrets keeps them unredacted.
	Communities []string
	ShowSecrets bool
	// Stdin is read for the "-" target; Resolver resolves host names.
	Stdin    io.Reader
	Resolver target.Resolver
	Logger   *slog.Logger
}

// Checkpoint is a resumable scan position.
type Checkpoint struct {
	Seed     uint64 `json:"seed"`
	Shard    int    `json:"shard"`
	Shards   int    `json:"shards"`
	Position uint64 `json:"position"` // every step below it is finished, but Pending
	Steps    uint64 `json:"steps"`    // steps in this shard
	// Pending lists the positions below Position still unfinished (in
	// flight when the checkpoint was taken), in ascending order, so a
	// resumed scan redoes them and not everything since the oldest.
	Pending []uint64 `json:"pending,omitempty"`
}

// Progress reports a running scan.
type Progress struct {
	Done, Total uint64 // items finished, items in this shard (estimate)
	Open        int64
	Rate        float64 // items per second since start
	Elapsed     time.Duration
}

// Stats summarises a finished (or interrupted) scan.
type Stats struct {
	Items    uint64                 `json:"items"`   // (address, port) pairs tried
	Open     int64                  `json:"open"`    // endpoints that accepted a connection or answered
	Emitted  int64                  `json:"emitted"` // services handed to emit
	ByStatus map[model.Status]int64 `json:"by_status"`
	Elapsed  time.Duration          `json:"elapsed"`
	Seed     uint64                 `json:"seed"`
	Position uint64                 `json:"position"` // checkpoint at the end
	Pending  []uint64               `json:"pending,omitempty"`
	// SYN mode: probes sent from raw sockets and validated replies.
	SYNSent    int64 `json:"syn_sent,omitempty"`
	SYNReplies int64 `json:"syn_replies,omitempty"`
}

type job struct {
	pos  uint64
	addr netip.Addr
	port target.Port
	syn  bool // open per SYN discovery: not tracked by position
}

// Space parses the targets and lists of cfg into a scan space.
func Space(ctx context.Context, cfg *Config) (*target.Space, error) {
	p := &target.Parser{Stdin: cfg.Stdin, Resolver: cfg.Resolver}
	set, err := p.Parse(ctx, cfg.Targets)
	if err != nil {
		return nil, err
	}
	var block []netip.Prefix
	if !cfg.NoDefaultBlocklist {
		block = target.DefaultBlocklist()
	}
	for _, f := range cfg.Blocklist {
		l, err := readList(f)
		if err != nil {
			return nil, fmt.Errorf("blocklist: %w", err)
		}
		block = append(block, l...)
	}
	set.Exclude(block)
	if len(cfg.Allowlist) > 0 {
		var allow []netip.Prefix
		for _, f := range cfg.Allowlist {
			l, err := readList(f)
			if err != nil {
				return nil, fmt.Errorf("allowlist: %w", err)
			}
			allow = append(allow, l...)
		}
		if err := set.Intersect(allow); err != nil {
			return nil, err
		}
	}
	ports := append([]target.Port(nil), cfg.Ports...)
	for _, n := range cfg.TCPPorts {
		ports = append(ports, target.Port{Number: n, Transport: model.TCP})
	}
	for _, n := range cfg.UDPPorts {
		ports = append(ports, target.Port{Number: n, Transport: model.UDP})
	}
	if len(ports) == 0 {
		ports = target.DefaultPorts()
	}
	sp := &target.Space{Set: set, Ports: ports}
	if sp.Len() == 0 {
		return nil, target.ErrEmpty
	}
	return sp, nil
}

func readList(name string) ([]netip.Prefix, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := target.ParsePrefixList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return l, nil
}

// Run scans and calls emit for each service found (serially). It returns
// when the space is exhausted, ctx is cancelled (Stats then hold the
// resumable position and the error is ctx's), or emit fails.
func Run(ctx context.Context, cfg Config, emit func(model.Service) error) (Stats, error) {
	start := time.Now()
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = min(cfg.Timeout, 2*time.Second)
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	if cfg.Seed == 0 {
		cfg.Seed = NewSeed()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stats := Stats{ByStatus: map[model.Status]int64{}, Seed: cfg.Seed}
	if _, err := NewPlan(ctx, cfg); err != nil {
		return stats, err
	}
	sp, err := Space(ctx, &cfg)
	if err != nil {
		return stats, fmt.Errorf("%w: %w", ErrBadTargets, err)
	}
	walk, err := target.NewWalk(sp.Len(), cfg.Seed, cfg.Shard, cfg.Shards)
	if err != nil {
		return stats, err
	}
	if cfg.Engine == nil && !cfg.DiscoveryOnly {
		if cfg.Engine, err = fingerprint.New(fingerprint.Options{RecogDir: cfg.RecogDir, Logger: log}); err != nil {
			return stats, err
		}
	}
	raiseFDLimit()
	log.Info("scan starting", "items", sp.Len(), "addresses", sp.Set.Len(), "ports", len(sp.Ports),
		"shard", fmt.Sprintf("%d/%d", cfg.Shard, cfg.Shards), "seed", cfg.Seed, "from", cfg.Start)

	s := &scanner{cfg: &cfg, sp: sp, probers: probers(&cfg), log: log, emit: emit,
		inflight: map[uint64]struct{}{}, next: cfg.Start, byStatus: map[model.Status]*atomic.Int64{}}
	for _, p := range cfg.Pending { // unfinished until done
		if p < cfg.Start {
			s.inflight[p] = struct{}{}
		}
	}
	if cfg.SYN {
		s.synWait = cmp.Or(cfg.SYNWait, time.Second)
	}
	for _, st := range []model.Status{model.StatusSuccess, model.StatusRefused, model.StatusTimeout, model.StatusProtocolError,
		model.StatusAuthFailed, model.StatusIOError, model.StatusUnknownError} {
		s.byStatus[st] = new(atomic.Int64)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var lim *rate.Limiter
	if r := effectiveRate(cfg.Rate); r > 0 {
		lim = rate.NewLimiter(rate.Limit(r), max(1, r/50))
	}
	jobs := make(chan job, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.handle(ctx, cancel, j)
			}
		}()
	}
	// Reporter: checkpoints and progress.
	total := walk.Steps() - min(walk.Steps(), cfg.Start)
	if walk.N() < walk.Steps() {
		total = uint64(float64(total) * float64(walk.N()) / float64(walk.Steps()))
	}
	repDone := make(chan struct{})
	var repWG sync.WaitGroup
	repWG.Add(1)
	go func() {
		defer repWG.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-repDone:
				return
			case <-tick.C:
			}
			if s.synWait > 0 {
				s.markSYN(time.Now())
			}
			if cfg.Progress != nil {
				el := time.Since(start)
				d := s.done.Load()
				cfg.Progress(Progress{Done: d, Total: total, Open: s.open.Load(), Rate: float64(d) / el.Seconds(), Elapsed: el})
			}
			if cfg.Checkpoint != nil && n%4 == 0 {
				s.checkpoint(walk.Steps())
			}
		}
	}()

	var (
		syn     *synProber
		synStop atomic.Bool
		synWG   sync.WaitGroup
	)
	if cfg.SYN {
		// Ranges sort IPv4 first: the first address is IPv4 if any is, the
		// last IPv6 if any is. Each family present gets its raw sockets.
		var s4, s6 netip.Addr
		if n := sp.Set.Len(); n > 0 {
			if a := sp.Set.At(0); a.Is4() {
				s4 = a
			}
			if a := sp.Set.At(n - 1); a.Is6() {
				s6 = a
			}
		}
		if syn, err = newSYNProber(s4, s6); err != nil {
			cancel(nil)
			close(jobs)
			wg.Wait()
			close(repDone)
			repWG.Wait()
			return stats, err
		}
		s.markSYN(time.Now())
		s.log.Info("SYN sender", "ipv4", syn.sender())
		if r := effectiveRate(cfg.Rate); r > 0 { // keep pacing smooth: batch at most 1 ms of packets
			syn.Batch = min(max(r/1000, 1), synBatch)
		}
		tcpPorts := map[uint16]target.Port{}
		for _, p := range sp.Ports {
			if p.Transport == model.TCP {
				tcpPorts[p.Number] = p
			}
		}
		openSeen := map[netip.AddrPort]bool{}
		synWG.Add(1)
		go func() {
			defer synWG.Done()
			syn.receive(&synStop, func(r synReply) {
				if !r.open {
					s.synReplied.Add(1)
					s.byStatus[model.StatusRefused].Add(1)
					s.done.Add(1)
					return
				}
				ap := netip.AddrPortFrom(r.addr, r.port)
				if openSeen[ap] {
					return
				}
				openSeen[ap] = true
				s.synReplied.Add(1)
				port, ok := tcpPorts[r.port]
				if !ok {
					port = target.Port{Number: r.port, Transport: model.TCP}
				}
				select {
				case jobs <- job{addr: r.addr, port: port, syn: true}:
				case <-ctx.Done():
				}
			})
		}()
	}

	// Dispatcher (this goroutine) owns and closes jobs: first the positions
	// a resumed scan left pending, then the walk from its checkpoint.
	var dispatchErr error
	for _, pos := range cfg.Pending {
		idx, ok := walk.At(pos)
		if !ok || pos >= cfg.Start { // not an item: nothing to redo
			s.mu.Lock()
			delete(s.inflight, pos)
			s.mu.Unlock()
			continue
		}
		if lim != nil {
			if dispatchErr = lim.Wait(ctx); dispatchErr != nil {
				break
			}
		}
		addr, port := sp.At(idx)
		select {
		case jobs <- job{pos: pos, addr: addr, port: port}:
		case <-ctx.Done():
			dispatchErr = ctx.Err()
		}
		if dispatchErr != nil {
			break
		}
	}
	for pos, idx := range walk.From(cfg.Start) {
		if dispatchErr != nil {
			break
		}
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				dispatchErr = err
				break
			}
		}
		addr, port := sp.At(idx)
		if syn != nil && port.Transport == model.TCP && syn.handles(addr) {
			if err := syn.send(addr, port.Number); err != nil {
				s.log.Debug("syn send", "addr", addr, "err", err)
			}
			s.synSent.Add(1)
			s.mu.Lock()
			s.next = pos + 1
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.inflight[pos] = struct{}{}
		s.next = pos + 1
		s.mu.Unlock()
		select {
		case jobs <- job{pos: pos, addr: addr, port: port}:
		case <-ctx.Done():
			s.mu.Lock()
			delete(s.inflight, pos)
			s.next = pos
			s.mu.Unlock()
			dispatchErr = ctx.Err()
		}
		if dispatchErr != nil {
			break
		}
	}
	if dispatchErr == nil {
		s.mu.Lock()
		s.next = walk.Steps()
		s.mu.Unlock()
	}
	if syn != nil {
		if err := syn.flush(); err != nil {
			s.log.Warn("syn send", "err", err)
		}
		select {
		case <-time.After(s.synWait):
			s.mu.Lock()
			s.synDrained = true
			s.mu.Unlock()
		case <-ctx.Done():
		}
		synStop.Store(true)
		synWG.Wait()
		syn.Close()
		// SYNs without a validated reply: filtered or lost.
		if lost := s.synSent.Load() - s.synReplied.Load(); lost > 0 {
			s.byStatus[model.StatusTimeout].Add(lost)
			s.done.Add(uint64(lost))
		}
	}
	close(jobs)
	wg.Wait()
	close(repDone)
	repWG.Wait()

	stats.Items = s.done.Load()
	stats.SYNSent, stats.SYNReplies = s.synSent.Load(), s.synReplied.Load()
	stats.Open = s.open.Load()
	stats.Emitted = s.emitted.Load()
	for st, n := range s.byStatus {
		if v := n.Load(); v > 0 {
			stats.ByStatus[st] = v
		}
	}
	stats.Elapsed = time.Since(start)
	cp := s.checkpoint(walk.Steps())
	stats.Position, stats.Pending = cp.Position, cp.Pending
	err = context.Cause(ctx)
	if errors.Is(err, errFinished) {
		err = nil
	}
	log.Info("scan finished", "items", stats.Items, "open", stats.Open, "took", stats.Elapsed, "err", err)
	return stats, err
}

var errFinished = errors.New("scan finished")

// NewSeed returns a random seed for the scan order.
func NewSeed() uint64 { return rand.Uint64() | 1 }

// ErrBadTargets wraps errors in the targets, ports or lists of a Config.
var ErrBadTargets = errors.New("bad targets")

type scanner struct {
	cfg     *Config
	sp      *target.Space
	probers map[string]probe.Prober
	log     *slog.Logger

	emitMu sync.Mutex // serialises emit
	emit   func(model.Service) error

	mu       sync.Mutex // guards inflight and next
	inflight map[uint64]struct{}
	next     uint64

	done     atomic.Uint64
	open     atomic.Int64
	emitted  atomic.Int64
	byStatus map[model.Status]*atomic.Int64

	synSent, synReplied atomic.Int64 // SYN mode: probes sent, validated replies

	// SYN mode keeps no per-probe state, so a checkpoint must stay behind the
	// SYNs whose replies may still be on the way: synMarks samples the send
	// position over time (guarded by mu) until synDrained.
	synWait    time.Duration
	synMarks   []synMark
	synDrained bool
}

type synMark struct {
	at  time.Time
	pos uint64
}

// markSYN records the send position now (SYN mode).
func (s *scanner) markSYN(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synMarks = append(s.synMarks, synMark{now, s.next})
	// Keep only what position may still need.
	for len(s.synMarks) > 2 && now.Sub(s.synMarks[1].at) > s.synWait {
		s.synMarks = s.synMarks[1:]
	}
}

// checkpoint takes the current checkpoint and hands it to cfg.Checkpoint.
// It holds emitMu, so no service is being emitted meanwhile: every service
// of a finished position has been emitted before.
func (s *scanner) checkpoint(steps uint64) Checkpoint {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	cp := Checkpoint{Seed: s.cfg.Seed, Shard: s.cfg.Shard, Shards: s.cfg.Shards, Position: s.position(), Steps: steps}
	for p := range s.inflight {
		if p < cp.Position {
			cp.Pending = append(cp.Pending, p)
		}
	}
	s.mu.Unlock()
	slices.Sort(cp.Pending)
	if s.cfg.Checkpoint != nil {
		s.cfg.Checkpoint(cp)
	}
	return cp
}

// position returns the position below which every step is finished or in
// flight (s.mu held). In SYN mode it stays behind the SYNs whose replies may
// still come.
func (s *scanner) position() uint64 {
	low := s.next
	if s.synWait > 0 && !s.synDrained {
		// The newest send position at least synWait old; replies to
		// anything later may still arrive.
		var safe uint64
		found := false
		cut := time.Now().Add(-s.synWait)
		for _, m := range s.synMarks {
			if !m.at.After(cut) {
				safe, found = m.pos, true
			}
		}
		if !found && len(s.synMarks) > 0 {
			safe = s.synMarks[0].pos
		}
		low = min(low, safe)
	}
	return low
}

func (s *scanner) finish(j job) {
	if !j.syn {
		s.mu.Lock()
		delete(s.inflight, j.pos)
		s.mu.Unlock()
	}
	s.done.Add(1)
}

// handle probes one item; a panic in a prober is contained to its item.
// An item interrupted by cancellation stays unfinished, so the checkpoint
// lists it as pending and a resumed scan probes it again.
func (s *scanner) handle(ctx context.Context, cancel context.CancelCauseFunc, j job) {
	if ctx.Err() != nil {
		return
	}
	var svc model.Service
	func() {
		defer func() {
			if r := recover(); r != nil {
				svc = model.Service{IP: j.addr, Port: j.port.Number, Transport: j.port.Transport,
					Status: model.StatusUnknownError, Error: fmt.Sprintf("prober panic: %v", r), Time: time.Now().UTC()}
				s.log.Error("prober panic", "addr", j.addr, "port", j.port, "panic", r)
			}
		}()
		svc = s.probeOne(ctx, j)
	}()
	if ctx.Err() != nil {
		return
	}
	defer s.finish(j)
	if c, ok := s.byStatus[svc.Status]; ok {
		c.Add(1)
	}
	if svc.Protocol != "" || svc.Status == model.StatusSuccess { // it answered: open
		s.open.Add(1)
	} else if !s.cfg.EmitClosed {
		return
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	if err := s.emit(svc); err != nil {
		cancel(fmt.Errorf("emit: %w", err))
		return
	}
	s.emitted.Add(1)
}

// refused reports whether err is a refused connection (closed port).
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func (s *scanner) probeOne(ctx context.Context, j job) model.Service {
	ap := netip.AddrPortFrom(j.addr, j.port.Number)
	svc := model.Service{IP: j.addr, Port: j.port.Number, Transport: j.port.Transport, Time: time.Now().UTC()}
	proto := target.ProtocolFor(j.port)
	explicit := j.port.Protocol != ""
	env := &probe.Env{Timeout: s.cfg.Timeout, Host: s.sp.Set.Names[j.addr]}
	if j.port.Transport == model.UDP {
		if proto == "" {
			svc.Status, svc.Error = model.StatusUnknownError, "no UDP probe for this port; name one with PORT/PROTOCOL"
			return svc
		}
		return s.runUDP(ctx, ap, proto, env, svc)
	}
	dial := func(ctx context.Context) (net.Conn, error) { return connectTCP(ctx, ap, s.cfg.ConnectTimeout) }
	env.Dial = dial
	conn, err := dial(ctx)
	if err != nil {
		svc.Status, svc.Error = probe.Classify(err), err.Error()
		if refused(err) {
			svc.Status = model.StatusRefused
		}
		return svc
	}
	if s.cfg.DiscoveryOnly {
		conn.Close()
		svc.Status, svc.Protocol = model.StatusSuccess, proto
		return svc
	}
	if proto == "" {
		proto, conn = detect(ctx, conn, s.cfg.Timeout)
	}
	res := s.run(ctx, proto, conn, env)
	conn.Close()
	if res.Status == model.StatusProtocolError && !explicit {
		// The port's usual protocol is not what answered: detect on a fresh connection.
		if c2, err := dial(ctx); err == nil {
			p2, c2 := detect(ctx, c2, s.cfg.Timeout)
			if p2 != proto {
				if r2 := s.run(ctx, p2, c2, env); r2.Status == model.StatusSuccess {
					res = r2
				}
			}
			c2.Close()
		}
		if res.Status != model.StatusSuccess {
			res = s.shared(ctx, j.port, proto, dial, env, res)
		}
	}
	if !explicit && res.Status != model.StatusSuccess && res.Status != model.StatusTimeout && !protocol.Lookup(proto).TLS {
		res = s.overTLS(ctx, dial, env, res)
	}
	return s.fill(svc, res)
}

// overTLS tries HTTPS on a fresh connection to a port whose plain-text
// probes failed: a server that completes a TLS handshake is recorded with
// its session and certificates even on a port of no known protocol. It
// returns the HTTPS result when the handshake succeeded, or res.
func (s *scanner) overTLS(ctx context.Context, dial func(context.Context) (net.Conn, error), env *probe.Env, res probe.Result) probe.Result {
	c, err := dial(ctx)
	if err != nil {
		return res
	}
	defer c.Close()
	r := s.run(ctx, model.ProtoHTTPS, c, env)
	if rec, ok := r.Data.(*httpprobe.Record); ok && rec.TLS != nil {
		// The handshake completed: TLS answers here, whatever runs inside.
		r.Status, r.Err = model.StatusSuccess, nil
		return r
	}
	return res
}

// shared tries the protocols that share port with its owner (Hikvision's
// SDK on HTTP's 8000), each on a fresh connection, and returns the first
// success, or res.
func (s *scanner) shared(ctx context.Context, port target.Port, tried string, dial func(context.Context) (net.Conn, error), env *probe.Env, res probe.Result) probe.Result {
	for _, p := range protocol.Sharing(port.Number, port.Transport) {
		if p == tried {
			continue
		}
		c, err := dial(ctx)
		if err != nil {
			return res
		}
		r := s.run(ctx, p, c, env)
		c.Close()
		if r.Status == model.StatusSuccess {
			return r
		}
	}
	return res
}

func (s *scanner) run(ctx context.Context, proto string, conn net.Conn, env *probe.Env) probe.Result {
	p, ok := s.probers[proto]
	if !ok {
		return probe.Result{Protocol: proto, Status: model.StatusSuccess}
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	// Probers bound their reads with deadlines; cancelling the scan
	// (Ctrl-C) ends them at once instead of at their timeout.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	return p.Probe(pctx, conn, env)
}

func (s *scanner) runUDP(ctx context.Context, ap netip.AddrPort, proto string, env *probe.Env, svc model.Service) model.Service {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", ap.String())
	if err != nil {
		svc.Status, svc.Error = probe.Classify(err), err.Error()
		return svc
	}
	defer conn.Close()
	if s.cfg.DiscoveryOnly {
		env.Timeout = min(env.Timeout, 2*time.Second)
	}
	res := s.run(ctx, proto, conn, env)
	if res.Status == model.StatusTimeout || res.Status == model.StatusRefused {
		svc.Status = res.Status
		if res.Err != nil {
			svc.Error = res.Err.Error()
		}
		return svc
	}
	return s.fill(svc, res)
}

// fill copies a probe result into svc and fingerprints it.
func (s *scanner) fill(svc model.Service, res probe.Result) model.Service {
	svc.Protocol, svc.Status = res.Protocol, res.Status
	svc.Banner = probe.Printable([]byte(res.Banner), 256)
	if res.Err != nil {
		svc.Error = res.Err.Error()
	}
	if res.Data != nil {
		svc.Data = res.Data
		if s.cfg.Engine != nil {
			svc.Fingerprint = s.cfg.Engine.Identify(res.Protocol, res.Data.Fields())
		}
	}
	return svc
}
