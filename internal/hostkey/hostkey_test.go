package hostkey

import (
	"encoding/json"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/probe/ssh"
)

func TestOf(t *testing.T) {
	rec := &ssh.Record{HostKeyType: "ssh-ed25519", HostKeySHA256: "SHA256:abc"}
	stored, _ := json.Marshal(rec)
	tests := []struct {
		name string
		s    model.Service
		want Key
		ok   bool
	}{
		{"probe record", model.Service{Protocol: model.ProtoSSH, Data: rec}, Key{KindSSH, "ssh-ed25519", "SHA256:abc"}, true},
		{"stored record", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(stored)}, Key{KindSSH, "ssh-ed25519", "SHA256:abc"}, true},
		{"no key", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(`{"banner":"SSH-2.0-x"}`)}, Key{}, false},
		{"broken json", model.Service{Protocol: model.ProtoSSH, Data: json.RawMessage(`{"host_key_sha256":`)}, Key{}, false},
		{"not ssh", model.Service{Protocol: model.ProtoHTTP, Data: rec}, Key{}, false},
	}
	for _, tt := range tests {
		got, ok := Of(tt.s)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
