package simulate

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	wiresnmp "iotwatch/internal/wire/snmp"
)

// snmpStart is the reference point for sysUpTime.
var snmpStart = time.Now()

type snmpVar struct {
	oid []int
	typ gosnmp.Asn1BER
	val func(s *deviceService) any
}

// systemGroup is the MIB-2 system group every agent serves, in OID order.
var systemGroup = []snmpVar{
	{[]int{1, 3, 6, 1, 2, 1, 1, 1, 0}, gosnmp.OctetString, func(s *deviceService) any { return s.banner() }},
	{[]int{1, 3, 6, 1, 2, 1, 1, 2, 0}, gosnmp.ObjectIdentifier, func(s *deviceService) any {
		if s.sp.SysObjectID != "" {
			return s.sp.SysObjectID
		}
		return ".1.3.6.1.4.1.8072.3.2.10"
	}},
	{[]int{1, 3, 6, 1, 2, 1, 1, 3, 0}, gosnmp.TimeTicks, func(*deviceService) any {
		return uint32(time.Since(snmpStart) / (10 * time.Millisecond))
	}},
	{[]int{1, 3, 6, 1, 2, 1, 1, 4, 0}, gosnmp.OctetString, func(*deviceService) any { return "admin@localhost" }},
	{[]int{1, 3, 6, 1, 2, 1, 1, 5, 0}, gosnmp.OctetString, func(s *deviceService) any { return s.dev.hostname }},
	{[]int{1, 3, 6, 1, 2, 1, 1, 6, 0}, gosnmp.OctetString, func(*deviceService) any { return "" }},
	{[]int{1, 3, 6, 1, 2, 1, 1, 7, 0}, gosnmp.Integer, func(*deviceService) any { return 72 }},
}

func parseOID(s string) ([]int, bool) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 128 {
		return nil, false
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func oidString(o []int) string {
	var b strings.Builder
	for _, n := range o {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// snmpLogger keeps gosnmp quiet when it encodes answers.
var snmpLogger = gosnmp.NewLogger(nil)

// answerSNMP answers an SNMP v1/v2c GET, GETNEXT or GETBULK for the system
// group. Requests with the wrong community, SNMPv3 and other PDUs get no
// answer, as real agents do.
func answerSNMP(s *deviceService, req []byte) []byte {
	pkt, err := wiresnmp.Decode(req)
	if err != nil || pkt.Version == gosnmp.Version3 || pkt.Community != s.cred.Password {
		return nil
	}
	resp := &gosnmp.SnmpPacket{Version: pkt.Version, Community: pkt.Community, PDUType: gosnmp.GetResponse,
		RequestID: pkt.RequestID, Logger: snmpLogger}
	v1 := pkt.Version == gosnmp.Version1
	fail := func(code gosnmp.SNMPError, idx int) {
		resp.Error, resp.ErrorIndex = code, uint8(min(idx, 255))
		resp.Variables = pkt.Variables
	}
	switch pkt.PDUType {
	case gosnmp.GetRequest:
		for i, v := range pkt.Variables {
			oid, _ := parseOID(v.Name)
			j := slices.IndexFunc(systemGroup, func(sv snmpVar) bool { return slices.Equal(sv.oid, oid) })
			if j < 0 {
				if v1 {
					fail(gosnmp.NoSuchName, i+1)
					break
				}
				resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.NoSuchObject})
				continue
			}
			resp.Variables = append(resp.Variables, pdu(systemGroup[j], s))
		}
	case gosnmp.GetNextRequest:
		for i, v := range pkt.Variables {
			oid, _ := parseOID(v.Name)
			next, ok := nextVar(oid)
			if !ok {
				if v1 {
					fail(gosnmp.NoSuchName, i+1)
					break
				}
				resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.EndOfMibView})
				continue
			}
			resp.Variables = append(resp.Variables, pdu(next, s))
		}
	case gosnmp.GetBulkRequest:
		if v1 {
			return nil
		}
		reps := min(int(pkt.MaxRepetitions), len(systemGroup)+1)
		for _, v := range pkt.Variables {
			oid, _ := parseOID(v.Name)
			for range max(reps, 1) {
				next, ok := nextVar(oid)
				if !ok {
					resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: oidString(oid), Type: gosnmp.EndOfMibView})
					break
				}
				resp.Variables = append(resp.Variables, pdu(next, s))
				oid = next.oid
			}
		}
	default:
		return nil
	}
	out, err := resp.MarshalMsg()
	if err != nil {
		return nil
	}
	return out
}

func pdu(v snmpVar, s *deviceService) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oidString(v.oid), Type: v.typ, Value: v.val(s)}
}

// nextVar returns the first system-group variable after oid.
func nextVar(oid []int) (snmpVar, bool) {
	for _, v := range systemGroup {
		if slices.Compare(v.oid, oid) > 0 {
			return v, true
		}
	}
	return snmpVar{}, false
}
