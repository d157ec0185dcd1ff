// Package s7 is Siemens S7comm over ISO-on-TCP (port 102) as far as module
// identification needs it: TPKT (RFC 1006) frames, the COTP connection
// request, the S7 communication setup, and the userdata "read SZL" request
// for the module identification lists 0x0011 and 0x001c, with their
// answers. Read SZL is the only S7 function the package encodes: no
// read/write variable job, no PLC control, no stop, no download (see the
// read-only test in internal/wire). nmap's s7-info reads the same lists.
package s7

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"iotwatch/internal/netx"
)

// SZL ids the package reads.
const (
	SZLModuleID    = 0x0011 // module identification (order number, hardware, firmware)
	SZLComponentID = 0x001c // component identification (names, serial number, module type)
	tpktVersion    = 3
	cotpCR         = 0xe0
	cotpCC         = 0xd0
	cotpDT         = 0xf0
	protocolID     = 0x32
	rosctrJob      = 0x01
	rosctrAckData  = 0x03
	rosctrUserData = 0x07
	funcSetup      = 0xf0
	// MaxTPKT caps a frame.
	MaxTPKT = 4096
)

// ErrNotS7 marks bytes that are not the S7 answer expected.
var ErrNotS7 = fmt.Errorf("not an S7comm answer: %w", netx.ErrProtocol)

func tpkt(payload []byte) []byte {
	b := []byte{tpktVersion, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(payload)))
	return append(b, payload...)
}

// ConnectRequest returns the COTP connection request to the CPU in rack 0,
// slot (TSAP 0x01 0x00 | slot): slot 2 for an S7-300/400, 1 for S7-1200/1500.
func ConnectRequest(slot byte) []byte {
	return tpkt([]byte{0x11, cotpCR, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, slot})
}

// SetupCommunication returns the S7 setup communication job.
func SetupCommunication() []byte {
	return tpkt([]byte{0x02, cotpDT, 0x80, protocolID, rosctrJob, 0, 0, 0, 1, 0, 8, 0, 0,
		funcSetup, 0, 0, 1, 0, 1, 0x01, 0xe0})
}

// ReadSZL returns the userdata request reading SZL id (index 0: every record).
// id must be SZLModuleID or SZLComponentID.
func ReadSZL(ref uint16, id uint16) []byte {
	if id != SZLModuleID && id != SZLComponentID {
		id = SZLModuleID
	}
	b := []byte{0x02, cotpDT, 0x80, protocolID, rosctrUserData, 0, 0, 0, 0, 0, 8, 0, 8,
		// parameter: head 00 01 12, length 4, method 0x11 (request), type 4 / group 4 (CPU functions), subfunction 1 (read SZL), sequence 0
		0, 1, 0x12, 4, 0x11, 0x44, 0x01, 0,
		// data: return code 0xff, transport size 9 (octet string), length 4, SZL id, index
		0xff, 0x09, 0, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[7:], ref)
	binary.BigEndian.PutUint16(b[25:], id)
	return tpkt(b)
}

// ReadFrame reads one TPKT frame and returns its payload (COTP and after).
func ReadFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if h[0] != tpktVersion || n < 7 || n > MaxTPKT {
		return nil, fmt.Errorf("s7: TPKT header % x: %w", h, ErrNotS7)
	}
	b := make([]byte, n-4)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// IsConnectConfirm reports whether a frame's payload is a COTP connection confirm.
func IsConnectConfirm(p []byte) bool { return len(p) >= 2 && p[1] == cotpCC }

// s7PDU returns the S7 PDU of a COTP data frame.
func s7PDU(p []byte) ([]byte, error) {
	if len(p) < 3 || p[1] != cotpDT || int(p[0]) != 2 {
		return nil, fmt.Errorf("s7: not a COTP data frame: %w", ErrNotS7)
	}
	p = p[3:]
	if len(p) < 10 || p[0] != protocolID {
		return nil, fmt.Errorf("s7: protocol id: %w", ErrNotS7)
	}
	return p, nil
}

// IsSetupAck reports whether a frame's payload acknowledges the setup.
func IsSetupAck(p []byte) bool {
	pdu, err := s7PDU(p)
	return err == nil && pdu[1] == rosctrAckData && len(pdu) >= 13 && pdu[12] == funcSetup
}

// SZL is a decoded SZL answer: its id and records.
type SZL struct {
	ID      uint16
	Records [][]byte
}

// ParseSZL decodes a read-SZL answer frame payload.
func ParseSZL(p []byte) (*SZL, error) {
	pdu, err := s7PDU(p)
	if err != nil {
		return nil, err
	}
	if pdu[1] != rosctrUserData {
		return nil, fmt.Errorf("s7: ROSCTR %d: %w", pdu[1], ErrNotS7)
	}
	plen, dlen := int(binary.BigEndian.Uint16(pdu[6:])), int(binary.BigEndian.Uint16(pdu[8:]))
	if len(pdu) < 10+plen+dlen || plen < 8 {
		return nil, fmt.Errorf("s7: truncated PDU: %w", ErrNotS7)
	}
	param, data := pdu[10:10+plen], pdu[10+plen:10+plen+dlen]
	if param[5]&0x0f != 4 || param[6] != 1 {
		return nil, fmt.Errorf("s7: not a read-SZL answer: %w", ErrNotS7)
	}
	if len(data) < 4 || data[0] != 0xff {
		if len(data) > 0 {
			return nil, fmt.Errorf("s7: SZL return code %#x: %w", data[0], ErrNotS7)
		}
		return nil, ErrNotS7
	}
	n := int(binary.BigEndian.Uint16(data[2:]))
	data = data[4:]
	if len(data) < n || n < 8 {
		return nil, fmt.Errorf("s7: truncated SZL: %w", ErrNotS7)
	}
	data = data[:n]
	s := &SZL{ID: binary.BigEndian.Uint16(data)}
	size, count := int(binary.BigEndian.Uint16(data[4:])), int(binary.BigEndian.Uint16(data[6:]))
	data = data[8:]
	if size < 2 {
		return nil, fmt.Errorf("s7: record size %d: %w", size, ErrNotS7)
	}
	for range count {
		if len(data) < size {
			break // a partial list (more follows in another PDU): keep what came
		}
		s.Records = append(s.Records, data[:size])
		data = data[size:]
	}
	return s, nil
}

// Module is the identification read from SZL 0x0011 and 0x001c.
type Module struct {
	OrderNumber  string `json:"order_number,omitempty"`  // 0x0011 index 1: MLFB of the module
	Hardware     string `json:"hardware,omitempty"`      // 0x0011 index 6: basic hardware
	Firmware     string `json:"firmware,omitempty"`      // 0x0011 index 7: V1.2.3
	SystemName   string `json:"system_name,omitempty"`   // 0x001c index 1
	ModuleName   string `json:"module_name,omitempty"`   // 0x001c index 2
	PlantID      string `json:"plant_id,omitempty"`      // 0x001c index 3
	Copyright    string `json:"copyright,omitempty"`     // 0x001c index 4
	SerialNumber string `json:"serial_number,omitempty"` // 0x001c index 5
	ModuleType   string `json:"module_type,omitempty"`   // 0x001c index 7
}

func text(b []byte) string {
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00 "))
}

// AddModuleID fills m from SZL 0x0011 records (index 2, order number 20,
// BGTyp 2, Ausbg 2, Ausbe 2).
func (m *Module) AddModuleID(s *SZL) {
	for _, r := range s.Records {
		if len(r) < 28 {
			continue
		}
		switch binary.BigEndian.Uint16(r) {
		case 1:
			m.OrderNumber = text(r[2:22])
		case 6:
			m.Hardware = text(r[2:22])
			if m.Hardware == "" {
				m.Hardware = fmt.Sprintf("%d", binary.BigEndian.Uint16(r[26:]))
			}
		case 7:
			m.Firmware = fmt.Sprintf("V%d.%d.%d", r[25], r[26], r[27])
		}
	}
}

// AddComponentID fills m from SZL 0x001c records (index 2, text 32).
func (m *Module) AddComponentID(s *SZL) {
	for _, r := range s.Records {
		if len(r) < 34 {
			continue
		}
		v := text(r[2:34])
		switch binary.BigEndian.Uint16(r) {
		case 1:
			m.SystemName = v
		case 2:
			m.ModuleName = v
		case 3:
			m.PlantID = v
		case 4:
			m.Copyright = v
		case 5:
			m.SerialNumber = v
		case 7:
			m.ModuleType = v
		}
	}
}

// Request is a decoded client frame (for the simulator): what it asks.
type Request struct {
	Connect bool
	Setup   bool
	SZL     uint16 // the SZL id of a read-SZL request
	Ref     uint16
}

// ParseRequest decodes a client frame payload the package encodes.
func ParseRequest(p []byte) (*Request, error) {
	if len(p) >= 2 && p[1] == cotpCR {
		return &Request{Connect: true}, nil
	}
	pdu, err := s7PDU(p)
	if err != nil {
		return nil, err
	}
	r := &Request{Ref: binary.BigEndian.Uint16(pdu[4:])}
	switch {
	case pdu[1] == rosctrJob && len(pdu) >= 11 && pdu[10] == funcSetup:
		r.Setup = true
	case pdu[1] == rosctrUserData && len(pdu) >= 26 && pdu[15]&0x0f == 4 && pdu[16] == 1:
		r.SZL = binary.BigEndian.Uint16(pdu[22:])
	default:
		return nil, fmt.Errorf("s7: request not served: %w", ErrNotS7)
	}
	return r, nil
}

// ConnectConfirm is the COTP connection confirm (for the simulator).
func ConnectConfirm() []byte {
	return tpkt([]byte{0x11, cotpCC, 0, 1, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2})
}

// SetupAck acknowledges a setup job (PDU size 240).
func SetupAck(ref uint16) []byte {
	b := []byte{0x02, cotpDT, 0x80, protocolID, rosctrAckData, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0,
		funcSetup, 0, 0, 1, 0, 1, 0, 0xf0}
	binary.BigEndian.PutUint16(b[7:], ref)
	return tpkt(b)
}

// SZLAnswer builds a read-SZL answer with records of size bytes each.
func SZLAnswer(ref, id uint16, size int, records [][]byte) []byte {
	list := make([]byte, 8)
	binary.BigEndian.PutUint16(list, id)
	binary.BigEndian.PutUint16(list[4:], uint16(size))
	binary.BigEndian.PutUint16(list[6:], uint16(len(records)))
	for _, r := range records {
		rec := make([]byte, size)
		copy(rec, r)
		list = append(list, rec...)
	}
	data := append([]byte{0xff, 0x09, 0, 0}, list...)
	binary.BigEndian.PutUint16(data[2:], uint16(len(list)))
	param := []byte{0, 1, 0x12, 8, 0x12, 0x84, 0x01, 0x01, 0, 0, 0, 0}
	b := []byte{0x02, cotpDT, 0x80, protocolID, rosctrUserData, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[7:], ref)
	binary.BigEndian.PutUint16(b[9:], uint16(len(param)))
	binary.BigEndian.PutUint16(b[11:], uint16(len(data)))
	return tpkt(append(append(b, param...), data...))
}

// ModuleRecord is a 0x0011 record (index, 20-byte text, then BGTyp, Ausbg, Ausbe).
func ModuleRecord(index uint16, txt string, tail [6]byte) []byte {
	r := make([]byte, 28)
	binary.BigEndian.PutUint16(r, index)
	copy(r[2:22], padded(txt, 20))
	copy(r[22:], tail[:])
	return r
}

// ComponentRecord is a 0x001c record (index, 32-byte text).
func ComponentRecord(index uint16, txt string) []byte {
	r := make([]byte, 34)
	binary.BigEndian.PutUint16(r, index)
	copy(r[2:], padded(txt, 32))
	return r
}

func padded(s string, n int) []byte {
	b := []byte(s)
	if len(b) > n {
		b = b[:n]
	}
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}
