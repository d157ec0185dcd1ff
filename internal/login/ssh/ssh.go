// Package ssh audits SSH password and keyboard-interactive logins with
// golang.org/x/crypto/ssh, with the legacy key-exchange, cipher, MAC and
// host-key algorithms that old embedded devices (dropbear 0.4x, old OpenSSH)
// still use enabled in addition to the modern ones.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	xssh "golang.org/x/crypto/ssh"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

// Module is the SSH login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoSSH} }

// Open implements login.Module. SSH needs a connection per attempt: the user
// name is fixed for the life of an SSH connection.
func (Module) Open(_ context.Context, t login.Target) (login.Session, error) {
	return &session{t: t}, nil
}

// session remembers which password method the server takes: "password"
// first; "keyboard-interactive" when the server does not offer "password".
// Trying only one method per attempt halves the cost of a refusal.
type session struct {
	t           login.Target
	interactive bool
	p           *pending // a connection asking for the next password of p.user
}

func (s *session) Close() error {
	s.p.close()
	s.p = nil
	return nil
}

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	if !s.interactive {
		if s.p != nil && s.p.user != c.Username {
			s.Close()
		}
		if s.p == nil {
			p, r, ok := dialPending(ctx, s.t, c.Username)
			if !ok {
				if r.Status == model.StatusAuthFailed && strings.Contains(r.Evidence, "attempted methods [none]") {
					s.interactive = true // no "password" method: fall through
				} else {
					return r
				}
			}
			s.p = p
		}
		if s.p != nil {
			r, keep := s.p.try(ctx, s.t, c.Password)
			if !keep {
				s.p = nil
			}
			return r
		}
	}
	r := try(ctx, s.t, c, s.interactive)
	if !s.interactive && r.Status == model.StatusAuthFailed && strings.Contains(r.Evidence, "attempted methods [none]") {
		s.interactive = true
		r = try(ctx, s.t, c, true)
	}
	return r
}

// algorithms are all algorithms x/crypto/ssh implements, secure ones first,
// then the insecure ones old devices need.
func algorithms() xssh.Algorithms {
	sup, ins := xssh.SupportedAlgorithms(), xssh.InsecureAlgorithms()
	cat := func(a, b []string) []string {
		out := slices.Clone(a)
		for _, s := range b {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return xssh.Algorithms{
		KeyExchanges: cat(sup.KeyExchanges, ins.KeyExchanges),
		Ciphers:      cat(sup.Ciphers, ins.Ciphers),
		MACs:         cat(sup.MACs, ins.MACs),
		HostKeys:     cat(sup.HostKeys, ins.HostKeys),
	}
}

var algs = algorithms()

func try(ctx context.Context, t login.Target, c login.Credential, interactive bool) login.Result {
	ctx, conn, err := t.Attempt(ctx, "tcp", 0) // the SSH library bounds its packets
	if err != nil {
		return login.Fail(fmt.Errorf("ssh dial %s: %w", t.Addr, err))
	}
	defer conn.Close()

	var used atomic.Bool // a password was sent (otherwise "none" auth succeeded)
	cfg := &xssh.ClientConfig{
		User: c.Username,
		Auth: []xssh.AuthMethod{
			xssh.PasswordCallback(func() (string, error) { used.Store(true); return c.Password, nil }),
		},
		HostKeyCallback:   xssh.InsecureIgnoreHostKey(), // an audit identifies, it does not trust
		HostKeyAlgorithms: algs.HostKeys,
		Timeout:           t.AttemptTimeout(),
		ClientVersion:     "SSH-2.0-OpenSSH_8.9",
	}
	if interactive {
		cfg.Auth = []xssh.AuthMethod{xssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			used.Store(true)
			ans := make([]string, len(questions))
			for i := range ans {
				ans[i] = c.Password
			}
			return ans, nil
		})}
	}
	cfg.KeyExchanges = algs.KeyExchanges
	cfg.Ciphers = algs.Ciphers
	cfg.MACs = algs.MACs
	// The SSH library closes the connection itself (on a failed handshake,
	// in client.Close): it gets the bare connection, so that its closes do
	// not end the attempt's context, which classify reads.
	sc, chans, reqs, err := xssh.NewClientConn(conn.Conn, t.Addr.String(), cfg)
	if err != nil {
		return classify(ctx, err)
	}
	client := xssh.NewClient(sc, chans, reqs)
	defer client.Close()
	r := login.Accepted("ssh auth success, server " + string(sc.ServerVersion()))
	if !used.Load() {
		r.Kind = model.KindAnonymousAccess
		r.Evidence = "ssh none authentication accepted"
	}
	return r
}

// classify turns a handshake error into a result.
func classify(ctx context.Context, err error) login.Result {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return login.Denied(lastPart(msg))
	case strings.Contains(msg, "no common algorithm"):
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("ssh negotiate: %w", err)}
	case strings.Contains(msg, "Too many authentication failures"), strings.Contains(msg, "too many"):
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: msg}
	}
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return login.Result{Status: model.StatusTimeout, Err: err}
	}
	return login.Fail(fmt.Errorf("ssh handshake: %w", err))
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, "ssh: "); i >= 0 {
		return s[i:]
	}
	return s
}
