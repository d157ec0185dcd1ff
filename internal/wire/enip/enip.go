// Package enip is the EtherNet/IP encapsulation as far as identification
// needs it: the ListIdentity command (0x63, CIP Vol. 2 §2-4.2), which every
// EtherNet/IP device answers without a session with its vendor id, device
// type, product code, revision, serial number and product name. It is the
// only request the package can encode: no session, no CIP service, no
// write (see the read-only test in internal/wire).
package enip

import (
	"encoding/binary"
	"fmt"
	"io"

	"iotwatch/internal/netx"
)

// Encapsulation commands.
const (
	CmdListIdentity = 0x63
	HeaderLen       = 24
	itemIdentity    = 0x0c
	// MaxData caps an encapsulated reply's data.
	MaxData = 4096
)

// ErrNotENIP marks bytes that are not a ListIdentity reply.
var ErrNotENIP = fmt.Errorf("not an EtherNet/IP ListIdentity reply: %w", netx.ErrProtocol)

// ListIdentity returns the ListIdentity request with context as sender context.
func ListIdentity(context uint64) []byte {
	b := make([]byte, HeaderLen)
	binary.LittleEndian.PutUint16(b[0:], CmdListIdentity)
	binary.LittleEndian.PutUint64(b[12:], context)
	return b
}

// Identity is one CIP identity item.
type Identity struct {
	ProtocolVersion uint16 `json:"protocol_version"`
	VendorID        uint16 `json:"vendor_id"`
	DeviceType      uint16 `json:"device_type"`
	ProductCode     uint16 `json:"product_code"`
	RevisionMajor   byte   `json:"revision_major"`
	RevisionMinor   byte   `json:"revision_minor"`
	Status          uint16 `json:"status"`
	Serial          uint32 `json:"serial"`
	ProductName     string `json:"product_name"`
	State           byte   `json:"state"`
	// Address is the socket address the device reports (often private).
	Address string `json:"address,omitempty"`
}

// Command returns the command of a 24-byte encapsulation header (0 when short).
func Command(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

// Read reads one encapsulation message (header and data) from r.
func Read(r io.Reader) ([]byte, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(h[2:]))
	if n > MaxData {
		return nil, fmt.Errorf("enip: %d bytes of data: %w", n, ErrNotENIP)
	}
	b := make([]byte, HeaderLen+n)
	copy(b, h[:])
	if _, err := io.ReadFull(r, b[HeaderLen:]); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseListIdentity decodes a ListIdentity reply (header included) and
// returns its identity item.
func ParseListIdentity(b []byte) (*Identity, error) {
	if len(b) < HeaderLen+2 || Command(b) != CmdListIdentity {
		return nil, ErrNotENIP
	}
	if st := binary.LittleEndian.Uint32(b[8:]); st != 0 {
		return nil, fmt.Errorf("enip: status %#x: %w", st, ErrNotENIP)
	}
	d := b[HeaderLen:]
	if int(binary.LittleEndian.Uint16(b[2:])) != len(d) {
		return nil, fmt.Errorf("enip: length mismatch: %w", ErrNotENIP)
	}
	count := int(binary.LittleEndian.Uint16(d))
	d = d[2:]
	for range count {
		if len(d) < 4 {
			return nil, fmt.Errorf("enip: truncated item: %w", ErrNotENIP)
		}
		typ, n := binary.LittleEndian.Uint16(d), int(binary.LittleEndian.Uint16(d[2:]))
		if len(d) < 4+n {
			return nil, fmt.Errorf("enip: truncated item: %w", ErrNotENIP)
		}
		item := d[4 : 4+n]
		d = d[4+n:]
		if typ != itemIdentity {
			continue
		}
		// version 2, socket address 16, vendor 2, type 2, code 2, revision 2,
		// status 2, serial 4, name length 1 (then name), state 1.
		if len(item) < 33 || len(item) < 33+int(item[32]) {
			return nil, fmt.Errorf("enip: short identity item: %w", ErrNotENIP)
		}
		id := &Identity{
			ProtocolVersion: binary.LittleEndian.Uint16(item),
			VendorID:        binary.LittleEndian.Uint16(item[18:]),
			DeviceType:      binary.LittleEndian.Uint16(item[20:]),
			ProductCode:     binary.LittleEndian.Uint16(item[22:]),
			RevisionMajor:   item[24], RevisionMinor: item[25],
			Status: binary.LittleEndian.Uint16(item[26:]),
			Serial: binary.LittleEndian.Uint32(item[28:]),
		}
		if a := item[2:18]; binary.BigEndian.Uint16(a) == 2 {
			id.Address = fmt.Sprintf("%d.%d.%d.%d:%d", a[4], a[5], a[6], a[7], binary.BigEndian.Uint16(a[2:]))
		}
		nl := int(item[32])
		id.ProductName = string(item[33 : 33+nl])
		if len(item) > 33+nl {
			id.State = item[33+nl]
		}
		return id, nil
	}
	return nil, fmt.Errorf("enip: no identity item: %w", ErrNotENIP)
}

// Reply builds a ListIdentity reply carrying id (for tests and the simulator).
func Reply(context uint64, id Identity, addr [4]byte) []byte {
	item := make([]byte, 33, 34+len(id.ProductName))
	binary.LittleEndian.PutUint16(item, id.ProtocolVersion)
	binary.BigEndian.PutUint16(item[2:], 2) // AF_INET
	binary.BigEndian.PutUint16(item[4:], 44818)
	copy(item[6:10], addr[:])
	binary.LittleEndian.PutUint16(item[18:], id.VendorID)
	binary.LittleEndian.PutUint16(item[20:], id.DeviceType)
	binary.LittleEndian.PutUint16(item[22:], id.ProductCode)
	item[24], item[25] = id.RevisionMajor, id.RevisionMinor
	binary.LittleEndian.PutUint16(item[26:], id.Status)
	binary.LittleEndian.PutUint32(item[28:], id.Serial)
	item[32] = byte(len(id.ProductName))
	item = append(item, id.ProductName...)
	item = append(item, id.State)
	data := binary.LittleEndian.AppendUint16(nil, 1)
	data = binary.LittleEndian.AppendUint16(data, itemIdentity)
	data = binary.LittleEndian.AppendUint16(data, uint16(len(item)))
	data = append(data, item...)
	b := make([]byte, HeaderLen, HeaderLen+len(data))
	binary.LittleEndian.PutUint16(b, CmdListIdentity)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(data)))
	binary.LittleEndian.PutUint64(b[12:], context)
	return append(b, data...)
}

// VendorName names the ODVA vendor ids iotwatch's rules know ("" otherwise).
func VendorName(id uint16) string {
	switch id {
	case 1:
		return "Rockwell Automation/Allen-Bradley"
	}
	return ""
}

// DeviceTypeName names common CIP device types.
func DeviceTypeName(t uint16) string {
	switch t {
	case 0x00:
		return "Generic Device (deprecated)"
	case 0x07:
		return "General Purpose Discrete I/O"
	case 0x0c:
		return "Communications Adapter"
	case 0x0e:
		return "Programmable Logic Controller"
	case 0x18:
		return "Human-Machine Interface"
	case 0x2b:
		return "Generic Device (keyable)"
	}
	return ""
}
