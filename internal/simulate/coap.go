package simulate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// CoAP message types and codes (RFC 7252).
const (
	coapCON = 0
	coapNON = 1
	coapACK = 2
	coapRST = 3

	coapGET         = 0x01
	coapContent     = 0x45 // 2.05
	coapNotFound    = 0x84 // 4.04
	coapBadMethod   = 0x85 // 4.05
	coapBadRequest  = 0x80 // 4.00
	coapOptUriPath  = 11
	coapOptCFormat  = 12
	coapLinkFormat  = 40
	coapTextPlain   = 0
	coapPayloadMark = 0xFF
)

// coapMessage is a parsed CoAP message (the parts the simulator needs).
type coapMessage struct {
	Type    byte
	Code    byte
	ID      uint16
	Token   []byte
	Path    []string
	Payload []byte
}

var errCoAP = errors.New("malformed coap message")

// parseCoAP parses a CoAP message over UDP.
func parseCoAP(b []byte) (*coapMessage, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: short header", errCoAP)
	}
	if b[0]>>6 != 1 {
		return nil, fmt.Errorf("%w: version %d", errCoAP, b[0]>>6)
	}
	tkl := int(b[0] & 0x0f)
	if tkl > 8 || len(b) < 4+tkl {
		return nil, fmt.Errorf("%w: token length %d", errCoAP, tkl)
	}
	m := &coapMessage{Type: (b[0] >> 4) & 3, Code: b[1], ID: binary.BigEndian.Uint16(b[2:4]), Token: b[4 : 4+tkl]}
	rest := b[4+tkl:]
	opt := 0
	for len(rest) > 0 {
		if rest[0] == coapPayloadMark {
			if len(rest) == 1 {
				return nil, fmt.Errorf("%w: empty payload after marker", errCoAP)
			}
			m.Payload = rest[1:]
			break
		}
		delta, length := int(rest[0]>>4), int(rest[0]&0x0f)
		rest = rest[1:]
		var err error
		if delta, rest, err = coapExt(delta, rest); err != nil {
			return nil, err
		}
		if length, rest, err = coapExt(length, rest); err != nil {
			return nil, err
		}
		if length > len(rest) {
			return nil, fmt.Errorf("%w: option length %d", errCoAP, length)
		}
		opt += delta
		if opt == coapOptUriPath {
			if len(m.Path) >= 16 {
				return nil, fmt.Errorf("%w: too many path segments", errCoAP)
			}
			m.Path = append(m.Path, string(rest[:length]))
		}
		rest = rest[length:]
	}
	return m, nil
}

// coapExt decodes the extended option delta/length nibble encoding.
func coapExt(v int, b []byte) (int, []byte, error) {
	switch v {
	case 13:
		if len(b) < 1 {
			return 0, nil, fmt.Errorf("%w: truncated option", errCoAP)
		}
		return int(b[0]) + 13, b[1:], nil
	case 14:
		if len(b) < 2 {
			return 0, nil, fmt.Errorf("%w: truncated option", errCoAP)
		}
		return int(binary.BigEndian.Uint16(b)) + 269, b[2:], nil
	case 15:
		return 0, nil, fmt.Errorf("%w: reserved option nibble", errCoAP)
	}
	return v, b, nil
}

// answerCoAP serves GET /.well-known/core (link format) and the resources it lists.
func answerCoAP(s *deviceService, req []byte) []byte {
	m, err := parseCoAP(req)
	if err != nil || m.Type == coapACK || m.Type == coapRST {
		return nil
	}
	if m.Code == 0 { // empty message: CoAP ping
		if m.Type == coapCON {
			return coapEncode(coapRST, 0, m.ID, nil, -1, nil)
		}
		return nil
	}
	if m.Code>>5 != 0 { // a response, not a request
		return nil
	}
	typ := byte(coapACK)
	if m.Type == coapNON {
		typ = coapNON
	}
	if m.Code != coapGET {
		return coapEncode(typ, coapBadMethod, m.ID, m.Token, -1, nil)
	}
	d := s.dev
	p := d.prof
	switch strings.Join(m.Path, "/") {
	case ".well-known/core":
		links := fmt.Sprintf(`</.well-known/core>;ct=40,</device>;rt="%s";title="%s %s";ct=0,</firmware>;rt="firmware";ct=0,</status>;rt="status";obs;ct=0`,
			p.DeviceType, p.Vendor, p.Model)
		return coapEncode(typ, coapContent, m.ID, m.Token, coapLinkFormat, []byte(links))
	case "device":
		return coapEncode(typ, coapContent, m.ID, m.Token, coapTextPlain, []byte(p.Vendor+" "+p.Model+" "+d.serial))
	case "firmware":
		return coapEncode(typ, coapContent, m.ID, m.Token, coapTextPlain, []byte(p.Firmware))
	case "status":
		return coapEncode(typ, coapContent, m.ID, m.Token, coapTextPlain, []byte("on"))
	}
	return coapEncode(typ, coapNotFound, m.ID, m.Token, -1, nil)
}

// coapEncode builds a message with an optional Content-Format (cf >= 0).
func coapEncode(typ, code byte, id uint16, token []byte, cf int, payload []byte) []byte {
	b := make([]byte, 0, 8+len(token)+len(payload))
	b = append(b, 1<<6|typ<<4|byte(len(token)), code, byte(id>>8), byte(id))
	b = append(b, token...)
	if cf >= 0 {
		if cf == 0 {
			b = append(b, coapOptCFormat<<4) // zero-length uint is 0
		} else {
			b = append(b, coapOptCFormat<<4|1, byte(cf))
		}
	}
	if len(payload) > 0 {
		b = append(b, coapPayloadMark)
		b = append(b, payload...)
	}
	return b
}
