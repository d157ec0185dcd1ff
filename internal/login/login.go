// Package login defines the one interface every login protocol implements for
// the credential audit (one package per protocol under login/, as probes live
// under probe/), and the small types they share: the target, the credential,
// and the classified result of one attempt.
//
// A Module opens a Session on a target; the session tries credentials one at
// a time and may keep a connection between attempts (FTP, telnet) or dial
// afresh for each (SSH, MQTT). Success is judged positively: a shell prompt
// or command echo, an SSH auth success, an HTTP 2xx after a 401, FTP 230,
// MQTT CONNACK 0, RTSP 200, an SNMP response. The absence of an error is
// never taken as success. An answer that means success only if a wrong
// password gets a different one (HTTP 403 after a 401) is Provisional; the
// audit's wrong-password control decides.
package login

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/netx"
)

// Target is one login surface.
type Target struct {
	Addr     netip.AddrPort
	Protocol string        // model.ProtoSSH, ...
	TLS      bool          // HTTPS, MQTTS
	Path     string        // HTTP/RTSP path; "" means the module's default
	Timeout  time.Duration // per attempt; 0 means DefaultTimeout
	// Dial overrides how connections are opened (tests); nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultTimeout bounds one attempt when Target.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// AttemptTimeout returns the per-attempt timeout.
func (t Target) AttemptTimeout() time.Duration {
	if t.Timeout <= 0 {
		return DefaultTimeout
	}
	return t.Timeout
}

// DialContext opens a connection to the target on network ("tcp", "udp").
func (t Target) DialContext(ctx context.Context, network string) (net.Conn, error) {
	if t.Dial != nil {
		return t.Dial(ctx, network, t.Addr.String())
	}
	d := net.Dialer{Timeout: t.AttemptTimeout()}
	return d.DialContext(ctx, network, t.Addr.String())
}

// Credential is one user name and password (for SNMP: the community in Password).
type Credential struct {
	Username string
	Password string
}

// Result is the outcome of one attempt.
type Result struct {
	// Status is model.StatusSuccess only when the service positively accepted
	// the credential; model.StatusAuthFailed when it positively refused it;
	// otherwise the class of what went wrong.
	Status model.Status
	// Kind overrides the credential kind for special successes, e.g.
	// model.KindAnonymousAccess when no credential was needed at all.
	Kind string
	// Evidence is what proved the outcome (a prompt, a status line).
	Evidence string
	// Provisional marks a success that counts only if a wrong password is
	// answered differently: an HTTP 403 after a 401 challenge may be an
	// authenticated user refused the path, or a server refusing everyone.
	// The audit's wrong-password control decides.
	Provisional bool
	// Throttled reports that the service signalled rate limiting or a ban
	// (HTTP 429, FTP 421, "too many", ...).
	Throttled bool
	// Err is the error behind a status other than success or auth-failed.
	Err error
}

// Success reports whether the credential was accepted.
func (r Result) Success() bool { return r.Status == model.StatusSuccess }

// Session tries credentials against one target. It is used by one goroutine.
type Session interface {
	Try(ctx context.Context, c Credential) Result
	Close() error
}

// Module is one login protocol.
type Module interface {
	// Protocols are the model.Proto* names this module audits.
	Protocols() []string
	// Open prepares a session on t. It returns ErrNoAuth when the surface
	// needs no credential, together with a session whose every Try reports
	// anonymous success (callers decide whether that counts).
	Open(ctx context.Context, t Target) (Session, error)
}

// ErrNoAuth marks a surface that asks for no credential at all.
var ErrNoAuth = errors.New("no authentication required")

// ErrUnsupported marks a surface whose authentication scheme the module does not speak.
var ErrUnsupported = errors.New("unsupported authentication scheme")

// Classify maps an I/O error to an outcome class (netx.Status).
func Classify(err error) model.Status { return netx.Status(err) }

// ErrProtocol marks replies that are not the protocol expected (netx.ErrProtocol).
var ErrProtocol = netx.ErrProtocol

// Fail builds a failed Result classified from err.
func Fail(err error) Result { return Result{Status: Classify(err), Err: err} }

// Denied builds an auth-failed Result with its evidence.
func Denied(evidence string) Result {
	return Result{Status: model.StatusAuthFailed, Evidence: evidence}
}

// Accepted builds a success Result with its evidence.
func Accepted(evidence string) Result {
	return Result{Status: model.StatusSuccess, Evidence: evidence}
}

// Func adapts a stateless attempt function to a Session.
type Func func(ctx context.Context, c Credential) Result

// Try calls f.
func (f Func) Try(ctx context.Context, c Credential) Result { return f(ctx, c) }

// Close does nothing.
func (Func) Close() error { return nil }

// Truncate cuts evidence to n bytes for records and logs.
func Truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// BatchSession is implemented by sessions that can try several credentials
// in one exchange (SNMP communities: send all, wait once). gap spaces the
// sends. Results are in the order of cs.
type BatchSession interface {
	Session
	TryBatch(ctx context.Context, cs []Credential, gap time.Duration) []Result
}
