// Package dnp3 is the DNP3 data link layer (IEEE 1815, port 20000) as far as
// finding an outstation needs it: the header-only REQUEST_LINK_STATUS frame
// (primary function 9) and the LINK_STATUS answer (secondary function 11),
// with their CRCs. Link status is the only function the package encodes: no
// application layer at all, so no WRITE, SELECT/OPERATE, DIRECT_OPERATE,
// COLD/WARM_RESTART or any other control (see the read-only test in
// internal/wire). The answer names the outstation's link address, no maker.
package dnp3

import (
	"encoding/binary"
	"fmt"
	"io"

	"iotwatch/internal/netx"
)

// Link-layer constants.
const (
	start0         = 0x05
	start1         = 0x64
	HeaderLen      = 10
	funcLinkStatus = 9  // primary: request link status
	funcStatusResp = 11 // secondary: link status
	ctlDIR         = 0x80
	ctlPRM         = 0x40
	ctlDFC         = 0x10
)

// ErrNotDNP3 marks bytes that are not a DNP3 link frame.
var ErrNotDNP3 = fmt.Errorf("not a DNP3 link frame: %w", netx.ErrProtocol)

// crcTable is the DNP3 CRC (polynomial 0x3D65, reflected 0xA6BC).
var crcTable = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xa6bc
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the DNP3 CRC of b.
func CRC(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c>>8 ^ crcTable[byte(c)^x]
	}
	return ^c
}

func header(ctl byte, dest, src uint16) []byte {
	b := []byte{start0, start1, 5, ctl, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[4:], dest)
	binary.LittleEndian.PutUint16(b[6:], src)
	binary.LittleEndian.PutUint16(b[8:], CRC(b[:8]))
	return b
}

// RequestLinkStatus returns the master's REQUEST_LINK_STATUS frame to dest from src.
func RequestLinkStatus(dest, src uint16) []byte {
	return header(ctlDIR|ctlPRM|funcLinkStatus, dest, src)
}

// LinkStatus returns an outstation's LINK_STATUS answer (for the simulator).
func LinkStatus(dest, src uint16) []byte { return header(funcStatusResp, dest, src) }

// Frame is a decoded header-only link frame.
type Frame struct {
	Control byte
	Dest    uint16
	Src     uint16
}

// Function is the frame's link function code.
func (f Frame) Function() byte { return f.Control & 0x0f }

// Primary reports whether the frame comes from the primary (initiating) station.
func (f Frame) Primary() bool { return f.Control&ctlPRM != 0 }

// FromMaster reports the DIR bit.
func (f Frame) FromMaster() bool { return f.Control&ctlDIR != 0 }

// DFC reports the data flow control bit (the outstation's buffers are full).
func (f Frame) DFC() bool { return f.Control&ctlDFC != 0 }

// ParseHeader decodes and checks a 10-byte link header.
func ParseHeader(b []byte) (Frame, error) {
	if len(b) < HeaderLen || b[0] != start0 || b[1] != start1 || b[2] < 5 {
		return Frame{}, ErrNotDNP3
	}
	if binary.LittleEndian.Uint16(b[8:]) != CRC(b[:8]) {
		return Frame{}, fmt.Errorf("dnp3: header CRC: %w", ErrNotDNP3)
	}
	return Frame{Control: b[3], Dest: binary.LittleEndian.Uint16(b[4:]), Src: binary.LittleEndian.Uint16(b[6:])}, nil
}

// ReadFrame reads one link frame, skipping its user data blocks, and
// returns its header.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	f, err := ParseHeader(h[:])
	if err != nil {
		return Frame{}, err
	}
	if n := int(h[2]) - 5; n > 0 { // user data in 16-byte blocks, each with a CRC
		blocks := (n + 15) / 16
		if _, err := io.CopyN(io.Discard, r, int64(n+2*blocks)); err != nil {
			return Frame{}, err
		}
	}
	return f, nil
}
