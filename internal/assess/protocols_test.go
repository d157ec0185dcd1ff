package assess

import (
	"net/netip"
	"slices"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/protocol"
)

// tableServices returns one answering service per protocol table row.
func tableServices() []model.Service {
	var out []model.Service
	for i, s := range protocol.All() {
		out = append(out, model.Service{IP: netip.MustParseAddr("127.0.0.1"), Port: uint16(1000 + i),
			Transport: s.Transport(), Protocol: s.Name, Status: model.StatusSuccess})
	}
	return out
}

// TestProtocolSets checks the login and cleartext sets the rules read from
// the protocol table, pinned to the protocols they have always named.
func TestProtocolSets(t *testing.T) {
	v := &view{services: tableServices(), opts: &Options{}}
	var login []string
	for _, s := range v.loginServices() {
		login = append(login, s.Protocol)
	}
	slices.Sort(login)
	if want := []string{"cwmp", "dvrip", "ftp", "http", "https", "mqtt", "mqtts", "onvif", "rtsp", "snmp", "ssh", "telnet", "xmeye"}; !slices.Equal(login, want) {
		t.Errorf("login services %v, want %v", login, want)
	}
	r := cleartextServices(v, Provision{})
	var plainOnes []string
	for _, ref := range r.Refs {
		plainOnes = append(plainOnes, ref.Kind)
	}
	slices.Sort(plainOnes)
	if want := []string{"ftp", "http", "mqtt", "telnet"}; r.Outcome != Fail || !slices.Equal(plainOnes, want) {
		t.Errorf("cleartext services %s %v, want fail %v", r.Outcome, plainOnes, want)
	}
}

func TestCleartextAuthByProtocol(t *testing.T) {
	svc := func(proto string) model.Service {
		return model.Service{IP: netip.MustParseAddr("127.0.0.1"), Port: 1, Protocol: proto, Status: model.StatusSuccess}
	}
	cred := func(proto string) model.CredentialResult {
		return model.CredentialResult{IP: netip.MustParseAddr("127.0.0.1"), Port: 1, Protocol: proto, Kind: model.KindDefaultCredential}
	}
	tests := []struct {
		name  string
		svcs  []model.Service
		creds []model.CredentialResult
		want  string
	}{
		{"telnet answers", []model.Service{svc(model.ProtoTelnet)}, nil, Fail},
		{"ftp answers", []model.Service{svc(model.ProtoFTP)}, nil, Fail},
		{"http without login", []model.Service{svc(model.ProtoHTTP)}, nil, Unknown},
		{"http login accepted", []model.Service{svc(model.ProtoHTTP)}, []model.CredentialResult{cred(model.ProtoHTTP)}, Fail},
		{"mqtt login accepted", []model.Service{svc(model.ProtoMQTT)}, []model.CredentialResult{cred(model.ProtoMQTT)}, Fail},
		{"https login accepted", []model.Service{svc(model.ProtoHTTPS)}, []model.CredentialResult{cred(model.ProtoHTTPS)}, Pass},
		{"ssh and rtsp", []model.Service{svc(model.ProtoSSH), svc(model.ProtoRTSP)}, nil, Pass},
	}
	for _, tt := range tests {
		v := &view{services: tt.svcs, creds: tt.creds, opts: &Options{}}
		if got := cleartextAuth(v, Provision{}); got.Outcome != tt.want {
			t.Errorf("%s: %s (%s), want %s", tt.name, got.Outcome, got.Reason, tt.want)
		}
	}
}
