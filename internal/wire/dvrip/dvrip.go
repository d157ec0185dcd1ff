// Package dvrip is the framing of Dahua's DVRIP protocol (port 37777) as far
// as identification needs it: every message starts with a 32-byte header
// whose first byte is the command and whose bytes 4-7 are the length of the
// data that follows (little-endian). The request this package encodes is the
// 0xa1 query every Dahua-based recorder answers with an 0xb1 header (the
// detection of Metasploit's dahua_dvr_auth_bypass scanner, CVE-2013-6117);
// no configuration query, none of that module's user or log commands.
package dvrip

import (
	"encoding/binary"
	"fmt"
	"io"

	"iotwatch/internal/netx"
)

// Commands.
const (
	CmdQuery  = 0xa1 // identification query
	CmdAnswer = 0xb1 // its answer
	HeaderLen = 32
	// MaxData caps the data after a header.
	MaxData = 64 << 10
)

// ErrNotDVRIP marks bytes that are not a DVRIP answer.
var ErrNotDVRIP = fmt.Errorf("not a DVRIP answer: %w", netx.ErrProtocol)

// Query returns the identification query.
func Query() []byte {
	b := make([]byte, HeaderLen)
	b[0] = CmdQuery
	return b
}

// Header is a decoded message header.
type Header struct {
	Cmd     byte
	DataLen uint32
	Raw     [HeaderLen]byte
}

// ParseHeader decodes a 32-byte header.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("dvrip: %d-byte header: %w", len(b), ErrNotDVRIP)
	}
	h := Header{Cmd: b[0], DataLen: binary.LittleEndian.Uint32(b[4:8])}
	copy(h.Raw[:], b)
	if h.DataLen > MaxData {
		return Header{}, fmt.Errorf("dvrip: %d bytes of data: %w", h.DataLen, ErrNotDVRIP)
	}
	return h, nil
}

// ReadAnswer reads the answer to Query: an 0xb1 header and its data.
func ReadAnswer(r io.Reader) (Header, []byte, error) { return ReadMessage(r, CmdAnswer) }

// Answer builds the answer a recorder sends to Query: the 0xb1 header with
// 0x58 in byte 3, as Metasploit's detection expects, and data.
func Answer(data []byte) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(data))
	b[0], b[3] = CmdAnswer, 0x58
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	return append(b, data...)
}
