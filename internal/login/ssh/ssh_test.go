package ssh

import (
	"context"

	"fmt"
	"go.uber.org/goleak"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func target(t *testing.T, p *testpeer.Peer) login.Target {
	t.Helper()
	ap := netip.MustParseAddrPort(p.Addr)
	return login.Target{Addr: ap, Protocol: model.ProtoSSH, Timeout: 15 * time.Second}
}

func TestSSHRealPeer(t *testing.T) {
	t.Parallel()
	for _, opts := range []testpeer.SSHDOptions{{}, {Legacy: true}, {PAM: true, KbdInteractiveOnly: true}} {
		t.Run(fmt.Sprintf("legacy=%v,kbdint=%v", opts.Legacy, opts.KbdInteractiveOnly), func(t *testing.T) {
			t.Parallel()
			p := testpeer.SSHD(t, opts)
			sess, err := Module{}.Open(context.Background(), target(t, p))
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			tests := []struct {
				user, pass string
				want       model.Status
			}{
				{testpeer.WeakUser, testpeer.WeakPassword, model.StatusSuccess},
				{testpeer.WeakUser, "wrong", model.StatusAuthFailed},
				{testpeer.StrongUser, "admin", model.StatusAuthFailed},
				{"nosuchuser", "admin", model.StatusAuthFailed},
			}
			if opts.PAM {
				tests = tests[:2] // PAM delays each refusal by ~2 s
			}
			for _, tt := range tests {
				r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
				if r.Status != tt.want {
					t.Errorf("%s:%s: status %s (%v, %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
				}
			}
		})
	}
}

// TestSSHSeveralPasswordsPerConnection checks the pending-connection path:
// passwords for one user share a connection until sshd's MaxAuthTries ends it.
func TestSSHSeveralPasswordsPerConnection(t *testing.T) {
	// Not parallel: goleak must see only this test's goroutines.
	p := testpeer.SSHD(t, testpeer.SSHDOptions{MaxAuthTries: 2})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sess, _ := Module{}.Open(context.Background(), target(t, p))
	defer sess.Close()
	// A session closed in the middle of a user's passwords leaves nothing behind.
	if r := sess.Try(context.Background(), login.Credential{Username: "root", Password: "x"}); r.Status != model.StatusAuthFailed {
		t.Errorf("root: %s (%v)", r.Status, r.Err)
	}
	sess.Close()
	for i, pw := range []string{"a1", "a2", "a3", "a4", "a5", testpeer.WeakPassword} {
		want := model.StatusAuthFailed
		if pw == testpeer.WeakPassword {
			want = model.StatusSuccess
		}
		r := sess.Try(context.Background(), login.Credential{Username: testpeer.WeakUser, Password: pw})
		if r.Status != want {
			t.Errorf("try %d %q: %s (%v %q), want %s", i, pw, r.Status, r.Err, r.Evidence, want)
		}
	}
	// A new user after a success starts a new connection.
	r := sess.Try(context.Background(), login.Credential{Username: testpeer.StrongUser, Password: "admin"})
	if r.Status != model.StatusAuthFailed {
		t.Errorf("strong user: %s (%v)", r.Status, r.Err)
	}
}

func TestSSHDropbear(t *testing.T) {
	t.Parallel()
	p := testpeer.Dropbear(t)
	sess, _ := Module{}.Open(context.Background(), target(t, p))
	defer sess.Close()
	for _, tt := range []struct {
		user, pass string
		want       model.Status
	}{
		{testpeer.WeakUser, "wrong", model.StatusAuthFailed},
		{testpeer.WeakUser, testpeer.WeakPassword, model.StatusSuccess},
		{testpeer.StrongUser, "admin", model.StatusAuthFailed},
	} {
		r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
		if r.Status != tt.want {
			t.Errorf("%s:%s: %s (%v %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
		}
	}
}

func TestSSHRefused(t *testing.T) {
	t.Parallel()
	port := testpeer.FreePort(t, "tcp")
	tg := login.Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), Timeout: time.Second}
	sess, _ := Module{}.Open(context.Background(), tg)
	r := sess.Try(context.Background(), login.Credential{Username: "root", Password: "root"})
	if r.Status != model.StatusRefused {
		t.Errorf("status %s (%v), want refused", r.Status, r.Err)
	}
}
