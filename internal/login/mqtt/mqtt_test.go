package mqtt

import (
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

// TestMQTTSRealPeer: the same judgement over TLS (a self-signed broker
// certificate, as devices have).
func TestMQTTSRealPeer(t *testing.T) {
	t.Parallel()
	cert, key := testpeer.SelfSigned(t, "broker.test")
	p := testpeer.Mosquitto(t, testpeer.MosquittoOptions{Users: map[string]string{"admin": "admin"}, CertPEM: cert, KeyPEM: key})
	tg := login.Target{Addr: netip.MustParseAddrPort(p.Addr), Protocol: model.ProtoMQTTS, Timeout: 5 * time.Second}
	sess, _ := Module{}.Open(context.Background(), tg)
	defer sess.Close()
	tests := []struct {
		c    login.Credential
		want model.Status
	}{
		{Anonymous, model.StatusAuthFailed},
		{login.Credential{Username: "admin", Password: "admin"}, model.StatusSuccess},
		{login.Credential{Username: "admin", Password: "wrong"}, model.StatusAuthFailed},
	}
	for _, tt := range tests {
		if r := sess.Try(context.Background(), tt.c); r.Status != tt.want {
			t.Errorf("%+v over TLS: status %s (%v, %q), want %s", tt.c, r.Status, r.Err, r.Evidence, tt.want)
		}
	}
	// Without TLS the broker's listener does not answer MQTT.
	tg.Protocol = model.ProtoMQTT
	sess, _ = Module{}.Open(context.Background(), tg)
	if r := sess.Try(context.Background(), login.Credential{Username: "admin", Password: "admin"}); r.Success() {
		t.Errorf("plain MQTT on a TLS listener: %s (%q), want no success", r.Status, r.Evidence)
	}
}
