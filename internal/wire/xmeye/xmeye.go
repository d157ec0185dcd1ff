// Package xmeye is the wire format of XMeye/NetSurveillance ("Sofia", DVRIP
// on port 34567), the protocol of Xiongmai DVRs, NVRs and cameras and of the
// many brands built on their boards: a 20-byte little-endian header (0xff,
// version, session id, sequence, message id, length) followed by a JSON
// object. LOGIN_REQ (1000) carries the user name and the "Sofia hash" of the
// password; its reply (1001) carries a return code and, on success, a
// session id and the device's channel count and type. SYSINFO_REQ (1020)
// with Name "SystemInfo" reads the serial number, hardware and software
// version after a login.
//
// Sources: the message ids, header layout and return codes as published by
// the open-source clients (python-dvr, the DVRIP dissectors) and the Sofia
// hash as those clients and Mirai-variant analyses describe it.
package xmeye

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"iotwatch/internal/netx"
)

// Message ids.
const (
	LoginReq    = 1000
	LoginRsp    = 1001
	KeepAlive   = 1006
	SysInfoReq  = 1020
	SysInfoRsp  = 1021
	HeaderLen   = 20
	MaxPayload  = 64 << 10
	headFlag    = 0xff
	jsonTrailer = "\n\x00"
)

// Return codes (the Ret field).
const (
	RetOK           = 100
	RetUnknown      = 101
	RetNotLoggedIn  = 102 // or the session is invalid
	RetBadPassword  = 203
	RetNoSuchUser   = 205
	RetLocked       = 206
	RetBlacklisted  = 207
	RetAlreadyLogin = 208
)

// ErrNotXMeye marks bytes that are not an XMeye message.
var ErrNotXMeye = fmt.Errorf("not an XMeye message: %w", netx.ErrProtocol)

// Message is one XMeye message.
type Message struct {
	Version byte
	Session uint32
	Seq     uint32
	ID      uint16
	Payload []byte // the JSON object, without the trailing "\n\0"
}

// Encode returns the message's bytes; a JSON payload gets the "\n\0" trailer
// devices send.
func (m Message) Encode() []byte {
	p := m.Payload
	if len(p) > 0 && p[len(p)-1] != 0 {
		p = append(append([]byte{}, p...), jsonTrailer...)
	}
	b := make([]byte, HeaderLen, HeaderLen+len(p))
	b[0], b[1] = headFlag, m.Version
	binary.LittleEndian.PutUint32(b[4:], m.Session)
	binary.LittleEndian.PutUint32(b[8:], m.Seq)
	binary.LittleEndian.PutUint16(b[14:], m.ID)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(p)))
	return append(b, p...)
}

// ParseHeader decodes a 20-byte header and returns the payload length.
func ParseHeader(h []byte) (Message, int, error) {
	if len(h) < HeaderLen || h[0] != headFlag || h[1] > 1 {
		return Message{}, 0, ErrNotXMeye
	}
	n := binary.LittleEndian.Uint32(h[16:])
	if n > MaxPayload {
		return Message{}, 0, fmt.Errorf("xmeye: payload of %d bytes: %w", n, ErrNotXMeye)
	}
	m := Message{Version: h[1], Session: binary.LittleEndian.Uint32(h[4:]), Seq: binary.LittleEndian.Uint32(h[8:]),
		ID: binary.LittleEndian.Uint16(h[14:])}
	return m, int(n), nil
}

// Read reads one message from r.
func Read(r io.Reader) (Message, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Message{}, err
	}
	m, n, err := ParseHeader(h[:])
	if err != nil {
		return Message{}, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return Message{}, err
	}
	m.Payload = bytes.TrimRight(p, "\x00\n ")
	return m, nil
}

// SofiaHash is the password digest LOGIN_REQ carries with EncryptType MD5:
// each pair of MD5 bytes, summed modulo 62, picks one of 0-9A-Za-z.
func SofiaHash(password string) string {
	sum := md5.Sum([]byte(password))
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 8)
	for i := range out {
		out[i] = chars[(int(sum[2*i])+int(sum[2*i+1]))%62]
	}
	return string(out)
}

// Login is the LOGIN_REQ body.
type Login struct {
	EncryptType string `json:"EncryptType"`
	LoginType   string `json:"LoginType"`
	PassWord    string `json:"PassWord"`
	UserName    string `json:"UserName"`
}

// LoginRequest returns a LOGIN_REQ for user with the Sofia hash of password.
func LoginRequest(seq uint32, user, password string) []byte {
	body, _ := json.Marshal(Login{EncryptType: "MD5", LoginType: "DVRIP-Web", PassWord: SofiaHash(password), UserName: user})
	return Message{Seq: seq, ID: LoginReq, Payload: body}.Encode()
}

// ParseLogin decodes a LOGIN_REQ body.
func ParseLogin(payload []byte) (Login, error) {
	var l Login
	if err := json.Unmarshal(payload, &l); err != nil {
		return l, fmt.Errorf("xmeye login: %w: %w", ErrNotXMeye, err)
	}
	return l, nil
}

// Reply is a decoded reply body: its return code and every field, keys
// trimmed (devices spell "DeviceType " with a trailing space).
type Reply struct {
	Ret    int
	Fields map[string]any
}

// ParseReply decodes a JSON reply body.
func ParseReply(payload []byte) (Reply, error) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return Reply{}, fmt.Errorf("xmeye reply: %w: %w", ErrNotXMeye, err)
	}
	r := Reply{Fields: make(map[string]any, len(raw))}
	for k, v := range raw {
		r.Fields[strings.TrimSpace(k)] = v
	}
	ret, ok := r.Fields["Ret"].(json.Number)
	if !ok {
		return Reply{}, fmt.Errorf("xmeye reply without Ret: %w", ErrNotXMeye)
	}
	n, err := strconv.Atoi(ret.String())
	if err != nil {
		return Reply{}, fmt.Errorf("xmeye reply Ret %q: %w", ret, ErrNotXMeye)
	}
	r.Ret = n
	return r, nil
}

// String returns field k as text ("" when absent or an object).
func (r Reply) String(k string) string {
	switch v := r.Fields[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Object returns field k as an object (SystemInfo), or nil.
func (r Reply) Object(k string) Reply {
	m, _ := r.Fields[k].(map[string]any)
	out := Reply{Ret: r.Ret, Fields: make(map[string]any, len(m))}
	for k, v := range m {
		out.Fields[strings.TrimSpace(k)] = v
	}
	return out
}

// SessionID parses the reply's SessionID ("0x0000000B").
func (r Reply) SessionID() uint32 {
	s := strings.TrimPrefix(strings.ToLower(r.String("SessionID")), "0x")
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// SysInfoRequest returns the SYSINFO_REQ for SystemInfo in a session.
func SysInfoRequest(session, seq uint32) []byte {
	body, _ := json.Marshal(map[string]string{"Name": "SystemInfo", "SessionID": FormatSession(session)})
	return Message{Session: session, Seq: seq, ID: SysInfoReq, Payload: body}.Encode()
}

// FormatSession spells a session id as devices do.
func FormatSession(s uint32) string { return fmt.Sprintf("0x%08X", s) }

// RetText names a return code.
func RetText(ret int) string {
	switch ret {
	case RetOK:
		return "OK"
	case RetUnknown:
		return "unknown error"
	case RetNotLoggedIn:
		return "not logged in"
	case RetBadPassword:
		return "wrong password"
	case RetNoSuchUser:
		return "no such user"
	case RetLocked:
		return "account locked"
	case RetBlacklisted:
		return "blacklisted"
	case RetAlreadyLogin:
		return "already logged in"
	}
	return "code " + strconv.Itoa(ret)
}
