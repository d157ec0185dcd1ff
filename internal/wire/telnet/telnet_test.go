package telnet

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in         []byte
		text       string
		cmds, rest int
	}{
		{[]byte{IAC, DO, 24, IAC, WILL, 1, 'a'}, "a", 2, 0},
		{[]byte{'x', IAC, IAC, 'y'}, "x\xffy", 0, 0},
		{[]byte{'x', IAC}, "x", 0, 1},
		{[]byte{'x', IAC, DO}, "x", 0, 2},
		{[]byte{IAC, SB, 24, 1, IAC, SE, 'z'}, "z", 1, 0},
		{[]byte{IAC, SB, 24, 1}, "", 0, 4},
		{[]byte{IAC, 241, 'q'}, "q", 0, 0},
		{append([]byte{IAC, SB, 24}, bytes.Repeat([]byte{'a'}, 2*maxSubnegotiation)...), "", 0, 0},
	}
	for _, tt := range tests {
		text, cmds, rest := Parse(tt.in)
		if string(text) != tt.text || len(cmds) != tt.cmds || len(rest) != tt.rest {
			t.Errorf("Parse(%.20v) = %q, %d cmds, %d rest; want %q, %d, %d", tt.in, text, len(cmds), len(rest), tt.text, tt.cmds, tt.rest)
		}
	}
}

func TestAnswer(t *testing.T) {
	tests := []struct {
		c    Command
		want []byte
	}{
		{Command{WILL, OptEcho}, []byte{IAC, DO, OptEcho}},
		{Command{WILL, OptSGA}, []byte{IAC, DO, OptSGA}},
		{Command{WILL, 31}, []byte{IAC, DONT, 31}},
		{Command{DO, 24}, []byte{IAC, WONT, 24}},
		{Command{DONT, 1}, nil},
		{Command{SB, 24}, nil},
	}
	for _, tt := range tests {
		if got := Answer(tt.c); !bytes.Equal(got, tt.want) {
			t.Errorf("Answer(%v) = %v, want %v", tt.c, got, tt.want)
		}
	}
	if got := Escape("a\xffb"); got != "a\xff\xffb" {
		t.Errorf("Escape = %q", got)
	}
}

// TestReader decodes a stream delivered one byte at a time, so that every
// command is split across reads.
func TestReader(t *testing.T) {
	in := []byte{IAC, DO, 24, 'l', IAC, IAC, IAC, SB, 31, 0, 80, IAC, SE, 'o', IAC, WILL, 1, 'g'}
	var cmds []Command
	r := NewReader(iotest.OneByteReader(bytes.NewReader(in)), func(c Command) error { cmds = append(cmds, c); return nil })
	var text []byte
	for {
		b, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text = append(text, b)
	}
	if string(text) != "l\xffog" || len(cmds) != 3 || cmds[0] != (Command{DO, 24}) || cmds[1] != (Command{SB, 31}) || cmds[2] != (Command{WILL, 1}) {
		t.Errorf("decoded %q and %v", text, cmds)
	}
	if r.Raw() != len(in) {
		t.Errorf("Raw() = %d, want %d", r.Raw(), len(in))
	}
	stop := errors.New("stop")
	r = NewReader(bytes.NewReader([]byte{IAC, DO, 1, 'x'}), func(Command) error { return stop })
	if b, err := r.ReadByte(); b != 'x' || err != nil {
		t.Errorf("first byte %q, %v: data read with the command comes before its error", b, err)
	}
	if _, err := r.ReadByte(); !errors.Is(err, stop) {
		t.Errorf("after the command: %v, want the callback's error", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{IAC, DO, 24, IAC, SB, 24, 1, IAC, SE, 'l', 'o', 'g'})
	f.Add([]byte{IAC, WILL, 1, 'a', IAC, IAC, '\r', 0})
	f.Add([]byte{IAC, SB, 24})
	f.Fuzz(func(t *testing.T, b []byte) {
		text, cmds, rest := Parse(b)
		if len(text)+len(rest) > len(b) || len(cmds) > len(b)/2 {
			t.Fatalf("Parse(%v) = %d text, %d cmds, %d rest", b, len(text), len(cmds), len(rest))
		}
		// Split anywhere, the stream decodes to the same text.
		r := NewReader(iotest.HalfReader(bytes.NewReader(b)), nil)
		var got []byte
		for {
			c, err := r.ReadByte()
			if err != nil {
				break
			}
			got = append(got, c)
		}
		if len(rest) == 0 && len(b) <= maxSubnegotiation && !bytes.Equal(got, text) {
			t.Fatalf("Reader decoded %q, Parse %q", got, text)
		}
	})
}
