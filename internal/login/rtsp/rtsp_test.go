package rtsp

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"iotwatch/internal/login"
	"iotwatch/internal/login/logintest"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/httpauth"
)

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

// camera is a minimal RTSP server: DESCRIBE with Digest (or no) auth.
func camera(t *testing.T, user, pass string, open bool) login.Target {
	t.Helper()
	const realm, nonce = "IP Camera(C6269)", "4e6f6e6365"
	tg := logintest.Serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		reqLine, _ := r.ReadString('\n')
		var authz, cseq string
		for {
			l, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(l) == "" {
				break
			}
			k, v, _ := strings.Cut(l, ":")
			switch strings.ToLower(k) {
			case "authorization":
				authz = strings.TrimSpace(v)
			case "cseq":
				cseq = strings.TrimSpace(v)
			}
		}
		uri := strings.Fields(reqLine)[1]
		ok := open
		if cs := httpauth.ParseChallenges([]string{authz}); len(cs) == 1 && cs[0].Scheme == "digest" {
			p := cs[0].Params
			ha1 := md5hex(user + ":" + realm + ":" + pass)
			want := md5hex(ha1 + ":" + nonce + ":" + md5hex("DESCRIBE:"+uri))
			ok = p["username"] == user && p["response"] == want && p["uri"] == uri
		}
		if ok {
			fmt.Fprintf(c, "RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n", cseq)
			return
		}
		fmt.Fprintf(c, "RTSP/1.0 401 Unauthorized\r\nCSeq: %s\r\nWWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\"\r\n\r\n", cseq, realm, nonce)
	})
	tg.Protocol = model.ProtoRTSP
	return tg
}

func TestRTSPDigest(t *testing.T) {
	t.Parallel()
	tg := camera(t, "admin", "12345", false)
	sess, err := Module{}.Open(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user, pass string
		want       model.Status
	}{
		{"admin", "admin", model.StatusAuthFailed},
		{"admin", "12345", model.StatusSuccess},
		{"root", "12345", model.StatusAuthFailed},
	} {
		r := sess.Try(context.Background(), login.Credential{Username: tt.user, Password: tt.pass})
		if r.Status != tt.want {
			t.Errorf("%s:%s: %s (%v %q), want %s", tt.user, tt.pass, r.Status, r.Err, r.Evidence, tt.want)
		}
	}
}

func TestRTSPOpen(t *testing.T) {
	t.Parallel()
	tg := camera(t, "", "", true)
	if _, err := (Module{}).Open(context.Background(), tg); !errors.Is(err, login.ErrNoAuth) {
		t.Errorf("Open on an open stream: %v, want ErrNoAuth", err)
	}
}
