package tlshello

import (
	"encoding/binary"
	"errors"
	"testing"
)

// hello builds a ServerHello record: version, cipher, extensions (type and
// body), split over records of at most split bytes of handshake (0: one).
func hello(version, cipher uint16, random []byte, exts [][2][]byte, split int) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, version)
	if random == nil {
		random = make([]byte, 32)
	}
	body = append(body, random...)
	body = append(body, 0) // empty session id
	body = binary.BigEndian.AppendUint16(body, cipher)
	body = append(body, 0) // null compression
	if exts != nil {
		var e []byte
		for _, x := range exts {
			e = append(e, x[0]...)
			e = binary.BigEndian.AppendUint16(e, uint16(len(x[1])))
			e = append(e, x[1]...)
		}
		body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
		body = append(body, e...)
	}
	msg := append([]byte{msgServerHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	if split == 0 {
		split = len(msg)
	}
	var out []byte
	for len(msg) > 0 {
		n := min(split, len(msg))
		out = append(out, recHandshake, 3, 3, byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

func ext(typ uint16, body ...byte) [2][]byte {
	return [2][]byte{binary.BigEndian.AppendUint16(nil, typ), body}
}

func TestJA4SSpecExample(t *testing.T) {
	// JA4S.md's example: TLS 1.2, c030, extensions 0005,0017,ff01,0000.
	b := hello(0x0303, 0xc030, nil, [][2][]byte{ext(0x0005), ext(0x0017), ext(0xff01, 0), ext(0x0000)}, 0)
	sh, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sh.JA4S(), "t120400_c030_4e8089b08790"; got != want {
		t.Errorf("JA4S = %s, want %s", got, want)
	}
	if got, want := sh.JA4SRaw(), "t120400_c030_0005,0017,ff01,0000"; got != want {
		t.Errorf("JA4S_r = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	tls13 := [][2][]byte{ext(ExtSupportedVersions, 3, 4), ext(0x0033, 0, 0x1d, 0, 0)}
	alpnH2 := ext(ExtALPN, 0, 3, 2, 'h', '2')
	retry := hello(0x0303, 0x1301, helloRetryRandom, [][2][]byte{ext(ExtSupportedVersions, 3, 4), ext(0x0033, 0, 0x17)}, 0)
	tests := []struct {
		name    string
		in      []byte
		version uint16
		cipher  uint16
		ja4s    string // prefix and cipher
		alpn    string
		retry   bool
		err     error
	}{
		{"tls13", hello(0x0303, 0x1301, nil, tls13, 0), 0x0304, 0x1301, "t130200_1301_", "", false, nil},
		{"tls12 alpn", hello(0x0303, 0xc02f, nil, [][2][]byte{ext(0xff01, 0), alpnH2}, 0), 0x0303, 0xc02f, "t1202h2_c02f_", "h2", false, nil},
		{"tls10 no extensions", hello(0x0301, 0x002f, nil, nil, 0), 0x0301, 0x002f, "t100000_002f_", "", false, nil},
		{"fragmented", hello(0x0303, 0x1302, nil, tls13, 7), 0x0304, 0x1302, "t130200_1302_", "", false, nil},
		{"after retry", append(append(retry, recChangeCipherSpec, 3, 3, 0, 1, 1), hello(0x0303, 0x1301, nil, tls13, 0)...), 0x0304, 0x1301, "t130200_1301_", "", true, nil},
		{"cut record", hello(0x0303, 0x1301, nil, tls13, 0)[:20], 0, 0, "", "", false, ErrShort},
		{"empty", nil, 0, 0, "", "", false, ErrShort},
		{"alert", []byte{recAlert, 3, 3, 0, 2, 2, 40}, 0, 0, "", "", false, ErrAlert},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), 0, 0, "", "", false, ErrNotTLS},
		{"not server hello", []byte{recHandshake, 3, 3, 0, 4, 1, 0, 0, 0}, 0, 0, "", "", false, ErrMalformed},
		{"bad ext length", func() []byte {
			b := hello(0x0303, 0x1301, nil, tls13, 0)
			b[len(b)-1-4-4-4-1-2]++ // extensions length field
			return b
		}(), 0, 0, "", "", false, ErrMalformed},
		{"bad alpn", hello(0x0303, 0xc02f, nil, [][2][]byte{ext(ExtALPN, 0, 9, 2, 'h', '2')}, 0), 0, 0, "", "", false, ErrMalformed},
		{"app data first", []byte{23, 3, 3, 0, 1, 0}, 0, 0, "", "", false, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, err := Parse(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sh.Version != tt.version || sh.CipherSuite != tt.cipher || sh.ALPN != tt.alpn || sh.HelloRetry != tt.retry {
				t.Errorf("got %+v, want version %#x cipher %#x alpn %q retry %v", sh, tt.version, tt.cipher, tt.alpn, tt.retry)
			}
			if got := sh.JA4S(); len(got) != len(tt.ja4s)+12 || got[:len(tt.ja4s)] != tt.ja4s {
				t.Errorf("JA4S = %s, want %s…", got, tt.ja4s)
			}
		})
	}
}

func TestALPNCode(t *testing.T) {
	// "\x01x": ends that are not letters or digits are spelled by the first
	// hex digit of the first byte (0x01) and the last of the last ('x', 0x78).
	for in, want := range map[string]string{"": "00", "h2": "h2", "http/1.1": "h1", "mqtt": "mt", "\x01x": "08"} {
		if got := alpnCode(in); got != want {
			t.Errorf("alpnCode(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	tls13 := [][2][]byte{ext(ExtSupportedVersions, 3, 4), ext(0x0033, 0, 0x1d, 0, 0)}
	f.Add(hello(0x0303, 0x1301, nil, tls13, 0))
	f.Add(hello(0x0303, 0xc02f, nil, [][2][]byte{ext(0xff01, 0), ext(ExtALPN, 0, 3, 2, 'h', '2')}, 5))
	f.Add(hello(0x0301, 0x002f, nil, nil, 0))
	f.Add([]byte{recAlert, 3, 3, 0, 2, 2, 40})
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses fingerprints in the documented shape.
		if got := sh.JA4S(); len(got) != 25 || got[0] != 't' || got[7] != '_' || got[12] != '_' {
			t.Fatalf("JA4S %q from %+v", got, sh)
		}
		if len(sh.Extensions) > len(b) {
			t.Fatalf("%d extensions from %d bytes", len(sh.Extensions), len(b))
		}
	})
}
