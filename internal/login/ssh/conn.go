package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/netx"
)

// pending is an SSH connection in the middle of password authentication for
// one user: x/crypto/ssh runs its auth loop in a goroutine and asks for each
// next password through a callback, so several passwords for the same user
// cost one handshake (servers allow several tries, OpenSSH MaxAuthTries 6).
type pending struct {
	user          string
	conn          net.Conn
	ask           chan struct{} // the auth loop wants a password (the last one failed)
	feed          chan string   // the next password
	done          chan error    // the auth loop ended: nil is success
	sent          bool          // a password was sent
	serverVersion string        // set on success
	err           error         // final error once done was received
	ended         bool
}

var errAbort = errors.New("audit moved on")

// dial starts a handshake for user and waits until the server asks for a
// password (or accepts none).
func dialPending(ctx context.Context, t login.Target, user string) (*pending, login.Result, bool) {
	conn, err := t.DialContext(ctx, "tcp")
	if err != nil {
		return nil, login.Fail(fmt.Errorf("ssh dial %s: %w", t.Addr, err)), false
	}
	p := &pending{user: user, conn: conn, ask: make(chan struct{}), feed: make(chan string), done: make(chan error, 1)}
	cfg := &xssh.ClientConfig{
		User: user,
		Auth: []xssh.AuthMethod{xssh.RetryableAuthMethod(xssh.PasswordCallback(func() (string, error) {
			select {
			case p.ask <- struct{}{}:
			case <-time.After(5 * time.Minute):
				return "", errAbort
			}
			pw, ok := <-p.feed
			if !ok {
				return "", errAbort
			}
			return pw, nil
		}), 1000)},
		HostKeyCallback:   xssh.InsecureIgnoreHostKey(), // an audit identifies, it does not trust
		HostKeyAlgorithms: algs.HostKeys,
		Timeout:           t.AttemptTimeout(),
		ClientVersion:     "SSH-2.0-OpenSSH_8.9",
	}
	cfg.KeyExchanges = algs.KeyExchanges
	cfg.Ciphers = algs.Ciphers
	cfg.MACs = algs.MACs
	_ = conn.SetDeadline(time.Now().Add(t.AttemptTimeout()))
	go func() {
		sc, chans, reqs, err := xssh.NewClientConn(conn, t.Addr.String(), cfg)
		if err == nil {
			p.serverVersion = string(sc.ServerVersion())
			xssh.NewClient(sc, chans, reqs).Close()
		}
		p.done <- err
	}()
	select {
	case <-p.ask:
		return p, login.Result{}, true
	case err := <-p.done:
		p.ended, p.err = true, err
		conn.Close()
		if err == nil {
			return nil, login.Result{Status: model.StatusSuccess, Kind: model.KindAnonymousAccess, Evidence: "ssh none authentication accepted, server " + p.serverVersion}, false
		}
		return nil, classify(ctx, err), false
	case <-ctx.Done():
		p.close()
		return nil, login.Fail(ctx.Err()), false
	}
}

// try sends one password on a pending connection (which is asking for one).
// keep reports whether the connection can take another password.
func (p *pending) try(ctx context.Context, t login.Target, pw string) (r login.Result, keep bool) {
	_ = p.conn.SetDeadline(time.Now().Add(t.AttemptTimeout()))
	select {
	case p.feed <- pw:
	case <-ctx.Done():
		p.close()
		return login.Fail(ctx.Err()), false
	}
	p.sent = true
	select {
	case <-p.ask:
		return login.Denied("ssh password refused"), true
	case err := <-p.done:
		p.ended, p.err = true, err
		p.conn.Close()
		if err == nil {
			return login.Accepted("ssh auth success, server " + p.serverVersion), false
		}
		msg := strings.ToLower(err.Error())
		class := netx.ClassOf(err)
		switch {
		case class == netx.ClassTimeout:
			return login.Result{Status: model.StatusTimeout, Err: err}, false
		case class == netx.ClassEOF, class == netx.ClassReset,
			// x/crypto/ssh reports the server's refusals only as text
			strings.Contains(msg, "unable to authenticate"), strings.Contains(msg, "too many authentication failures"):
			// The server hung up after refusing the password (MaxAuthTries).
			return login.Denied("ssh password refused; server closed: " + lastPart(msg)), false
		}
		return login.Fail(fmt.Errorf("ssh auth: %w", err)), false
	case <-ctx.Done():
		p.close()
		return login.Fail(ctx.Err()), false
	}
}

// close abandons the handshake.
func (p *pending) close() {
	if p == nil || p.ended {
		return
	}
	p.ended = true
	p.conn.Close()
	close(p.feed)
	go func() {
		// drain: the auth goroutine may be blocked on ask
		select {
		case <-p.ask:
		case err := <-p.done:
			_ = err // the session is closed: its outcome is no longer wanted
		case <-time.After(t30):
		}
	}()
}

const t30 = 30 * time.Second
