// Package ftp is the FTP control-connection codec (RFC 959) shared by the
// prober, the login module and the simulator: reading replies, single- or
// multi-line, and splitting command lines. It holds no policy: what a code
// means for a probe or an audit is decided by its callers.
package ftp

import (
	"fmt"
	"net/textproto"
	"strings"

	"iotwatch/internal/netx"
	"iotwatch/internal/wire"
)

// MaxLines caps the lines of one multi-line reply (a server streaming an
// endless reply is cut off here).
const MaxLines = 256

// Reply is one FTP reply.
type Reply struct {
	Code  int
	Lines []string // the text of each line, without code and separator
}

// Text returns the reply's lines joined with newlines.
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// String returns the reply on one line: "230 Login successful.".
func (r Reply) String() string {
	return fmt.Sprintf("%d %s", r.Code, strings.Join(r.Lines, " "))
}

// ReadReply reads one reply: "220 text", or "220-text" lines up to the line
// "220 text" that ends it (an intermediate line may repeat "220-" or not).
// A reply that does not start with three digits is a netx.ErrProtocol. It
// never panics on arbitrary bytes.
func ReadReply(r *textproto.Reader) (Reply, error) {
	line, err := r.ReadLine()
	if err != nil {
		return Reply{}, err
	}
	code, more, text, ok := parseLine(line)
	if !ok {
		return Reply{}, fmt.Errorf("ftp reply %q: %w", wire.Excerpt(line, 40), netx.ErrProtocol)
	}
	rep := Reply{Code: code, Lines: []string{text}}
	for more {
		if len(rep.Lines) >= MaxLines {
			return rep, fmt.Errorf("ftp reply over %d lines: %w", MaxLines, netx.ErrProtocol)
		}
		if line, err = r.ReadLine(); err != nil {
			return rep, err
		}
		c, m, t, ok := parseLine(line)
		switch {
		case ok && c == code && !m:
			rep.Lines = append(rep.Lines, t)
			more = false
		case ok && c == code:
			rep.Lines = append(rep.Lines, t)
		default:
			rep.Lines = append(rep.Lines, strings.TrimSpace(line))
		}
	}
	return rep, nil
}

// parseLine splits "230 text", "230-text" or "230".
func parseLine(line string) (code int, more bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	for i := range 3 {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", false
		}
		code = code*10 + int(line[i]-'0')
	}
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, false, "", false
	}
	return code, more, strings.TrimSpace(line[4:]), true
}

// ParseCommand splits a command line into its upper-cased verb and argument:
// "user anonymous" is ("USER", "anonymous").
func ParseCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	return strings.ToUpper(verb), arg
}
