// Package telnet probes telnet services: it answers IAC option negotiation
// (refusing everything but ECHO and SUPPRESS-GO-AHEAD), records the options
// the server asked for, and collects the banner text up to the login prompt.
package telnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
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

// Command is one negotiation command from the server.
type Command struct {
	Verb   byte
	Option byte
}

func (c Command) String() string {
	return fmt.Sprintf("%s %d", map[byte]string{WILL: "WILL", WONT: "WONT", DO: "DO", DONT: "DONT", SB: "SB"}[c.Verb], c.Option)
}

// Record is the telnet handshake data.
type Record struct {
	Banner      string   `json:"banner"`
	Negotiation []string `json:"negotiation,omitempty"`
	LoginPrompt string   `json:"login_prompt,omitempty"` // the prompt line, when one was seen
	ShellPrompt bool     `json:"shell_prompt,omitempty"` // a shell prompt without login (open shell)
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"telnet.banner": r.Banner, "telnet.prompt": r.LoginPrompt, "telnet.negotiation": strings.Join(r.Negotiation, ", ")}
}

// Prober is the telnet prober.
type Prober struct {
	// Idle ends reading when the server has been silent this long after
	// sending text (0: 1.5 s).
	Idle time.Duration
}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoTelnet }

var (
	loginRE = regexp.MustCompile(`(?i)(login|username|user name|user|password|passwd)\s*:\s*$`)
	shellRE = regexp.MustCompile(`[#$>]\s*$`)
)

// Probe implements probe.Prober.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	deadline := probe.Deadline(ctx, conn, env)
	idle := p.Idle
	if idle == 0 {
		idle = 1500 * time.Millisecond
	}
	var (
		text    []byte
		pending []byte
		cmds    []string
		total   int
		buf     = make([]byte, 4096)
	)
	limit := env.Limit()
	for total < limit {
		if len(text) > 0 {
			_ = conn.SetReadDeadline(minTime(deadline, time.Now().Add(idle)))
		}
		n, err := conn.Read(buf)
		total += n
		var reply []byte
		var cs []Command
		var t []byte
		t, cs, pending = Parse(append(pending, buf[:n]...))
		text = append(text, t...)
		for _, c := range cs {
			if len(cmds) < 64 {
				cmds = append(cmds, c.String())
			}
			reply = append(reply, answer(c)...)
		}
		if len(reply) > 0 {
			if _, werr := conn.Write(reply); werr != nil && err == nil {
				err = werr
			}
		}
		if stripped := strings.TrimRight(string(text), "\x00"); loginRE.MatchString(stripped) || len(text) > 0 && shellRE.MatchString(stripped) && err == nil && n < len(buf) && idleAfter(conn, deadline, idle) {
			break
		}
		if err != nil {
			if len(text) > 0 || len(cmds) > 0 {
				break // idle after text, or server closed: what we have is the banner
			}
			return probe.Fail(model.ProtoTelnet, fmt.Errorf("telnet read: %w", err))
		}
	}
	rec := &Record{Banner: probe.Printable(text, 2048), Negotiation: cmds}
	last := lastLine(rec.Banner)
	switch {
	case loginRE.MatchString(last):
		rec.LoginPrompt = last
	case shellRE.MatchString(last):
		rec.ShellPrompt = true
	}
	if len(text) == 0 && len(cmds) == 0 {
		return probe.Fail(model.ProtoTelnet, fmt.Errorf("telnet: no data: %w", probe.ErrProtocol))
	}
	return probe.Result{Protocol: model.ProtoTelnet, Status: model.StatusSuccess, Banner: rec.Banner, Data: rec}
}

// idleAfter waits briefly to see whether more text follows a shell-like
// prompt character; it reports true when nothing does.
func idleAfter(conn net.Conn, deadline time.Time, idle time.Duration) bool {
	_ = conn.SetReadDeadline(minTime(deadline, time.Now().Add(idle/3)))
	var b [1]byte
	n, err := conn.Read(b[:])
	if n > 0 {
		return false // more is coming; cannot push back a byte cheaply, so the loop continues
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\r\n\x00 ")
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// answer returns our reply to a server command: accept the server's ECHO and
// SUPPRESS-GO-AHEAD, refuse everything else.
func answer(c Command) []byte {
	switch c.Verb {
	case DO:
		return []byte{IAC, WONT, c.Option}
	case WILL:
		if c.Option == 1 || c.Option == 3 {
			return []byte{IAC, DO, c.Option}
		}
		return []byte{IAC, DONT, c.Option}
	}
	return nil
}

// Parse splits b into text and negotiation commands. An incomplete command at
// the end is returned as rest, to be prepended to the next read.
// Subnegotiations (IAC SB ... IAC SE) are reported as SB commands and dropped.
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
				if len(b)-i > 1024 {
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
