// Package bacnet is BACnet/IP (ASHRAE 135, Annex J) as far as identifying a
// device needs it: a ReadProperty request for one property of the device
// object, sent in an Original-Unicast-NPDU to UDP 47808, and the ComplexACK,
// Error, Reject or Abort that answers it. ReadProperty is the only service
// the package encodes and the device object (instance 4194303, "the device
// that receives this") the only object: no WriteProperty, no
// DeviceCommunicationControl, no ReinitializeDevice (see the read-only test
// in internal/wire). nmap's bacnet-info reads the same properties.
package bacnet

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"iotwatch/internal/netx"
)

// Property identifiers of the device object that identify it.
type Property byte

// Device object properties (ASHRAE 135 clause 21).
const (
	PropApplicationSoftwareVersion Property = 12
	PropDescription                Property = 28
	PropFirmwareRevision           Property = 44
	PropLocation                   Property = 58
	PropModelName                  Property = 70
	PropObjectIdentifier           Property = 75
	PropObjectName                 Property = 77
	PropVendorIdentifier           Property = 120
	PropVendorName                 Property = 121
)

// IdentityProperties are the properties a probe reads, in order.
var IdentityProperties = []Property{PropObjectIdentifier, PropVendorName, PropVendorIdentifier, PropModelName, PropFirmwareRevision,
	PropApplicationSoftwareVersion, PropObjectName, PropDescription, PropLocation}

// Service choices and PDU types.
const (
	ServiceReadProperty = 0x0c
	pduConfirmed        = 0x00
	pduComplexACK       = 0x30
	pduError            = 0x50
	pduReject           = 0x60
	pduAbort            = 0x70
	bvlcType            = 0x81
	bvlcUnicast         = 0x0a
	bvlcForwarded       = 0x04
	objectDevice        = 8
	wildcardInstance    = 4194303
)

// ErrNotBACnet marks bytes that are not a BACnet/IP answer.
var ErrNotBACnet = fmt.Errorf("not a BACnet/IP answer: %w", netx.ErrProtocol)

// ReadProperty returns a ReadProperty request for prop of the device object.
func ReadProperty(invoke byte, prop Property) []byte {
	obj := uint32(objectDevice)<<22 | wildcardInstance
	apdu := []byte{pduConfirmed, 0x05, invoke, ServiceReadProperty, 0x0c, 0, 0, 0, 0, 0x19, byte(prop)}
	binary.BigEndian.PutUint32(apdu[5:], obj)
	npdu := append([]byte{0x01, 0x04}, apdu...) // version 1, expecting reply
	b := []byte{bvlcType, bvlcUnicast, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(npdu)))
	return append(b, npdu...)
}

// Answer is a decoded answer to ReadProperty.
type Answer struct {
	Invoke   byte
	Property Property
	// Value is the property's value as text (character strings, unsigned
	// and enumerated values); Err is "class/code" for an Error PDU,
	// "reject N" or "abort N".
	Value string
	Err   string
}

// Request is a decoded ReadProperty request (for the simulator).
type Request struct {
	Invoke   byte
	Property Property
	Instance uint32
}

// npdu strips the BVLC and NPDU headers and returns the APDU.
func npdu(b []byte) ([]byte, error) {
	if len(b) < 6 || b[0] != bvlcType || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return nil, ErrNotBACnet
	}
	switch b[1] {
	case bvlcUnicast:
		b = b[4:]
	case bvlcForwarded:
		if len(b) < 10 {
			return nil, ErrNotBACnet
		}
		b = b[10:]
	default:
		return nil, fmt.Errorf("bacnet: BVLC function %#x: %w", b[1], ErrNotBACnet)
	}
	if len(b) < 2 || b[0] != 0x01 {
		return nil, fmt.Errorf("bacnet: NPDU version: %w", ErrNotBACnet)
	}
	ctl := b[1]
	b = b[2:]
	if ctl&0x80 != 0 {
		return nil, fmt.Errorf("bacnet: network-layer message: %w", ErrNotBACnet)
	}
	skip := func() error {
		if len(b) < 3 {
			return ErrNotBACnet
		}
		n := 3 + int(b[2])
		if len(b) < n {
			return ErrNotBACnet
		}
		b = b[n:]
		return nil
	}
	if ctl&0x20 != 0 { // destination
		if err := skip(); err != nil {
			return nil, err
		}
	}
	if ctl&0x08 != 0 { // source
		if err := skip(); err != nil {
			return nil, err
		}
	}
	if ctl&0x20 != 0 { // hop count
		if len(b) < 1 {
			return nil, ErrNotBACnet
		}
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, ErrNotBACnet
	}
	return b, nil
}

// tag is one decoded BACnet tag header.
type tag struct {
	num     byte
	context bool
	open    bool
	close   bool
	length  int // content length (or the value for booleans)
}

// readTag decodes the tag at b and returns it with the header length.
func readTag(b []byte) (tag, int, error) {
	if len(b) == 0 {
		return tag{}, 0, ErrNotBACnet
	}
	t := tag{num: b[0] >> 4, context: b[0]&0x08 != 0}
	n := 1
	if t.num == 0x0f {
		if len(b) < 2 {
			return tag{}, 0, ErrNotBACnet
		}
		t.num, n = b[1], 2
	}
	lv := int(b[0] & 0x07)
	switch {
	case t.context && lv == 6:
		t.open = true
		return t, n, nil
	case t.context && lv == 7:
		t.close = true
		return t, n, nil
	case lv == 5:
		if len(b) < n+1 {
			return tag{}, 0, ErrNotBACnet
		}
		lv = int(b[n])
		n++
		switch lv {
		case 254:
			if len(b) < n+2 {
				return tag{}, 0, ErrNotBACnet
			}
			lv = int(binary.BigEndian.Uint16(b[n:]))
			n += 2
		case 255:
			return tag{}, 0, fmt.Errorf("bacnet: 32-bit tag length: %w", ErrNotBACnet)
		}
	}
	t.length = lv
	return t, n, nil
}

// ParseAnswer decodes a datagram answering ReadProperty.
func ParseAnswer(b []byte) (*Answer, error) {
	apdu, err := npdu(b)
	if err != nil {
		return nil, err
	}
	switch apdu[0] & 0xf0 {
	case pduComplexACK:
		if apdu[0]&0x08 != 0 {
			return nil, fmt.Errorf("bacnet: segmented answer: %w", ErrNotBACnet)
		}
		if len(apdu) < 3 || apdu[2] != ServiceReadProperty {
			return nil, ErrNotBACnet
		}
		a := &Answer{Invoke: apdu[1]}
		return a, a.parseACK(apdu[3:])
	case pduError:
		if len(apdu) < 3 {
			return nil, ErrNotBACnet
		}
		a := &Answer{Invoke: apdu[1]}
		rest := apdu[3:]
		var vals []uint32
		for range 2 {
			t, n, err := readTag(rest)
			if err != nil || t.context || len(rest) < n+t.length || t.length > 4 {
				return nil, ErrNotBACnet
			}
			vals = append(vals, beUint(rest[n:n+t.length]))
			rest = rest[n+t.length:]
		}
		a.Err = fmt.Sprintf("error class %d code %d", vals[0], vals[1])
		return a, nil
	case pduReject, pduAbort:
		if len(apdu) < 3 {
			return nil, ErrNotBACnet
		}
		kind := "reject"
		if apdu[0]&0xf0 == pduAbort {
			kind = "abort"
		}
		return &Answer{Invoke: apdu[1], Err: fmt.Sprintf("%s reason %d", kind, apdu[2])}, nil
	}
	return nil, fmt.Errorf("bacnet: PDU type %#x: %w", apdu[0]>>4, ErrNotBACnet)
}

func (a *Answer) parseACK(b []byte) error {
	// [0] object identifier, [1] property identifier, ([2] index), [3] { value }.
	t, n, err := readTag(b)
	if err != nil || !t.context || t.num != 0 || t.length != 4 || len(b) < n+4 {
		return ErrNotBACnet
	}
	b = b[n+4:]
	t, n, err = readTag(b)
	if err != nil || !t.context || t.num != 1 || t.length < 1 || t.length > 4 || len(b) < n+t.length {
		return ErrNotBACnet
	}
	a.Property = Property(beUint(b[n : n+t.length]))
	b = b[n+t.length:]
	t, n, err = readTag(b)
	if err == nil && t.context && t.num == 2 && !t.open {
		if len(b) < n+t.length {
			return ErrNotBACnet
		}
		b = b[n+t.length:]
		t, n, err = readTag(b)
	}
	if err != nil || !t.open || t.num != 3 {
		return ErrNotBACnet
	}
	b = b[n:]
	t, n, err = readTag(b)
	if err != nil || t.context || len(b) < n+t.length {
		return ErrNotBACnet
	}
	v := b[n : n+t.length]
	switch t.num {
	case 7: // character string: first byte is the character set
		if len(v) == 0 {
			return ErrNotBACnet
		}
		s := v[1:]
		if v[0] != 0 || !utf8.Valid(s) {
			s = []byte(fmt.Sprintf("charset %d: %x", v[0], s))
		}
		a.Value = string(s)
	case 12: // object identifier: type and instance
		if len(v) != 4 {
			return ErrNotBACnet
		}
		id := binary.BigEndian.Uint32(v)
		a.Value = fmt.Sprintf("%d:%d", id>>22, id&0x3fffff)
	case 2, 9: // unsigned, enumerated
		if len(v) > 4 {
			return ErrNotBACnet
		}
		a.Value = fmt.Sprint(beUint(v))
	default:
		a.Value = fmt.Sprintf("tag %d: %x", t.num, v)
	}
	return nil
}

func beUint(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

// ParseRequest decodes a ReadProperty request (for the simulator).
func ParseRequest(b []byte) (*Request, error) {
	apdu, err := npdu(b)
	if err != nil {
		return nil, err
	}
	if len(apdu) < 11 || apdu[0]&0xf0 != pduConfirmed || apdu[3] != ServiceReadProperty || apdu[4] != 0x0c || apdu[9] != 0x19 {
		return nil, fmt.Errorf("bacnet: not a ReadProperty request: %w", ErrNotBACnet)
	}
	obj := binary.BigEndian.Uint32(apdu[5:])
	if obj>>22 != objectDevice {
		return nil, fmt.Errorf("bacnet: object type %d: %w", obj>>22, ErrNotBACnet)
	}
	return &Request{Invoke: apdu[2], Property: Property(apdu[10]), Instance: obj & 0x3fffff}, nil
}

// ACK builds the ComplexACK for a device object property: a character
// string for text, an unsigned for a number (for tests and the simulator).
func ACK(invoke byte, instance uint32, prop Property, text string, number uint32, isNumber bool) []byte {
	apdu := []byte{pduComplexACK, invoke, ServiceReadProperty, 0x0c, 0, 0, 0, 0, 0x19, byte(prop), 0x3e}
	binary.BigEndian.PutUint32(apdu[4:], uint32(objectDevice)<<22|instance&0x3fffff)
	if isNumber {
		apdu = append(apdu, 0x24)
		apdu = binary.BigEndian.AppendUint32(apdu, number)
	} else {
		n := len(text) + 1
		if n <= 4 {
			apdu = append(apdu, 0x70|byte(n))
		} else if n < 254 {
			apdu = append(apdu, 0x75, byte(n))
		} else {
			apdu = append(apdu, 0x75, 254, byte(n>>8), byte(n))
		}
		apdu = append(append(apdu, 0), text...)
	}
	apdu = append(apdu, 0x3f)
	return frame(apdu)
}

// ObjectIDACK builds the ComplexACK for the device's object-identifier
// (for the simulator).
func ObjectIDACK(invoke byte, instance uint32) []byte {
	id := uint32(objectDevice)<<22 | instance&0x3fffff
	apdu := []byte{pduComplexACK, invoke, ServiceReadProperty, 0x0c, 0, 0, 0, 0, 0x19, byte(PropObjectIdentifier), 0x3e, 0xc4, 0, 0, 0, 0, 0x3f}
	binary.BigEndian.PutUint32(apdu[4:], id)
	binary.BigEndian.PutUint32(apdu[12:], id)
	return frame(apdu)
}

// ErrorPDU builds an Error answer (class, code) for the simulator: class 2
// (property), code 32 (unknown-property).
func ErrorPDU(invoke byte, class, code byte) []byte {
	return frame([]byte{pduError, invoke, ServiceReadProperty, 0x91, class, 0x91, code})
}

func frame(apdu []byte) []byte {
	npdu := append([]byte{0x01, 0x00}, apdu...)
	b := []byte{bvlcType, bvlcUnicast, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(npdu)))
	return append(b, npdu...)
}
