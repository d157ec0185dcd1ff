package audit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

// work is the audit of one service by one or more workers sharing a queue.
type work struct {
	a    *auditor
	s    model.Service
	mod  login.Module
	t    login.Target
	host chan struct{} // the host's concurrency tokens
	log  *slog.Logger
	// ctlCred is the wrong-password control (see control.go); ctlMu
	// serialises making it again.
	ctlCred login.Credential
	ctlMu   sync.Mutex

	mu          sync.Mutex // guards the fields below
	queue       []Entry
	attempts    int
	found       bool
	lockout     bool
	abandoned   bool
	signals     int
	pauseUntil  time.Time
	clean       int             // attempts answered with a clear verdict
	errs        int             // consecutive attempts that ended in an error
	durs        []time.Duration // durations of the first clean refusals
	slow        int             // consecutive slow refusals
	reason      string          // last lockout signal
	done        bool            // nothing more to learn (the control settled it)
	ctl         control         // what the wrong-password control got
	ctlEvidence string
	unknown     string // why an acceptance could not be judged, if one could not
	unknownE    Entry  // the credential whose acceptance could not be judged
	unknownN    int    // its attempt number
}

// next takes the next entry, or reports that the service is finished;
// anonymous limits it to the anonymous checks at the head of the queue.
func (w *work) next(anonymous bool) (Entry, int, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.abandoned || w.done || (w.found && !w.a.cfg.All) || len(w.queue) == 0 || w.attempts >= w.a.cfg.MaxAttempts ||
		anonymous && w.queue[0].Source != SourceAnonymous {
		return Entry{}, 0, time.Time{}, false
	}
	e := w.queue[0]
	w.queue = w.queue[1:]
	w.attempts++
	return e, w.attempts, w.pauseUntil, true
}

// run is one worker's loop on its own session; anonymous limits it to the
// anonymous checks.
func (w *work) run(ctx context.Context, sess login.Session, anonymous bool) {
	var last time.Time
	for {
		e, n, pause, ok := w.next(anonymous)
		if !ok {
			return
		}
		wake := pause
		if !last.IsZero() && w.a.cfg.Delay > 0 {
			if d := last.Add(w.a.cfg.Delay); d.After(wake) {
				wake = d
			}
		}
		if !sleepUntil(ctx, wake) {
			return
		}
		if !acquire(ctx, w.host) {
			return
		}
		t0 := time.Now()
		r := sess.Try(ctx, login.Credential{Username: e.Username, Password: e.Password})
		last = time.Now()
		<-w.host
		if ctx.Err() != nil {
			return
		}
		w.a.mu.Lock()
		w.a.stats.Attempts++
		w.a.byStatus[r.Status]++
		w.a.mu.Unlock()
		v := verdict{ok: true, evidence: r.Evidence}
		if r.Success() && e.Source != SourceAnonymous && r.Kind == "" {
			v.evidence, v.ok = w.judge(ctx, sess, r)
		}
		w.observe(e, n, r, v, last.Sub(t0))
	}
}

// verdict is what the control made of an acceptance.
type verdict struct {
	ok       bool   // the acceptance counts
	evidence string // the answers that prove it (or do not)
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// observe records one attempt's outcome and adapts pacing.
func (w *work) observe(e Entry, n int, r login.Result, v verdict, dur time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case r.Success() && !v.ok:
		w.errs, w.clean = 0, w.clean+1
		if w.unknown == "" {
			w.unknownE, w.unknownN = e, n
		}
		w.unknown = v.evidence
		w.log.Info("audit: acceptance not told from a wrong password's", "user", e.Username, "evidence", v.evidence)
	case r.Success():
		w.errs, w.clean = 0, w.clean+1
		if w.found && !w.a.cfg.All {
			return // another worker was first
		}
		w.found = true
		w.log.Info("audit: credential accepted", "user", e.Username, "password", model.Redact(e.Password),
			"source", e.Source, "attempt", n, "evidence", v.evidence)
		res := w.a.result(w.s, e, kindOf(w.s.Protocol, e, r), n, w.lockout)
		res.Evidence = evidence(e, v.evidence)
		w.a.emit(res)
	case r.Throttled:
		w.signal("rate limiting: " + login.Truncate(r.Evidence+errText(r.Err), 100))
		w.queue = append([]Entry{e}, w.queue...) // retry it after the back-off
	case r.Status == model.StatusAuthFailed:
		w.errs, w.clean = 0, w.clean+1
		// Tarpits answer ever more slowly: two refusals in a row that
		// take over 8× the usual time (and over SlowRefusal) are a signal.
		const baseline = 5
		if len(w.durs) < baseline {
			w.durs = append(w.durs, dur)
		} else if med := median(w.durs); dur > w.a.cfg.SlowRefusal && dur > 8*med {
			w.slow++
			if w.slow >= 2 {
				w.slow = 0
				w.signal(fmt.Sprintf("refusals took %v against a usual %v", dur.Round(time.Millisecond), med.Round(time.Millisecond)))
			}
		} else {
			w.slow = 0
		}
	case r.Status == model.StatusProtocolError:
		// The service answered, but not as the protocol says: this
		// credential is done; repeated confusion ends the service.
		w.errs++
		if w.errs >= 3 {
			w.abandoned = true
			w.log.Info("audit: giving up on service after repeated protocol errors", "err", r.Err)
		}
	default:
		w.errs++
		w.queue = append([]Entry{e}, w.queue...)
		switch {
		case w.clean > 0 && (r.Status == model.StatusRefused || r.Status == model.StatusIOError || r.Status == model.StatusTimeout):
			// It answered before and now drops us: a ban or a connection limit.
			w.signal(fmt.Sprintf("%s after %d clear answers: %v", r.Status, w.clean, r.Err))
		case w.errs >= 3:
			w.abandoned = true
			w.log.Info("audit: giving up on service after repeated errors", "status", r.Status, "err", r.Err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}

// signal records a lockout or rate-limit signal and backs off exponentially;
// after MaxBackoffs signals the service is abandoned. w.mu is held.
func (w *work) signal(reason string) {
	w.lockout = true
	w.reason = reason
	w.signals++
	if w.signals > w.a.cfg.MaxBackoffs {
		w.abandoned = true
		w.log.Warn("audit: lockout suspected, abandoning service", "signals", w.signals, "reason", reason)
		return
	}
	backoff := w.a.cfg.Backoff << (w.signals - 1)
	w.pauseUntil = time.Now().Add(backoff)
	w.log.Warn("audit: lockout suspected, backing off", "backoff", backoff, "reason", reason)
}

// finish records the service's end state.
func (w *work) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.a.count(func(st *Stats) {
		if w.lockout {
			st.Lockouts++
		}
		if w.abandoned {
			st.Abandoned++
		}
		if w.unknown != "" && !w.found {
			st.Unknown++
		}
	})
	if w.unknown != "" && !w.found {
		// Kept as evidence, never counted as weak: the service accepted a
		// wrong password too (or answered both alike), so no acceptance
		// here proves a credential.
		w.log.Info("audit: result unknown", "reason", w.unknown)
		r := w.a.result(w.s, w.unknownE, model.KindUnknownVerdict, w.unknownN, w.lockout)
		r.Evidence = login.Truncate(w.unknown, 240)
		w.a.emit(r)
	}
	if w.lockout && !w.found {
		r := w.a.result(w.s, Entry{}, KindLockoutSuspected, w.attempts, true)
		r.Source = login.Truncate(w.reason, 120)
		w.a.emit(r)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// stopped reports whether the service needs no more attempts.
func (w *work) stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.abandoned || w.done || (w.found && !w.a.cfg.All)
}
