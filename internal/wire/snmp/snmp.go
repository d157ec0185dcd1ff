// Package snmp is the SNMP v1/v2c message codec shared by the prober, the
// login module and the simulated agents: the system-group OIDs, encoding a
// GET, and decoding a message from the network without ever panicking.
// Messages are encoded and decoded by github.com/gosnmp/gosnmp; this package
// keeps its decoder's panics and errors inside netx.ErrProtocol.
package snmp

import (
	"fmt"

	"github.com/gosnmp/gosnmp"

	"iotwatch/internal/netx"
)

// System group OIDs (RFC 3418).
const (
	OIDSysDescr    = ".1.3.6.1.2.1.1.1.0"
	OIDSysObjectID = ".1.3.6.1.2.1.1.2.0"
	OIDSysUpTime   = ".1.3.6.1.2.1.1.3.0"
	OIDSysContact  = ".1.3.6.1.2.1.1.4.0"
	OIDSysName     = ".1.3.6.1.2.1.1.5.0"
	OIDSysLocation = ".1.3.6.1.2.1.1.6.0"
)

// Get encodes a GetRequest for oids.
func Get(v gosnmp.SnmpVersion, community string, id uint32, oids ...string) ([]byte, error) {
	pkt := &gosnmp.SnmpPacket{Version: v, Community: community, PDUType: gosnmp.GetRequest, RequestID: id}
	for _, o := range oids {
		pkt.Variables = append(pkt.Variables, gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null})
	}
	b, err := pkt.MarshalMsg()
	if err != nil {
		return nil, fmt.Errorf("snmp encode: %w", err)
	}
	return b, nil
}

// decoder decodes without logging (gosnmp logs through the GoSNMP value).
var decoder = &gosnmp.GoSNMP{Version: gosnmp.Version2c, Logger: gosnmp.NewLogger(nil)}

// Decode decodes one message of any PDU type. An undecodable message (or one
// the decoder panics on) is a netx.ErrProtocol.
func Decode(b []byte) (pkt *gosnmp.SnmpPacket, err error) {
	defer func() {
		if r := recover(); r != nil { // the decoder must never take a scanner or an agent down
			pkt, err = nil, fmt.Errorf("snmp decode panic: %v: %w", r, netx.ErrProtocol)
		}
	}()
	pkt, err = decoder.SnmpDecodePacket(b)
	if err != nil {
		return nil, fmt.Errorf("snmp decode: %w: %w", netx.ErrProtocol, err)
	}
	return pkt, nil
}

// DecodeResponse decodes a GetResponse; any other PDU is a netx.ErrProtocol.
func DecodeResponse(b []byte) (*gosnmp.SnmpPacket, error) {
	pkt, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if pkt.PDUType != gosnmp.GetResponse {
		return nil, fmt.Errorf("snmp: PDU type %v: %w", pkt.PDUType, netx.ErrProtocol)
	}
	return pkt, nil
}
