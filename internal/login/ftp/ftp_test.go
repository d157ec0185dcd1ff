package ftp

import (
	"bufio"
	"context"
	"net/netip"
	"net/textproto"
	"strings"
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

func TestReadResponse(t *testing.T) {
	tests := []struct {
		in      string
		code    int
		msg     string
		wantErr bool
	}{
		{"220 (vsFTPd 3.0.3)\r\n", 220, "(vsFTPd 3.0.3)", false},
		{"230-Welcome\r\n230-more\r\n230 Login successful.\r\n", 230, "Welcome 230-more Login successful.", false},
		{"530 Login incorrect.\r\n", 530, "Login incorrect.", false},
		{"SSH-2.0-OpenSSH\r\n", 0, "", true},
		{"22\r\n", 0, "", true},
		{"", 0, "", true},
	}
	for _, tt := range tests {
		tp := textproto.NewConn(nopRWC{bufio.NewReader(strings.NewReader(tt.in))})
		code, msg, err := ReadResponse(tp)
		if (err != nil) != tt.wantErr || code != tt.code || msg != tt.msg {
			t.Errorf("ReadResponse(%q) = %d, %q, %v; want %d, %q, err=%v", tt.in, code, msg, err, tt.code, tt.msg, tt.wantErr)
		}
	}
}

type nopRWC struct{ *bufio.Reader }

func (nopRWC) Write(b []byte) (int, error) { return len(b), nil }
func (nopRWC) Close() error                { return nil }

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "230-a\r\nb\r\n230 c\r\n", "530-\r\n", "\x00\xff", "999 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp := textproto.NewConn(nopRWC{bufio.NewReader(strings.NewReader(s))})
		code, _, err := ReadResponse(tp)
		if err == nil && (code < 0 || code > 999) {
			t.Fatalf("code %d", code)
		}
	})
}
