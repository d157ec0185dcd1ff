package hostkey

import (
	"encoding/json"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/probe/http"
	"iotwatch/internal/probe/mqtt"
	"iotwatch/internal/probe/ssh"
	"iotwatch/internal/tlsinfo"
)

func TestOf(t *testing.T) {
	rec := &ssh.Record{HostKeyType: "ssh-ed25519", HostKeySHA256: "SHA256:abc"}
	stored, _ := json.Marshal(rec)
	tlsRec := &http.Record{StatusCode: 200, TLS: &tlsinfo.Info{Version: "TLS 1.3", Chain: []tlsinfo.Cert{
		{SHA256: "c0ffee", SPKISHA256: "5bk1", KeyType: "ecdsa", KeyBits: 256}, {SHA256: "ca", SPKISHA256: "ca-key", KeyType: "rsa", KeyBits: 4096}}}}
	tlsStored, _ := json.Marshal(&mqtt.Record{TLS: tlsRec.TLS})
	tlsKey := Key{Kind: KindTLS, Type: "ecdsa-256", Fingerprint: "5bk1", Cert: "c0ffee"}
	tests := []struct {
		name string
		s    model.Service
		want Key
		ok   bool
	}{
		{"probe record", model.Service{Protocol: model.ProtoSSH, Data: rec}, Key{Kind: KindSSH, Type: "ssh-ed25519", Fingerprint: "SHA256:abc"}, true},
		{"stored record", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(stored)}, Key{Kind: KindSSH, Type: "ssh-ed25519", Fingerprint: "SHA256:abc"}, true},
		{"no key", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(`{"banner":"SSH-2.0-x"}`)}, Key{}, false},
		{"broken json", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(`{"host_key_sha256":`)}, Key{}, false},
		{"not ssh", model.Service{Protocol: model.ProtoHTTP, Data: rec}, Key{}, false},
		{"https probe record", model.Service{Protocol: model.ProtoHTTPS, Data: tlsRec}, tlsKey, true},
		{"mqtts stored record", model.Service{Protocol: model.ProtoMQTTS, Data: json.RawMessage(tlsStored)}, tlsKey, true},
		{"mqtts record of old, tls a boolean", model.Service{Protocol: model.ProtoMQTTS, Data: json.RawMessage(`{"connack_code":0,"tls":true}`)}, Key{}, false},
		{"https without a chain", model.Service{Protocol: model.ProtoHTTPS, Data: json.RawMessage(`{"tls":{"version":"TLS 1.3"}}`)}, Key{}, false},
		{"http with tls data is not a TLS service", model.Service{Protocol: model.ProtoHTTP, Data: tlsRec}, Key{}, false},
	}
	for _, tt := range tests {
		got, ok := Of(tt.s)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
