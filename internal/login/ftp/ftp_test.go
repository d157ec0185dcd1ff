package ftp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func TestFTPRealPeer(t *testing.T) {
	t.Parallel()
	for _, anon := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-anonymous", true: "anonymous"}[anon], func(t *testing.T) {
			t.Parallel()
			p := testpeer.Vsftpd(t, testpeer.VsftpdOptions{Anonymous: anon})
			tg := login.Target{Addr: netip.MustParseAddrPort(p.Addr), Protocol: model.ProtoFTP, Timeout: 10 * time.Second}
			sess, _ := Module{}.Open(context.Background(), tg)
			defer sess.Close()
			anonWant := model.StatusAuthFailed
			if anon {
				anonWant = model.StatusSuccess
			}
			tests := []struct {
				user, pass string
				want       model.Status
				kind       string
			}{
				{"anonymous", "x@example.invalid", anonWant, model.KindAnonymousAccess},
				{testpeer.StrongUser, "admin", model.StatusAuthFailed, ""},
				{testpeer.WeakUser, testpeer.WeakPassword, model.StatusSuccess, ""},
			}
			for _, tt := range tests {
				r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
				if r.Status != tt.want {
					t.Errorf("%s:%s: status %s (%v, %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
				}
				if r.Success() && r.Kind != tt.kind {
					t.Errorf("%s: kind %q, want %q", tt.user, r.Kind, tt.kind)
				}
			}
		})
	}
}
