package dvrip

// The DVRIP log-in (no configuration, no other command) as mcw0's
// DahuaConsole documents it (github.com/mcw0/DahuaConsole, net.py
// dahua_dvrip_login and dahua_logon_modes.py, MIT licence, commit
// 5f8f35b13437d06e6e9b01f63bc151303939eda2) and the earlier
// Dahua-JSON-Debug-Console script it grew from:
//
//  1. The client asks for a challenge: a 32-byte header with command 0xa0,
//     byte 1 = 0x01, trailer 05 02 01 01 00 00 a1 aa. The device answers
//     with an 0xb0 header and text data "Realm:Login to <serial>\r\n
//     Random:<number>\r\n\r\n".
//  2. The client logs in: command 0xa0, byte 1 = 0x05, the data length at
//     bytes 4-7 (little-endian), trailer 05 02 00 08 00 00 a1 aa, and data
//     "<user>&&<gen2><gen1>", where gen2 = MD5HEX(user:random:MD5HEX(
//     user:realm:password)) and gen1 = MD5HEX(user:random:Hash(password)),
//     upper-case hex, Hash being the 8-character "Dahua hash" (John the
//     Ripper's dahua format; the same digest as XMeye's Sofia hash).
//  3. The device answers with an 0xb0 header whose bytes 24-27 are
//     06 00 f9 00 (a log-in result), bytes 8-9 the result code (00 08
//     accepted; 01 00 wrong password, bytes 28-29 the attempts left; 01 01
//     unknown user; 01 04 account locked; 01 11 device not initialised;
//     01 13 not implemented; 03 03 user already logged in) and bytes 16-19
//     the session id.
//
// The older DES ("3DES") log-in of the same tool is not implemented.

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"iotwatch/internal/wire/xmeye"
)

// Log-in commands and markers.
const (
	CmdLogin = 0xa0 // challenge request and log-in (byte 1 says which)
	CmdReply = 0xb0 // their answers

	subChallenge = 0x01
	subLogin     = 0x05
)

var (
	trailerChallenge = []byte{0x05, 0x02, 0x01, 0x01, 0x00, 0x00, 0xa1, 0xaa}
	trailerLogin     = []byte{0x05, 0x02, 0x00, 0x08, 0x00, 0x00, 0xa1, 0xaa}
	loginResult      = []byte{0x06, 0x00, 0xf9, 0x00}
)

// Result codes of a log-in reply (bytes 8-9).
const (
	ResultOK             = 0x0008
	ResultBadPassword    = 0x0100
	ResultNoSuchUser     = 0x0101
	ResultLocked         = 0x0104
	ResultNotInitialised = 0x0111
	ResultNotImplemented = 0x0113
	ResultLoggedIn       = 0x0303
)

// ResultText names a result code.
func ResultText(code uint16) string {
	switch code {
	case ResultOK:
		return "accepted"
	case ResultBadPassword:
		return "wrong password"
	case ResultNoSuchUser:
		return "no such user"
	case ResultLocked:
		return "account locked"
	case ResultNotInitialised:
		return "device not initialised"
	case ResultNotImplemented:
		return "not implemented"
	case ResultLoggedIn:
		return "user already logged in"
	}
	return fmt.Sprintf("result %#04x", code)
}

// Hash is the 8-character Dahua password hash: each pair of MD5 bytes,
// summed modulo 62, picks one of 0-9A-Za-z.
func Hash(password string) string { return xmeye.SofiaHash(password) }

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// LoginHash is the log-in data for user and password under a challenge.
func LoginHash(user, password string, c Challenge) string {
	gen2 := md5Hex(user + ":" + c.Random + ":" + md5Hex(user+":"+c.Realm+":"+password))
	gen1 := md5Hex(user + ":" + c.Random + ":" + Hash(password))
	return user + "&&" + gen2 + gen1
}

// ChallengeRequest returns the request for a log-in challenge.
func ChallengeRequest() []byte {
	b := make([]byte, HeaderLen)
	b[0], b[1] = CmdLogin, subChallenge
	copy(b[24:], trailerChallenge)
	return b
}

// LoginRequest returns the log-in message for user and password.
func LoginRequest(user, password string, c Challenge) []byte {
	data := LoginHash(user, password, c)
	b := make([]byte, HeaderLen, HeaderLen+len(data))
	b[0], b[1] = CmdLogin, subLogin
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	copy(b[24:], trailerLogin)
	return append(b, data...)
}

// Challenge is a device's realm and random number.
type Challenge struct {
	Realm  string // "Login to 4K02A5BPAG00104"
	Random string
}

// ReadMessage reads one message (header and data) whose command is cmd.
func ReadMessage(r io.Reader, cmd byte) (Header, []byte, error) {
	var b [HeaderLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(b[:])
	if err != nil {
		return Header{}, nil, err
	}
	if h.Cmd != cmd {
		return Header{}, nil, fmt.Errorf("dvrip: command %#x, want %#x: %w", h.Cmd, cmd, ErrNotDVRIP)
	}
	data := make([]byte, h.DataLen)
	if _, err := io.ReadFull(r, data); err != nil {
		return Header{}, nil, err
	}
	return h, data, nil
}

// ParseChallenge reads the realm and random number of a challenge reply's
// data.
func ParseChallenge(data []byte) (Challenge, error) {
	var c Challenge
	for line := range strings.SplitSeq(string(data), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		switch {
		case !ok:
		case strings.EqualFold(k, "Realm"):
			c.Realm = v
		case strings.EqualFold(k, "Random"):
			c.Random = v
		}
	}
	if c.Random == "" || c.Realm == "" {
		return Challenge{}, fmt.Errorf("dvrip: challenge without realm or random (%d bytes): %w", len(data), ErrNotDVRIP)
	}
	return c, nil
}

// LoginReply is a decoded log-in result.
type LoginReply struct {
	Code    uint16
	Session uint32
	// Left is the attempts left after a wrong password.
	Left uint16
}

// ParseLoginReply decodes the header of a log-in result.
func ParseLoginReply(h Header) (LoginReply, error) {
	if h.Cmd != CmdReply || !bytes.Equal(h.Raw[24:28], loginResult) {
		return LoginReply{}, fmt.Errorf("dvrip: header %x is not a log-in result: %w", h.Raw[:], ErrNotDVRIP)
	}
	return LoginReply{Code: binary.BigEndian.Uint16(h.Raw[8:10]), Session: binary.LittleEndian.Uint32(h.Raw[16:20]),
		Left: binary.BigEndian.Uint16(h.Raw[28:30])}, nil
}

// The device's side (the simulator's).

// IsChallengeRequest reports whether a header asks for a challenge.
func IsChallengeRequest(h []byte) bool {
	return len(h) >= HeaderLen && h[0] == CmdLogin && h[1] == subChallenge
}

// IsLoginRequest reports whether a header carries a log-in.
func IsLoginRequest(h []byte) bool {
	return len(h) >= HeaderLen && h[0] == CmdLogin && h[1] == subLogin
}

// ChallengeReply returns the challenge a device sends.
func ChallengeReply(c Challenge) []byte {
	data := "Realm:" + c.Realm + "\r\nRandom:" + c.Random + "\r\n\r\n"
	b := make([]byte, HeaderLen, HeaderLen+len(data))
	b[0], b[3] = CmdReply, 0x58
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	return append(b, data...)
}

// LoginResult returns a device's log-in result header.
func LoginResult(r LoginReply) []byte {
	b := make([]byte, HeaderLen)
	b[0], b[3] = CmdReply, 0x58
	binary.BigEndian.PutUint16(b[8:], r.Code)
	binary.LittleEndian.PutUint32(b[16:], r.Session)
	copy(b[24:], loginResult)
	binary.BigEndian.PutUint16(b[28:], r.Left)
	return b
}

// CheckLogin judges log-in data against the one account a device has: the
// result code a device would answer.
func CheckLogin(data []byte, user, password string, c Challenge) uint16 {
	u, _, ok := strings.Cut(string(data), "&&")
	switch {
	case !ok || u != user:
		return ResultNoSuchUser
	case string(data) != LoginHash(user, password, c):
		return ResultBadPassword
	}
	return ResultOK
}
