package snmp

import (
	"encoding/hex"
	"fmt"

	"iotwatch/internal/probe"
)

// SNMPv3 engine discovery (RFC 3414 §4): a GetRequest with an empty user and
// engine ID, which agents answer with a Report carrying their engine ID
// whatever the communities they accept. The engine ID names the
// implementation's enterprise (8072: Net-SNMP).

func berTLV(tag byte, body []byte) []byte {
	n := len(body)
	var hdr []byte
	switch {
	case n < 0x80:
		hdr = []byte{tag, byte(n)}
	case n < 0x100:
		hdr = []byte{tag, 0x81, byte(n)}
	default:
		hdr = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return append(hdr, body...)
}

func berInt(v uint32) []byte {
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	for len(b) > 1 && b[0] == 0 && b[1] < 0x80 {
		b = b[1:]
	}
	if b[0] >= 0x80 {
		b = append([]byte{0}, b...)
	}
	return berTLV(0x02, b)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// DiscoveryRequest encodes an SNMPv3 engine discovery GetRequest.
func DiscoveryRequest(msgID, reqID uint32) []byte {
	header := berTLV(0x30, cat(berInt(msgID), berInt(65507), berTLV(0x04, []byte{0x04}), berInt(3)))
	usm := berTLV(0x30, cat(berTLV(0x04, nil), berInt(0), berInt(0), berTLV(0x04, nil), berTLV(0x04, nil), berTLV(0x04, nil)))
	pdu := berTLV(0xa0, cat(berInt(reqID), berInt(0), berInt(0), berTLV(0x30, nil)))
	scoped := berTLV(0x30, cat(berTLV(0x04, nil), berTLV(0x04, nil), pdu))
	return berTLV(0x30, cat(berInt(3), header, berTLV(0x04, usm), scoped))
}

// readTLV splits one BER element off b.
func readTLV(b []byte) (tag byte, body, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("ber: short: %w", probe.ErrProtocol)
	}
	tag, n, i := b[0], int(b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 2 || len(b) < 2+k {
			return 0, nil, nil, fmt.Errorf("ber: bad length: %w", probe.ErrProtocol)
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		i = 2 + k
	}
	if len(b) < i+n {
		return 0, nil, nil, fmt.Errorf("ber: truncated: %w", probe.ErrProtocol)
	}
	return tag, b[i : i+n], b[i+n:], nil
}

// ParseDiscoveryReply returns the authoritative engine ID from an SNMPv3
// message, or an error when b is not one.
func ParseDiscoveryReply(b []byte) ([]byte, error) {
	tag, msg, _, err := readTLV(b)
	if err != nil || tag != 0x30 {
		return nil, fmt.Errorf("snmpv3: not a message: %w", probe.ErrProtocol)
	}
	tag, ver, msg, err := readTLV(msg)
	if err != nil || tag != 0x02 || len(ver) != 1 || ver[0] != 3 {
		return nil, fmt.Errorf("snmpv3: not version 3: %w", probe.ErrProtocol)
	}
	if _, _, msg, err = readTLV(msg); err != nil { // header data
		return nil, err
	}
	tag, usm, _, err := readTLV(msg)
	if err != nil || tag != 0x04 {
		return nil, fmt.Errorf("snmpv3: no security parameters: %w", probe.ErrProtocol)
	}
	tag, usm, _, err = readTLV(usm)
	if err != nil || tag != 0x30 {
		return nil, fmt.Errorf("snmpv3: bad security parameters: %w", probe.ErrProtocol)
	}
	tag, engine, _, err := readTLV(usm)
	if err != nil || tag != 0x04 {
		return nil, fmt.Errorf("snmpv3: no engine id: %w", probe.ErrProtocol)
	}
	return engine, nil
}

// engineEnterprise returns the IANA enterprise number in an RFC 3411 engine ID.
func engineEnterprise(id []byte) uint32 {
	if len(id) < 5 || id[0]&0x80 == 0 {
		return 0
	}
	return (uint32(id[0])&0x7f)<<24 | uint32(id[1])<<16 | uint32(id[2])<<8 | uint32(id[3])
}

func engineHex(id []byte) string { return hex.EncodeToString(id[:min(len(id), 32)]) }
