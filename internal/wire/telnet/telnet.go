// Package telnet is the telnet codec (RFC 854/855) shared by the prober, the
// login module and the simulator: splitting a stream into text and option
// negotiation, the one answer iotwatch gives to the server's options, a
// reader that decodes a stream byte by byte, and the classification of what
// the server's last output asks for (prompt.go).
//
// Everything here reads bytes from the network: Parse, Reader and Classify
// never panic on arbitrary input (FuzzParse, FuzzReader, FuzzClassify).
package telnet

import (
	"fmt"
	"io"
	"strings"
)

// Telnet command bytes (RFC 854).
const (
	SE   = 240
	SB   = 250
	WILL = 251
	WONT = 252
	DO   = 253
	DONT = 254
	IAC  = 255
)

// Options iotwatch accepts from a server.
const (
	OptEcho = 1
	OptSGA  = 3 // SUPPRESS-GO-AHEAD
)

// maxSubnegotiation caps an IAC SB ... IAC SE sequence; a longer one is dropped.
const maxSubnegotiation = 1024

// Command is one negotiation command.
type Command struct {
	Verb   byte // WILL, WONT, DO, DONT or SB
	Option byte
}

func (c Command) String() string {
	return fmt.Sprintf("%s %d", map[byte]string{WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT", SB: "SB"}[c.Verb], c.Option)
}

// Parse splits b into text and negotiation commands. An incomplete command at
// the end is returned as rest, to be prepended to the next read.
// Subnegotiations (IAC SB ... IAC SE) are reported as SB commands and
// dropped; IAC IAC is a data byte 255; other two-byte commands (NOP, GA)
// are dropped.
func Parse(b []byte) (text []byte, cmds []Command, rest []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != IAC {
			text = append(text, c)
			continue
		}
		if i+1 >= len(b) {
			return text, cmds, b[i:]
		}
		switch v := b[i+1]; v {
		case IAC:
			text = append(text, IAC)
			i++
		case WILL, WONT, DO, DONT:
			if i+2 >= len(b) {
				return text, cmds, b[i:]
			}
			cmds = append(cmds, Command{Verb: v, Option: b[i+2]})
			i += 2
		case SB:
			end := -1
			for j := i + 2; j+1 < len(b); j++ {
				if b[j] == IAC && b[j+1] == SE {
					end = j + 1
					break
				}
			}
			if end < 0 {
				if len(b)-i > maxSubnegotiation {
					return text, cmds, nil // runaway subnegotiation: drop it
				}
				return text, cmds, b[i:]
			}
			if i+2 < len(b) {
				cmds = append(cmds, Command{Verb: SB, Option: b[i+2]})
			}
			i = end
		default:
			i++ // two-byte command (NOP, GA, ...)
		}
	}
	return text, cmds, nil
}

// Answer returns a client's reply to a server command: accept the server's
// ECHO and SUPPRESS-GO-AHEAD, refuse everything else (nil: no reply).
func Answer(c Command) []byte {
	switch c.Verb {
	case DO:
		return []byte{IAC, WONT, c.Option}
	case WILL:
		if c.Option == OptEcho || c.Option == OptSGA {
			return []byte{IAC, DO, c.Option}
		}
		return []byte{IAC, DONT, c.Option}
	}
	return nil
}

// Escape doubles the IAC bytes of data to send.
func Escape(s string) string { return strings.ReplaceAll(s, "\xff", "\xff\xff") }

// Reader decodes a telnet stream: ReadByte returns the data bytes, and
// every negotiation command is handed to OnCommand as it arrives.
type Reader struct {
	r         io.Reader
	onCommand func(Command) error
	buf       []byte
	pending   []byte // an incomplete command from the last read
	text      []byte // decoded data not yet returned
	err       error  // the read error, returned once text is drained
	raw       int    // bytes read from r
}

// NewReader decodes r; onCommand (may be nil) sees each command, and an
// error it returns ends the stream.
func NewReader(r io.Reader, onCommand func(Command) error) *Reader {
	return &Reader{r: r, onCommand: onCommand, buf: make([]byte, 4096)}
}

// ReadByte returns the next data byte.
func (t *Reader) ReadByte() (byte, error) {
	for len(t.text) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		t.fill()
	}
	b := t.text[0]
	t.text = t.text[1:]
	return b, nil
}

// Buffered returns how many decoded data bytes are waiting: 0 means the
// next ReadByte reads the network.
func (t *Reader) Buffered() int { return len(t.text) }

// Raw returns how many bytes were read from the stream, commands included.
func (t *Reader) Raw() int { return t.raw }

func (t *Reader) fill() {
	n, err := t.r.Read(t.buf)
	t.raw += n
	text, cmds, rest := Parse(append(t.pending, t.buf[:n]...))
	t.pending = append([]byte(nil), rest...)
	t.text = append(t.text, text...)
	for _, c := range cmds {
		if t.onCommand == nil {
			continue
		}
		if cerr := t.onCommand(c); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.err = err
	}
}
