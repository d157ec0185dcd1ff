// Package audit measures default and weak credentials on the login surfaces
// a scan found, safely: only named targets, one attempt at a time per host by
// default, an attempt cap per service, a delay between attempts, back-off
// when a device shows lockout or rate limiting (recorded as
// lockout_suspected), and a stop at the first success per service. Every
// service gets the anonymous checks first, then a wrong-password control that
// decides what a later acceptance means (control.go). It also turns results
// into population statistics with Wilson intervals.
//
// Protocols are spoken by the login/<proto> packages behind login.Module;
// dictionaries are embedded data (Mirai's 62 pairs, the DefaultCreds cheat
// sheet keyed by vendor, SNMP communities).
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
	"iotwatch/internal/stats"
)

// KindLockoutSuspected is model.KindLockoutSuspected, the Kind of a
// CredentialResult that records a service where the audit backed off; it is
// not a weak credential (model.CredentialResult.Weak).
const KindLockoutSuspected = model.KindLockoutSuspected

// Defaults for a zero Config.
const (
	DefaultMaxAttempts = 100
	DefaultPerHost     = 1
	DefaultConcurrency = 256
	DefaultBackoff     = time.Second
	DefaultMaxBackoffs = 3
)

// Config tunes an audit. The zero value is safe.
type Config struct {
	MaxAttempts int           // login attempts per service, the control included (0: DefaultMaxAttempts)
	PerHost     int           // concurrent attempts per host (0: 1)
	Concurrency int           // hosts audited at once (0: DefaultConcurrency)
	Delay       time.Duration // pause between attempts of one worker
	Timeout     time.Duration // per attempt (0: login.DefaultTimeout)
	All         bool          // keep trying after the first success on a service
	Dict        *Dictionary   // nil: Builtin()
	// Allowed says which addresses were explicitly named; services elsewhere
	// are never touched. Nil allows every service passed to Run (the caller
	// named them).
	Allowed func(netip.Addr) bool
	Logger  *slog.Logger
	// Modules overrides the login modules (tests); nil: Modules().
	Modules []login.Module
	// Backoff is the first pause after a lockout signal, doubled each time
	// (0: DefaultBackoff); MaxBackoffs signals end the service (0: 3).
	Backoff     time.Duration
	MaxBackoffs int
	// SlowRefusal is the least duration of a refusal that can count as a
	// growing delay (a tarpit) when it is also over 8× the usual (0: 2 s).
	SlowRefusal time.Duration
	// Paths maps a protocol (http, https, rtsp) to the path to audit; the
	// default is "/".
	Paths map[string]string
	// Identities are the devices' identities (stats.Identify over all of a
	// host's services, not only its login surfaces), which decide the
	// firmware-proven accounts tried first (Dictionary.ForDevice); a host
	// missing here is identified from the services passed to Run.
	Identities map[netip.Addr]stats.Identity
	// Progress, if set, is called after each service with done and total.
	Progress func(done, total int)
}

// Stats counts what an audit did.
type Stats struct {
	Services   int // services passed in
	Audited    int // services where credentials were tried
	NotAllowed int // services refused because their address was not named
	NoModule   int // services with no login module (protocol not auditable)
	NoAuth     int // surfaces that asked for no credential (open web pages)
	OpenFailed int // surfaces that could not be prepared (down, unsupported scheme)
	Attempts   int64
	Found      int // credential results emitted (successes)
	Lockouts   int // services where lockout or rate limiting was suspected
	Abandoned  int // services given up after repeated lockout signals or errors
	// Unknown counts services where something looked accepted but a
	// deliberately wrong password got the same answer: not weak, not strong.
	Unknown  int
	ByStatus map[model.Status]int64
	Duration time.Duration
}

// anonymousOpen lists protocols where a surface without any authentication
// is itself a finding (an open camera stream), unlike an open web page.
var anonymousOpen = map[string]bool{model.ProtoRTSP: true}

// Run audits every service, calling emit for each accepted credential (and
// for each service abandoned under suspected lockout, see
// KindLockoutSuspected). emit is never called concurrently. Run returns when
// all services are done, ctx ends, or emit fails.
func Run(ctx context.Context, cfg Config, services []model.Service, emit func(model.CredentialResult) error) (Stats, error) {
	start := time.Now()
	cfg = cfg.withDefaults()
	reg := registry(cfg.Modules)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	a := &auditor{cfg: cfg, reg: reg, emitFn: emit, cancel: cancel, byStatus: map[model.Status]int64{}}
	a.stats.Services = len(services)

	// Group by host, keeping order; hosts run in parallel, a host's
	// services one after another.
	var hosts []netip.Addr
	byHost := map[netip.Addr][]model.Service{}
	for _, s := range services {
		if cfg.Allowed != nil && !cfg.Allowed(s.IP) {
			a.count(func(st *Stats) { st.NotAllowed++ })
			cfg.Logger.Warn("audit: refusing a target that was not named", "ip", s.IP, "port", s.Port)
			continue
		}
		if _, ok := byHost[s.IP]; !ok {
			hosts = append(hosts, s.IP)
		}
		byHost[s.IP] = append(byHost[s.IP], s)
	}
	ids := make(map[netip.Addr]stats.Identity, len(hosts))
	for _, h := range hosts {
		id, ok := cfg.Identities[h]
		if !ok {
			id = stats.Identify(byHost[h])
		}
		ids[h] = id
	}
	a.ids = ids
	total := len(services) - a.stats.NotAllowed
	var done atomic.Int64
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	for _, h := range hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(svcs []model.Service) {
			defer wg.Done()
			defer func() { <-sem }()
			// The host's services run side by side, but every network
			// exchange with the host takes one of its PerHost tokens.
			host := make(chan struct{}, cfg.PerHost)
			var hwg sync.WaitGroup
			for _, s := range svcs {
				hwg.Add(1)
				go func() {
					defer hwg.Done()
					if ctx.Err() != nil {
						return
					}
					a.service(ctx, s, host)
					if cfg.Progress != nil {
						cfg.Progress(int(done.Add(1)), total)
					}
				}()
			}
			hwg.Wait()
		}(byHost[h])
	}
	wg.Wait()
	a.mu.Lock()
	st := a.stats
	st.ByStatus = a.byStatus
	a.mu.Unlock()
	st.Duration = time.Since(start)
	a.mu.Lock()
	emitErr := a.emitErr
	a.mu.Unlock()
	if emitErr != nil {
		return st, emitErr
	}
	if ctx.Err() != nil {
		return st, context.Cause(ctx)
	}
	return st, nil
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.PerHost <= 0 {
		c.PerHost = DefaultPerHost
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Dict == nil {
		c.Dict = Builtin()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Modules == nil {
		c.Modules = Modules()
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoffs <= 0 {
		c.MaxBackoffs = DefaultMaxBackoffs
	}
	if c.SlowRefusal <= 0 {
		c.SlowRefusal = 2 * time.Second
	}
	return c
}

type auditor struct {
	cfg    Config
	reg    map[string]login.Module
	emitFn func(model.CredentialResult) error
	cancel context.CancelCauseFunc

	mu       sync.Mutex // guards stats, byStatus, emitErr and calls to emitFn
	stats    Stats
	byStatus map[model.Status]int64
	emitErr  error
	ids      map[netip.Addr]stats.Identity // read-only once hosts start
}

func (a *auditor) count(f func(*Stats)) {
	a.mu.Lock()
	f(&a.stats)
	a.mu.Unlock()
}

func (a *auditor) emit(r model.CredentialResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.emitErr != nil {
		return
	}
	if r.Weak() {
		a.stats.Found++
	}
	if err := a.emitFn(r); err != nil {
		a.emitErr = fmt.Errorf("audit emit: %w", err)
		a.cancel(a.emitErr)
	}
}

// target builds the login target of a service.
func (a *auditor) target(s model.Service) login.Target {
	return login.Target{
		Addr:     netip.AddrPortFrom(s.IP, s.Port),
		Protocol: s.Protocol,
		TLS:      protocol.Lookup(s.Protocol).TLS,
		Path:     a.cfg.Paths[s.Protocol],
		Timeout:  a.cfg.Timeout,
	}
}

// acquire takes a host token; it reports false when ctx ended.
func acquire(ctx context.Context, host chan struct{}) bool {
	select {
	case host <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// service audits one service; host holds the host's concurrency tokens.
func (a *auditor) service(ctx context.Context, s model.Service, host chan struct{}) {
	log := a.cfg.Logger.With("ip", s.IP, "port", s.Port, "protocol", s.Protocol)
	mod, ok := a.reg[s.Protocol]
	if !ok {
		a.count(func(st *Stats) { st.NoModule++ })
		return
	}
	t := a.target(s)
	if !acquire(ctx, host) {
		return
	}
	sess, err := mod.Open(ctx, t)
	<-host
	if err != nil {
		if errors.Is(err, login.ErrNoAuth) {
			a.count(func(st *Stats) { st.NoAuth++ })
			if anonymousOpen[s.Protocol] {
				a.emit(a.result(s, Entry{Source: SourceAnonymous}, model.KindAnonymousAccess, 0, false))
			}
			log.Debug("audit: no authentication asked", "err", err)
			return
		}
		a.count(func(st *Stats) { st.OpenFailed++ })
		log.Info("audit: cannot prepare login surface", "err", err)
		return
	}
	a.count(func(st *Stats) { st.Audited++ })
	entries := capEntries(a.cfg.Dict.ForDevice(s.Protocol, s.Fingerprint, a.ids[s.IP]), a.cfg.MaxAttempts)
	if b, ok := sess.(login.BatchSession); ok {
		defer sess.Close()
		if !acquire(ctx, host) {
			return
		}
		defer func() { <-host }()
		a.batch(ctx, s, b, entries)
		return
	}
	w := &work{a: a, s: s, mod: mod, t: t, host: host, queue: slices.Clone(entries), log: log, ctlCred: controlCredential(entries)}
	// The anonymous checks, then the control, on the first session, before
	// any other worker starts (control.go).
	w.run(ctx, sess, true)
	if ctx.Err() == nil && hasCredential(w.queue) && !w.stopped() && !w.runControl(ctx, sess) {
		sess.Close()
		return
	}
	workers := 0
	if !w.stopped() {
		workers = min(a.cfg.PerHost, len(w.queue))
	}
	if workers == 0 {
		sess.Close()
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := sess
			if i > 0 {
				if !acquire(ctx, host) {
					return
				}
				var err error
				ws, err = mod.Open(ctx, t)
				<-host
				if err != nil {
					log.Debug("audit: extra worker session", "err", err)
					return
				}
			}
			defer ws.Close()
			w.run(ctx, ws, false)
		}()
	}
	wg.Wait()
	w.finish()
}

// batch runs a BatchSession (SNMP) over all entries at once.
func (a *auditor) batch(ctx context.Context, s model.Service, b login.BatchSession, entries []Entry) {
	cs := make([]login.Credential, len(entries))
	for i, e := range entries {
		cs[i] = login.Credential{Username: e.Username, Password: e.Password}
	}
	// The control community goes first, in the same exchange: an agent that
	// answers it answers anything.
	ctl := login.Credential{Password: controlPassword()}
	res := b.TryBatch(ctx, append([]login.Credential{ctl}, cs...), a.cfg.Delay)
	a.mu.Lock()
	a.stats.Attempts += int64(len(res))
	for _, r := range res {
		a.byStatus[r.Status]++
	}
	a.mu.Unlock()
	if len(res) == 0 {
		return
	}
	ctlRes := res[0]
	res = res[1:]
	if ctlRes.Success() {
		a.count(func(st *Stats) { st.Unknown++ })
		a.cfg.Logger.Info("audit: result unknown: the agent answers a random community", "ip", s.IP, "port", s.Port, "evidence", ctlRes.Evidence)
		r := a.result(s, Entry{}, model.KindUnknownVerdict, len(res)+1, false)
		r.Evidence = login.Truncate("a random community was accepted: "+ctlRes.Evidence, 240)
		a.emit(r)
		return
	}
	for i, r := range res {
		if !r.Success() {
			continue
		}
		cr := a.result(s, entries[i], kindOf(s.Protocol, entries[i], r), i+1, false)
		cr.Evidence = r.Evidence + "; a random community got: " + ctlRes.Evidence
		a.emit(cr)
		if !a.cfg.All {
			return
		}
	}
}

// result builds the CredentialResult for an accepted entry.
func (a *auditor) result(s model.Service, e Entry, kind string, attempts int, lockout bool) model.CredentialResult {
	return model.CredentialResult{
		IP: s.IP, Port: s.Port, Protocol: s.Protocol,
		Username: e.Username, Password: e.Password,
		Kind: kind, Source: e.Source, Attempts: attempts,
		LockoutSuspected: lockout, Time: time.Now().UTC(),
	}
}

// evidence is what proved an acceptance, headed by where a proven entry
// came from.
func evidence(e Entry, proof string) string {
	if e.Note == "" {
		return proof
	}
	return e.Note + "; " + proof
}

// kindOf classifies an accepted credential.
func kindOf(proto string, e Entry, r login.Result) string {
	switch {
	case r.Kind != "":
		return r.Kind
	case proto == model.ProtoSNMP:
		return model.KindSNMPCommunity
	case e.Source == SourceAnonymous:
		return model.KindAnonymousAccess
	case e.Password == "":
		return model.KindEmptyPassword
	case e.Default:
		return model.KindDefaultCredential
	default:
		return model.KindWeakPassword
	}
}
