package simulate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

const (
	mbReadHolding   = 0x03
	mbReadInput     = 0x04
	mbEncapsulated  = 0x2B
	mbReadDeviceID  = 0x0E
	mbExIllegalFunc = 0x01
	mbExIllegalAddr = 0x02
	mbExIllegalData = 0x03
)

var errModbus = errors.New("malformed modbus frame")

// modbusFrame is one Modbus/TCP ADU.
type modbusFrame struct {
	TID  uint16
	Unit byte
	PDU  []byte // function code and data
}

// readModbusFrame reads one MBAP header and PDU.
func readModbusFrame(r io.Reader) (*modbusFrame, error) {
	var h [7]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if pid := binary.BigEndian.Uint16(h[2:4]); pid != 0 {
		return nil, fmt.Errorf("%w: protocol id %d", errModbus, pid)
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	if n < 2 || n > 254 {
		return nil, fmt.Errorf("%w: length %d", errModbus, n)
	}
	pdu := make([]byte, n-1)
	if _, err := io.ReadFull(r, pdu); err != nil {
		return nil, err
	}
	return &modbusFrame{TID: binary.BigEndian.Uint16(h[0:2]), Unit: h[6], PDU: pdu}, nil
}

func (f *modbusFrame) encode(pdu []byte) []byte {
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:2], f.TID)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(pdu)+1))
	b[6] = f.Unit
	return append(b, pdu...)
}

// modbusObjects are the device identification objects 0..5.
func modbusObjects(s *deviceService) [][]byte {
	p := s.dev.prof
	code := p.Model
	if i := strings.LastIndexByte(code, ' '); i >= 0 {
		code = code[i+1:]
	}
	return [][]byte{
		[]byte(p.Vendor), []byte(code), []byte(p.Firmware),
		[]byte("http://www." + strings.ToLower(strings.ReplaceAll(p.Vendor, " ", "")) + ".com"),
		[]byte(p.Vendor + " " + p.Model), []byte(p.Model),
	}
}

// answerModbus answers one request PDU: read device identification
// (0x2B/0x0E, codes 1, 2, 3 and 4), read holding/input registers (zeros),
// and exception 01 for every other function.
func answerModbus(s *deviceService, pdu []byte) []byte {
	if len(pdu) == 0 {
		return nil
	}
	fc := pdu[0]
	exc := func(code byte) []byte { return []byte{fc | 0x80, code} }
	switch fc {
	case mbReadHolding, mbReadInput:
		if len(pdu) != 5 {
			return exc(mbExIllegalData)
		}
		qty := int(binary.BigEndian.Uint16(pdu[3:5]))
		if qty < 1 || qty > 125 {
			return exc(mbExIllegalData)
		}
		out := make([]byte, 2+2*qty)
		out[0], out[1] = fc, byte(2*qty)
		return out
	case mbEncapsulated:
		if len(pdu) != 4 || pdu[1] != mbReadDeviceID {
			return exc(mbExIllegalData)
		}
		code, obj := pdu[2], int(pdu[3])
		objs := modbusObjects(s)
		var ids []int
		switch code {
		case 1:
			ids = []int{0, 1, 2}
		case 2, 3:
			ids = []int{0, 1, 2, 3, 4, 5}
		case 4:
			if obj >= len(objs) {
				return exc(mbExIllegalAddr)
			}
			ids = []int{obj}
		default:
			return exc(mbExIllegalData)
		}
		if code != 4 {
			ids = ids[min(obj, len(ids)):]
			if len(ids) == 0 {
				ids = []int{0, 1, 2}
			}
		}
		out := []byte{mbEncapsulated, mbReadDeviceID, code, 0x82, 0, 0, byte(len(ids))}
		for _, id := range ids {
			out = append(out, byte(id), byte(len(objs[id])))
			out = append(out, objs[id]...)
		}
		return out
	}
	return exc(mbExIllegalFunc)
}

func serveModbus(c net.Conn, s *deviceService) {
	for {
		f, err := readModbusFrame(c)
		if err != nil {
			return
		}
		resp := answerModbus(s, f.PDU)
		if resp == nil {
			return
		}
		if _, err := c.Write(f.encode(resp)); err != nil {
			return
		}
	}
}
