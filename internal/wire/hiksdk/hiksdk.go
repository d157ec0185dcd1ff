// Package hiksdk is the little of Hikvision's private SDK protocol (the
// "iVMS" or service port, TCP 8000) that identification needs. Requests and
// replies start with a big-endian 32-bit length that counts the whole
// message. The one request encoded here is the 32-byte header NESCA's
// Hikvision detection sends (length 32, byte 4 = 0x63, no user, no
// password); a Hikvision device refuses it with a 16-byte reply, which is
// also the reply nmap's service probes match as "Hikvision IPCam control
// port" (00000010 0000001e 0000001e 00000000). The two status words of the
// reply are kept as they come; their meaning is not published.
//
// The log-in itself is not encoded: it is done by Hikvision's closed
// HCNetSDK library (NESCA loads libhcnetsdk.so for it) and no public source
// describes its password encoding well enough to judge a reply safely.
package hiksdk

import (
	"encoding/binary"
	"fmt"
	"io"

	"iotwatch/internal/netx"
)

// Sizes.
const (
	RequestLen = 32
	ReplyLen   = 16
	// MaxMessage caps a reply's length field (a refusal is 16 bytes; a
	// device that sends more is read no further than this).
	MaxMessage = 4096
	// probeVersion is byte 4 of the identification request.
	probeVersion = 0x63
)

// ErrNotHikSDK marks bytes that are not a Hikvision SDK reply.
var ErrNotHikSDK = fmt.Errorf("not a Hikvision SDK reply: %w", netx.ErrProtocol)

// Request returns the identification request: a 32-byte header naming no
// user.
func Request() []byte {
	b := make([]byte, RequestLen)
	binary.BigEndian.PutUint32(b, RequestLen)
	b[4] = probeVersion
	return b
}

// IsRequest reports whether b is the identification request (the
// simulator's side).
func IsRequest(b []byte) bool {
	return len(b) == RequestLen && binary.BigEndian.Uint32(b) == RequestLen && b[4] == probeVersion
}

// Reply is a decoded reply.
type Reply struct {
	// Length is the reply's length field (16 for a refusal).
	Length uint32
	// Status and Detail are the words at offsets 4 and 8.
	Status, Detail uint32
	// Raw is the reply's first 16 bytes.
	Raw [ReplyLen]byte
}

// ReadReply reads one reply: 16 bytes whose length field is between 16 and
// MaxMessage, then the rest of the message (discarded).
func ReadReply(r io.Reader) (Reply, error) {
	var rep Reply
	if _, err := io.ReadFull(r, rep.Raw[:]); err != nil {
		return Reply{}, err
	}
	rep.Length = binary.BigEndian.Uint32(rep.Raw[0:4])
	rep.Status = binary.BigEndian.Uint32(rep.Raw[4:8])
	rep.Detail = binary.BigEndian.Uint32(rep.Raw[8:12])
	if rep.Length < ReplyLen || rep.Length > MaxMessage {
		return Reply{}, fmt.Errorf("hiksdk: length %d: %w", rep.Length, ErrNotHikSDK)
	}
	// A refusal's status words are small numbers; text (an HTTP or RTSP
	// server answering) never is.
	if rep.Status > 0xffff || rep.Detail > 0xffff {
		return Reply{}, fmt.Errorf("hiksdk: status %#x/%#x: %w", rep.Status, rep.Detail, ErrNotHikSDK)
	}
	if _, err := io.CopyN(io.Discard, r, int64(rep.Length-ReplyLen)); err != nil {
		return Reply{}, fmt.Errorf("hiksdk: read %d-byte reply: %w", rep.Length, err)
	}
	return rep, nil
}

// Refusal returns the 16-byte reply a device sends to a request it refuses
// (the simulator's side): the length, status twice, and a zero word.
func Refusal(status uint32) []byte {
	b := make([]byte, ReplyLen)
	binary.BigEndian.PutUint32(b[0:], ReplyLen)
	binary.BigEndian.PutUint32(b[4:], status)
	binary.BigEndian.PutUint32(b[8:], status)
	return b
}
