// Package wire holds what the protocol codecs under wire/<proto> share:
// reading one bounded text line and quoting untrusted bytes in error
// messages. Each codec is used by every side that speaks its protocol — the
// prober, the login module and the simulator — so that they differ only in
// what they do with the protocol, never in how they parse it (zgrab2's
// lib/<proto> beside modules/<proto>).
package wire

import (
	"bufio"
	"fmt"
	"strings"

	"iotwatch/internal/netx"
)

// ErrLineTooLong is returned for a line over the caller's limit.
var ErrLineTooLong = fmt.Errorf("line too long: %w", netx.ErrProtocol)

// ReadLine reads one line of at most max bytes and returns it without its
// LF or CR LF.
func ReadLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return strings.TrimRight(string(b), "\r"), nil
		}
		if len(b) >= max {
			return "", ErrLineTooLong
		}
		b = append(b, c)
	}
}

// Excerpt cuts s to n bytes and replaces control bytes with '.', for quoting
// what a peer sent in an error message.
func Excerpt(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, s)
}
