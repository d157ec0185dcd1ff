package snmp

import (
	"errors"
	"testing"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/netx"
)

func TestGetAndDecode(t *testing.T) {
	req, err := Get(gosnmp.Version2c, "public", 77, OIDSysDescr, OIDSysName)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := Decode(req)
	if err != nil || pkt.PDUType != gosnmp.GetRequest || pkt.Community != "public" || pkt.RequestID != 77 || len(pkt.Variables) != 2 {
		t.Fatalf("Decode(Get) = %+v, %v", pkt, err)
	}
	if _, err := DecodeResponse(req); !errors.Is(err, netx.ErrProtocol) {
		t.Errorf("a GetRequest decoded as a response: %v", err)
	}
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version1, Community: "public", PDUType: gosnmp.GetResponse, RequestID: 77,
		Variables: []gosnmp.SnmpPDU{{Name: OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("Linux cam 3.10")}}}
	b, err := resp.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	pkt, err = DecodeResponse(b)
	if err != nil || pkt.RequestID != 77 || len(pkt.Variables) != 1 || string(pkt.Variables[0].Value.([]byte)) != "Linux cam 3.10" {
		t.Errorf("DecodeResponse = %+v, %v", pkt, err)
	}
	for _, bad := range [][]byte{{}, {0x30, 0x03, 0x02, 0x01}, []byte("GET / HTTP/1.1\r\n")} {
		if _, err := Decode(bad); !errors.Is(err, netx.ErrProtocol) {
			t.Errorf("Decode(% x) = %v, want a protocol error", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	req, _ := Get(gosnmp.Version2c, "public", 7, OIDSysDescr)
	f.Add(req)
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version1, Community: "public", PDUType: gosnmp.GetResponse, RequestID: 9,
		Variables: []gosnmp.SnmpPDU{{Name: OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("Linux cam 3.10")}}}
	b, _ := resp.MarshalMsg()
	f.Add(b)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		pkt, err := Decode(b)
		if err == nil && pkt == nil {
			t.Fatal("no packet and no error")
		}
		_, _ = DecodeResponse(b)
	})
}
