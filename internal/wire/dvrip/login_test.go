package dvrip

import (
	"bytes"
	"errors"
	"testing"
)

func TestHash(t *testing.T) {
	// The Dahua hash of "admin" published with the 2013 disclosure
	// (securityfocus 529799) and John the Ripper's dahua format.
	if got := Hash("admin"); got != "6QNMIQGe" {
		t.Errorf("Hash(admin) = %q, want 6QNMIQGe", got)
	}
}

func TestLoginExchange(t *testing.T) {
	c := Challenge{Realm: "Login to 4K02A5BPAG00104", Random: "1194960571"}
	req := ChallengeRequest()
	if !IsChallengeRequest(req) || IsLoginRequest(req) || len(req) != HeaderLen || !bytes.Equal(req[24:], trailerChallenge) {
		t.Fatalf("challenge request % x", req)
	}
	h, data, err := ReadMessage(bytes.NewReader(ChallengeReply(c)), CmdReply)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseChallenge(data)
	if err != nil || got != c {
		t.Fatalf("challenge %+v %v (header % x)", got, err, h.Raw[:8])
	}
	login := LoginRequest("admin", "admin", got)
	if !IsLoginRequest(login) {
		t.Fatalf("login request % x", login[:32])
	}
	lh, ldata, err := ReadMessage(bytes.NewReader(login), CmdLogin)
	if err != nil || int(lh.DataLen) != len(ldata) || !bytes.HasPrefix(ldata, []byte("admin&&")) || len(ldata) != len("admin&&")+64 {
		t.Fatalf("login data %q %v", ldata, err)
	}
	for _, tt := range []struct {
		user, pass string
		want       uint16
	}{
		{"admin", "admin", ResultOK},
		{"admin", "wrong", ResultBadPassword},
		{"888888", "888888", ResultNoSuchUser},
	} {
		data := []byte(LoginHash(tt.user, tt.pass, c))
		if code := CheckLogin(data, "admin", "admin", c); code != tt.want {
			t.Errorf("%s/%s: %s, want %s", tt.user, tt.pass, ResultText(code), ResultText(tt.want))
		}
	}
	// A hash made under another challenge is refused: the random number
	// is in both digests.
	if code := CheckLogin([]byte(LoginHash("admin", "admin", Challenge{Realm: c.Realm, Random: "1"})), "admin", "admin", c); code != ResultBadPassword {
		t.Errorf("replayed hash: %s", ResultText(code))
	}
	rh, _, err := ReadMessage(bytes.NewReader(LoginResult(LoginReply{Code: ResultBadPassword, Left: 4})), CmdReply)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseLoginReply(rh)
	if err != nil || r.Code != ResultBadPassword || r.Left != 4 {
		t.Errorf("login reply %+v %v", r, err)
	}
	// The identification answer is not a log-in result.
	ah, _, _ := ReadMessage(bytes.NewReader(Answer(nil)), CmdAnswer)
	if _, err := ParseLoginReply(ah); !errors.Is(err, ErrNotDVRIP) {
		t.Errorf("answer taken for a log-in result: %v", err)
	}
	if _, err := ParseChallenge([]byte("Realm:x\r\n\r\n")); !errors.Is(err, ErrNotDVRIP) {
		t.Errorf("challenge without random: %v", err)
	}
}

func FuzzLoginReplies(f *testing.F) {
	f.Add(ChallengeReply(Challenge{Realm: "Login to X", Random: "42"}))
	f.Add(LoginResult(LoginReply{Code: ResultOK, Session: 7}))
	f.Add(Answer([]byte("x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := ReadMessage(bytes.NewReader(b), CmdReply)
		if err != nil {
			return
		}
		if int(h.DataLen) != len(data) || len(data) > MaxData {
			t.Fatalf("accepted %+v with %d bytes", h, len(data))
		}
		if c, err := ParseChallenge(data); err == nil && (c.Realm == "" || c.Random == "") {
			t.Fatalf("empty challenge accepted: %+v", c)
		}
		_, _ = ParseLoginReply(h)
	})
}
