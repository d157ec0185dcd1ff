// Package tlshello reads a TLS server's ServerHello from the first bytes it
// sends (RFC 8446 section 4.1.3, RFC 5246 section 7.4.1.3) — the version,
// cipher suite and extensions in the order the server wrote them, which
// Go's crypto/tls does not expose — and derives the JA4S server
// fingerprint from them (FoxIO's JA4+ specification, technical_details/JA4S.md).
package tlshello

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"iotwatch/internal/netx"
)

// TLS record content types and handshake message types used here.
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	msgServerHello      = 2
)

// Extension numbers read here.
const (
	ExtALPN              = 0x0010
	ExtSupportedVersions = 0x002b
)

// maxHandshake bounds the handshake bytes buffered while looking for the
// ServerHello (a ServerHello is well under 1 KB; a certificate chain in the
// same flight may follow it).
const maxHandshake = 64 << 10

// helloRetryRandom is the Random of a HelloRetryRequest (RFC 8446 4.1.3).
var helloRetryRandom, _ = hex.DecodeString("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

// ServerHello is what a server's ServerHello says.
type ServerHello struct {
	// LegacyVersion is the version field of the message; Version the one
	// negotiated (the supported_versions extension's, when present).
	LegacyVersion uint16 `json:"legacy_version"`
	Version       uint16 `json:"version"`
	CipherSuite   uint16 `json:"cipher_suite"`
	Compression   uint8  `json:"compression,omitempty"`
	// Extensions are the extension numbers in the order the server sent them.
	Extensions []uint16 `json:"extensions,omitempty"`
	// ALPN is the application protocol the server chose, if any.
	ALPN string `json:"alpn,omitempty"`
	// HelloRetry reports whether a HelloRetryRequest came before it.
	HelloRetry bool `json:"hello_retry,omitempty"`
}

// Errors of Parse; all wrap netx.ErrProtocol.
var (
	ErrShort     = fmt.Errorf("tls: stream ends before the ServerHello: %w", netx.ErrProtocol)
	ErrAlert     = fmt.Errorf("tls: alert instead of ServerHello: %w", netx.ErrProtocol)
	ErrNotTLS    = fmt.Errorf("tls: not a TLS record: %w", netx.ErrProtocol)
	ErrMalformed = fmt.Errorf("tls: malformed ServerHello: %w", netx.ErrProtocol)
)

// Parse reads the first ServerHello (after any HelloRetryRequest) from b,
// the bytes a server sent from the start of the connection.
func Parse(b []byte) (ServerHello, error) {
	var hs []byte // handshake bytes reassembled across records
	retry := false
	for {
		// Consume whole handshake messages already buffered.
		for len(hs) >= 4 {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) < 4+n {
				break
			}
			typ, body := hs[0], hs[4:4+n]
			hs = hs[4+n:]
			if typ != msgServerHello {
				return ServerHello{}, fmt.Errorf("handshake message %d: %w", typ, ErrMalformed)
			}
			sh, err := parseBody(body)
			if err != nil {
				return ServerHello{}, err
			}
			if sh.isRetry {
				retry = true
				continue
			}
			sh.HelloRetry = retry
			return sh.ServerHello, nil
		}
		if len(b) < 5 {
			return ServerHello{}, ErrShort
		}
		typ, n := b[0], int(binary.BigEndian.Uint16(b[3:5]))
		if b[1] != 3 {
			return ServerHello{}, ErrNotTLS
		}
		// A record cut short still yields the messages it begins with (a
		// TLS 1.2 flight may put the ServerHello and a long chain in one).
		frag := b[5:min(len(b), 5+n)]
		b = b[len(frag)+5:]
		switch typ {
		case recHandshake:
			if len(hs)+len(frag) > maxHandshake {
				return ServerHello{}, fmt.Errorf("handshake over %d bytes: %w", maxHandshake, ErrMalformed)
			}
			hs = append(hs, frag...)
		case recChangeCipherSpec: // TLS 1.3 middlebox compatibility, after a HelloRetryRequest
		case recAlert:
			return ServerHello{}, ErrAlert
		default:
			return ServerHello{}, fmt.Errorf("record type %d before the ServerHello: %w", typ, ErrMalformed)
		}
	}
}

type parsed struct {
	ServerHello
	isRetry bool
}

// parseBody decodes a ServerHello message body.
func parseBody(p []byte) (parsed, error) {
	var out parsed
	if len(p) < 2+32+1 {
		return out, ErrMalformed
	}
	out.LegacyVersion = binary.BigEndian.Uint16(p)
	out.Version = out.LegacyVersion
	out.isRetry = bytes.Equal(p[2:34], helloRetryRandom)
	p = p[34:]
	sid := int(p[0])
	if sid > 32 || len(p) < 1+sid+3 {
		return out, ErrMalformed
	}
	p = p[1+sid:]
	out.CipherSuite = binary.BigEndian.Uint16(p)
	out.Compression = p[2]
	p = p[3:]
	if len(p) == 0 { // no extensions (SSL 3.0, early TLS)
		return out, nil
	}
	if len(p) < 2 || int(binary.BigEndian.Uint16(p)) != len(p)-2 {
		return out, fmt.Errorf("extensions length: %w", ErrMalformed)
	}
	p = p[2:]
	for len(p) > 0 {
		if len(p) < 4 {
			return out, fmt.Errorf("extension header: %w", ErrMalformed)
		}
		typ, n := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+n {
			return out, fmt.Errorf("extension %#04x: %w", typ, ErrMalformed)
		}
		data := p[4 : 4+n]
		p = p[4+n:]
		out.Extensions = append(out.Extensions, typ)
		switch typ {
		case ExtSupportedVersions:
			if len(data) != 2 {
				return out, fmt.Errorf("supported_versions: %w", ErrMalformed)
			}
			out.Version = binary.BigEndian.Uint16(data)
		case ExtALPN:
			// ProtocolNameList with exactly one name.
			if len(data) < 3 || int(binary.BigEndian.Uint16(data)) != len(data)-2 || int(data[2]) != len(data)-3 || data[2] == 0 {
				return out, fmt.Errorf("alpn: %w", ErrMalformed)
			}
			out.ALPN = string(data[3:])
		}
	}
	return out, nil
}

// versionCode is JA4's two-character spelling of a TLS version.
func versionCode(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	}
	return "00"
}

// alpnCode is the first and last character of the chosen ALPN value, "00"
// without one; a value whose ends are not ASCII letters or digits is
// spelled by the first and last hex digit of its bytes instead.
func alpnCode(a string) string {
	if a == "" {
		return "00"
	}
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	first, last := a[0], a[len(a)-1]
	if alnum(first) && alnum(last) {
		return string([]byte{first, last})
	}
	h := hex.EncodeToString([]byte{first, last})
	return h[:1] + h[3:]
}

// prefix is JA4S's first part: transport, version, extension count, ALPN.
func (s ServerHello) prefix() string {
	return fmt.Sprintf("t%s%02d%s", versionCode(s.Version), min(len(s.Extensions), 99), alpnCode(s.ALPN))
}

func (s ServerHello) extList() string {
	parts := make([]string, len(s.Extensions))
	for i, e := range s.Extensions {
		parts[i] = fmt.Sprintf("%04x", e)
	}
	return strings.Join(parts, ",")
}

// JA4S returns the server's JA4S fingerprint over TCP, e.g.
// "t120400_c030_4e8089b08790": version, extension count and ALPN, the
// chosen cipher suite, and the first 12 hex digits of the SHA-256 of the
// extensions in the order sent.
func (s ServerHello) JA4S() string {
	h := "000000000000"
	if len(s.Extensions) > 0 {
		sum := sha256.Sum256([]byte(s.extList()))
		h = hex.EncodeToString(sum[:])[:12]
	}
	return fmt.Sprintf("%s_%04x_%s", s.prefix(), s.CipherSuite, h)
}

// JA4SRaw returns JA4S with the extension list in clear instead of hashed
// ("t120400_c030_0005,0017,ff01,0000").
func (s ServerHello) JA4SRaw() string {
	return fmt.Sprintf("%s_%04x_%s", s.prefix(), s.CipherSuite, s.extList())
}
