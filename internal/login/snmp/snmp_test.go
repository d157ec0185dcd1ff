package snmp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/testpeer"
	wiresnmp "iotwatch/internal/wire/snmp"
)

func TestSNMPRealPeer(t *testing.T) {
	t.Parallel()
	p := testpeer.Snmpd(t, "public", "Str0ng-Community-7781")
	tg := login.Target{Addr: netip.MustParseAddrPort(p.Addr), Protocol: model.ProtoSNMP, Timeout: time.Second}
	sess, _ := Module{}.Open(context.Background(), tg)
	defer sess.Close()
	b := sess.(login.BatchSession)
	cs := []login.Credential{{Password: "private"}, {Password: "public"}, {Password: "admin"}, {Password: "Str0ng-Community-7781"}}
	res := b.TryBatch(context.Background(), cs, 0)
	want := []model.Status{model.StatusAuthFailed, model.StatusSuccess, model.StatusAuthFailed, model.StatusSuccess}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("%q: %s (%v %q), want %s", cs[i].Password, r.Status, r.Err, r.Evidence, want[i])
		}
		if r.Success() && r.Kind != model.KindSNMPCommunity {
			t.Errorf("%q: kind %q", cs[i].Password, r.Kind)
		}
	}
	if r := sess.Try(context.Background(), login.Credential{Password: "public"}); !r.Success() {
		t.Errorf("Try(public) = %s %v", r.Status, r.Err)
	}
}

func TestParseResponse(t *testing.T) {
	req, err := wiresnmp.Get(gosnmp.Version2c, "public", 77, wiresnmp.OIDSysDescr)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseResponse(req); err == nil {
		t.Errorf("a GetRequest parsed as a response")
	}
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetResponse, RequestID: 77,
		Variables: []gosnmp.SnmpPDU{{Name: wiresnmp.OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("Linux cam 3.10")}}}
	b, err := resp.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	id, v, err := ParseResponse(b)
	if err != nil || id != 77 || v != "Linux cam 3.10" {
		t.Errorf("ParseResponse = %d, %q, %v", id, v, err)
	}
}
