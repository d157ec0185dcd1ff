package mqtt

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
)

func TestMQTTRealPeer(t *testing.T) {
	t.Parallel()
	users := map[string]string{"admin": "admin", "sensor": "Str0ng-Sensor-Pass"}
	for _, anon := range []bool{false, true} {
		t.Run(map[bool]string{false: "password-file", true: "anonymous"}[anon], func(t *testing.T) {
			t.Parallel()
			p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Anonymous: anon, Users: users})
			tg := login.Target{Addr: netip.MustParseAddrPort(p.Addr), Protocol: model.ProtoMQTT, Timeout: 5 * time.Second}
			sess, _ := Module{}.Open(context.Background(), tg)
			defer sess.Close()
			anonWant := model.StatusAuthFailed
			if anon {
				anonWant = model.StatusSuccess
			}
			tests := []struct {
				c    login.Credential
				want model.Status
			}{
				{Anonymous, anonWant},
				{login.Credential{Username: "admin", Password: "admin"}, model.StatusSuccess},
				{login.Credential{Username: "sensor", Password: "admin"}, model.StatusAuthFailed},
				{login.Credential{Username: "root", Password: "root"}, model.StatusAuthFailed},
			}
			if anon {
				tests = tests[:2] // with allow_anonymous, mosquitto 2 still checks given passwords; keep to the clear cases
			}
			for _, tt := range tests {
				r := sess.Try(context.Background(), tt.c)
				if r.Status != tt.want {
					t.Errorf("%+v: status %s (%v, %q), want %s", tt.c, r.Status, r.Err, r.Evidence, tt.want)
				}
				if tt.c == Anonymous && r.Success() && r.Kind != model.KindAnonymousAccess {
					t.Errorf("anonymous success kind %q", r.Kind)
				}
			}
		})
	}
}

func TestConnect(t *testing.T) {
	got := Connect(4, "c", "u", "p", true)
	want := []byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 30, 0, 1, 'c', 0, 1, 'u', 0, 1, 'p'}
	if !bytes.Equal(got, want) {
		t.Errorf("Connect = % x\nwant      % x", got, want)
	}
	got = Connect(4, "c", "u", "", true)
	want = []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 30, 0, 1, 'c', 0, 1, 'u'}
	if !bytes.Equal(got, want) {
		t.Errorf("Connect with empty password = % x\nwant                          % x", got, want)
	}
}

func TestParseConnack(t *testing.T) {
	tests := []struct {
		in      []byte
		code    byte
		wantErr bool
	}{
		{[]byte{0x20, 2, 0, 0}, 0, false},
		{[]byte{0x20, 2, 0, 5}, 5, false},
		{[]byte{0x30, 2, 0, 0}, 0, true},
		{[]byte{0x20}, 0, true},
	}
	for _, tt := range tests {
		code, err := ParseConnack(tt.in)
		if code != tt.code || (err != nil) != tt.wantErr {
			t.Errorf("ParseConnack(% x) = %d, %v", tt.in, code, err)
		}
	}
}

func FuzzParseConnack(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Add([]byte{0x20, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseConnack(b)
	})
}
