package ftp

import (
	"bufio"
	"errors"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"iotwatch/internal/netx"
)

func reader(s string) *textproto.Reader {
	return textproto.NewReader(bufio.NewReader(strings.NewReader(s)))
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		code     int
		lines    []string
		protocol bool // want a netx.ErrProtocol
		anyErr   bool
	}{
		{"vsftpd greeting", "220 (vsFTPd 3.0.3)\r\n", 220, []string{"(vsFTPd 3.0.3)"}, false, false},
		{"multi-line, bare continuation", "220-Welcome\r\n to x\r\n220 ready\r\n", 220, []string{"Welcome", "to x", "ready"}, false, false},
		{"multi-line, coded continuation", "230-Welcome\r\n230-more\r\n230 Login successful.\r\n", 230, []string{"Welcome", "more", "Login successful."}, false, false},
		{"code alone", "220\r\n", 220, []string{""}, false, false},
		{"refusal", "530 Login incorrect.\r\n", 530, []string{"Login incorrect."}, false, false},
		{"another code inside", "211-Features:\r\n MDTM\r\n 500 not the end\r\n211 End\r\n", 211, []string{"Features:", "MDTM", "500 not the end", "End"}, false, false},
		{"ssh banner", "SSH-2.0-OpenSSH\r\n", 0, nil, true, true},
		{"short", "22\r\n", 0, nil, true, true},
		{"no separator", "220x\r\n", 0, nil, true, true},
		{"empty", "", 0, nil, false, true},
		{"unterminated", "220-a\r\nb\r\n", 220, []string{"a", "b"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := ReadReply(reader(tt.in))
			if (err != nil) != tt.anyErr || errors.Is(err, netx.ErrProtocol) != tt.protocol {
				t.Fatalf("ReadReply(%q) error %v, want error %v (protocol %v)", tt.in, err, tt.anyErr, tt.protocol)
			}
			if rep.Code != tt.code || !slices.Equal(rep.Lines, tt.lines) {
				t.Errorf("ReadReply(%q) = %d %q, want %d %q", tt.in, rep.Code, rep.Lines, tt.code, tt.lines)
			}
		})
	}
}

func TestReadReplyLineCap(t *testing.T) {
	in := "220-start\r\n" + strings.Repeat("x\r\n", 2*MaxLines) + "220 end\r\n"
	if _, err := ReadReply(reader(in)); !errors.Is(err, netx.ErrProtocol) {
		t.Errorf("reply of %d lines: error %v, want a protocol error", 2*MaxLines, err)
	}
}

func TestReplyFormats(t *testing.T) {
	r := Reply{Code: 230, Lines: []string{"Welcome", "Login successful."}}
	if got, want := r.String(), "230 Welcome Login successful."; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := r.Text(), "Welcome\nLogin successful."; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
}

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct{ in, verb, arg string }{
		{"USER anonymous", "USER", "anonymous"},
		{"pass secret with spaces\r\n", "PASS", "secret with spaces"},
		{"QUIT", "QUIT", ""},
		{"", "", ""},
	} {
		if v, a := ParseCommand(tt.in); v != tt.verb || a != tt.arg {
			t.Errorf("ParseCommand(%q) = %q, %q; want %q, %q", tt.in, v, a, tt.verb, tt.arg)
		}
	}
}

// FuzzReadReply: no panic, and a reply read without error has a code of
// three digits and at least one line; MaxLines holds.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "230-a\r\nb\r\n230 c\r\n", "530-\r\n", "\x00\xff", "999 x", "331 Please specify the password.\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rep, err := ReadReply(reader(s))
		if err != nil {
			return
		}
		if rep.Code < 0 || rep.Code > 999 || len(rep.Lines) == 0 || len(rep.Lines) > MaxLines {
			t.Fatalf("ReadReply(%q) = %d with %d lines", s, rep.Code, len(rep.Lines))
		}
	})
}
