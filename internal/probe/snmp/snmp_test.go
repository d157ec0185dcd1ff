package snmp

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
	wiresnmp "iotwatch/internal/wire/snmp"
)

func TestProbeSnmpd(t *testing.T) {
	p := testpeer.Snmpd(t)
	tests := []struct {
		comms []string
		want  model.Status
	}{
		{nil, model.StatusSuccess},
		{[]string{"wrong"}, model.StatusSuccess}, // found through SNMPv3 engine discovery
	}
	for _, tt := range tests {
		res := probetest.Probe(t, Prober{Communities: tt.comms}, "udp", p.Addr, &probe.Env{Timeout: 2 * time.Second})
		if res.Status != tt.want {
			t.Fatalf("communities %v: status %v (%v), want %v", tt.comms, res.Status, res.Err, tt.want)
		}
		if tt.want != model.StatusSuccess {
			continue
		}
		rec := res.Data.(*Record)
		if tt.comms != nil && rec.EngineEnterprise != 8072 {
			t.Errorf("communities %v: engine enterprise %d, want 8072 (Net-SNMP)", tt.comms, rec.EngineEnterprise)
		}
		if tt.comms != nil {
			if rec.Version != "v3" || rec.SysDescr != "" {
				t.Errorf("wrong community: record %+v, want v3 discovery only", rec)
			}
			continue
		}
		if rec.SysDescr != "iotwatch test agent" || rec.SysObjectID != ".1.3.6.1.4.1.8072.3.2.10" || rec.Community != "pu***" {
			t.Errorf("record = %+v", rec)
		}
	}
}

func TestProbeClosedPort(t *testing.T) {
	port := testpeer.FreePort(t, "udp")
	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := Prober{}.Probe(context.Background(), conn, &probe.Env{Timeout: time.Second})
	if res.Status != model.StatusRefused {
		t.Errorf("status = %v (%v), want refused (ICMP port unreachable)", res.Status, res.Err)
	}
}

func FuzzDecode(f *testing.F) {
	req, _ := wiresnmp.Get(gosnmp.Version2c, "public", 7, OIDSysDescr)
	f.Add(req)
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version1, Community: "public", PDUType: gosnmp.GetResponse, RequestID: 9,
		Variables: []gosnmp.SnmpPDU{{Name: OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("Linux cam 3.10")}}}
	b, _ := resp.MarshalMsg()
	f.Add(b)
	f.Add(DiscoveryRequest(1, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(b)
		if id, err := ParseDiscoveryReply(b); err == nil {
			engineEnterprise(id)
		}
	})
}
