package ssdp

import (
	"context"
	"fmt"
	"net"
	nethttp "net/http"
	"net/netip"
	"testing"
	"time"

	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
)

const desc = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>Archer C7</friendlyName><manufacturer>TP-Link</manufacturer><modelName>Archer C7</modelName>
<modelNumber>5.0</modelNumber><serialNumber>1234</serialNumber><UDN>uuid:x</UDN></device></root>`

func TestProbe(t *testing.T) {
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go nethttp.Serve(hl, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) { fmt.Fprint(w, desc) }))
	addr := probetest.UDPServer(t, func(q []byte) [][]byte {
		if len(q) == 0 {
			return nil
		}
		return [][]byte{fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\nUSN: uuid:x::upnp:rootdevice\r\nSERVER: Linux/3.10 UPnP/1.0 miniupnpd/2.1\r\nLOCATION: http://%s/rootDesc.xml\r\n\r\n", hl.Addr())}
	})
	rec := probetest.Record[*Record](t, probetest.Probe(t, Prober{}, "udp", addr, &probe.Env{Timeout: 2 * time.Second}))
	if rec.Manufacturer != "TP-Link" || rec.ModelName != "Archer C7" || rec.ModelNumber != "5.0" || rec.Server == "" {
		t.Errorf("record = %+v", rec)
	}
}

func TestLocationElsewhereNotFetched(t *testing.T) {
	rec := &Record{Location: "http://192.0.2.1/desc.xml"}
	err := fetchDescription(context.Background(), rec, mustAddr("127.0.0.1"), time.Now().Add(time.Second), 4096)
	if err == nil {
		t.Fatal("fetched a description from another address")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/x\r\n\r\n"), []byte(desc))
	f.Fuzz(func(t *testing.T, reply, d []byte) {
		ParseReply(reply)
		var rec Record
		ParseDescription(d, &rec)
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
