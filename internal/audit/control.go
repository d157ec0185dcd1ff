package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

// Every service is audited in the order the best tools use: first the
// anonymous checks (a login without any credential), then a control — a
// deliberately wrong password, random so that it cannot be valid — and only
// then the dictionary. The control decides what a later acceptance means: a
// service that also accepts the wrong password (or answers it exactly as it
// answers the "right" one, like a web server that sends 403 to every
// Authorization) proves nothing, and its result is unknown, never weak. With
// several workers per host, the anonymous checks and the control are done
// before any worker tries a credential, so that a broker open to anyone is
// reported as anonymous access, not as the first password that happened to
// be tried beside the anonymous check.

// control is what the wrong-password control got on a service.
type control int

const (
	ctlNone        control = iota // no control made (no credential to judge)
	ctlRefused                    // the wrong password was refused: every acceptance counts
	ctlProvisional                // it got a provisional acceptance (HTTP 403): only definite ones count
	ctlAcceptsAny                 // it was accepted: no acceptance means anything
	ctlUnsettled                  // no clear answer (error, throttling): made again before judging an acceptance
)

// classifyControl reads the control attempt's result.
func classifyControl(r login.Result) control {
	switch {
	case r.Status == model.StatusAuthFailed && !r.Throttled:
		return ctlRefused
	case r.Success() && r.Provisional:
		return ctlProvisional
	case r.Success():
		return ctlAcceptsAny
	default:
		return ctlUnsettled
	}
}

// controlPassword is a password no device has: 18 random hex digits.
func controlPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "iw-" + hex.EncodeToString(b)
}

// controlCredential pairs the first dictionary user name (so that the
// password check, not an unknown user, is what refuses it) with a random
// password.
func controlCredential(es []Entry) login.Credential {
	for _, e := range es {
		if e.Source != SourceAnonymous && e.Username != "" {
			return login.Credential{Username: e.Username, Password: controlPassword()}
		}
	}
	return login.Credential{Username: "admin", Password: controlPassword()}
}

// hasCredential reports whether es holds an entry beyond the anonymous checks.
func hasCredential(es []Entry) bool {
	return slices.ContainsFunc(es, func(e Entry) bool { return e.Source != SourceAnonymous })
}

// capEntries keeps what fits in max login attempts: the entries and, when a
// credential is among them, the control.
func capEntries(es []Entry, max int) []Entry {
	if len(es) > max {
		es = es[:max]
	}
	if len(es) == max && hasCredential(es) {
		es = es[:max-1]
	}
	return es
}

// runControl makes the wrong-password control on sess (holding a host token
// for it) and records what it got. It reports false when ctx ended.
func (w *work) runControl(ctx context.Context, sess login.Session) bool {
	if !acquire(ctx, w.host) {
		return false
	}
	r := sess.Try(ctx, w.ctlCred)
	<-w.host
	if ctx.Err() != nil {
		return false
	}
	w.a.mu.Lock()
	w.a.stats.Attempts++
	w.a.byStatus[r.Status]++
	w.a.mu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	w.ctl = classifyControl(r)
	w.ctlEvidence = login.Truncate(r.Evidence+errText(r.Err), 100)
	switch {
	case r.Success() && r.Kind != "":
		// No credential needed at all (a shell or an SSH "none" login, a
		// user without a password): the anonymous check, made by the control.
		w.done = true
		if !w.found {
			w.found = true
			e := Entry{Source: SourceAnonymous}
			if r.Kind != model.KindAnonymousAccess {
				e.Username = w.ctlCred.Username
			}
			res := w.a.result(w.s, e, r.Kind, 0, w.lockout)
			res.Evidence = r.Evidence
			w.log.Info("audit: accepted without a credential", "evidence", r.Evidence)
			w.a.emit(res)
		}
	case w.ctl == ctlAcceptsAny:
		w.unknown = "a wrong password was accepted too: " + w.ctlEvidence
		w.done = true // nothing the dictionary finds can mean more
	case r.Throttled:
		w.signal("rate limiting at the control: " + w.ctlEvidence)
	}
	w.log.Debug("audit: control", "result", r.Status, "evidence", w.ctlEvidence)
	return true
}

// judge judges an acceptance of a dictionary credential against the
// control, making the control again if its first answer was unclear. ok
// false means the acceptance cannot be told from a wrong password's.
func (w *work) judge(ctx context.Context, sess login.Session, r login.Result) (evidence string, ok bool) {
	w.ctlMu.Lock()
	defer w.ctlMu.Unlock()
	w.mu.Lock()
	ctl := w.ctl
	w.mu.Unlock()
	if ctl == ctlUnsettled {
		if !w.runControl(ctx, sess) {
			return "", false
		}
		w.mu.Lock()
		ctl = w.ctl
		w.mu.Unlock()
	}
	w.mu.Lock()
	ctlEv := w.ctlEvidence
	w.mu.Unlock()
	switch {
	case ctl == ctlRefused:
		return r.Evidence + "; a wrong password got: " + ctlEv, true
	case ctl == ctlProvisional && !r.Provisional:
		return r.Evidence + "; a wrong password got only: " + ctlEv, true
	default:
		return r.Evidence + "; a wrong password got the same: " + ctlEv, false
	}
}
