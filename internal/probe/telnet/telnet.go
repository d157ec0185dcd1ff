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
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	wiretelnet "iotwatch/internal/wire/telnet"
)

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
		var cs []wiretelnet.Command
		var t []byte
		t, cs, pending = wiretelnet.Parse(append(pending, buf[:n]...))
		text = append(text, t...)
		for _, c := range cs {
			if len(cmds) < 64 {
				cmds = append(cmds, c.String())
			}
			reply = append(reply, wiretelnet.Answer(c)...)
		}
		if len(reply) > 0 {
			if _, werr := conn.Write(reply); werr != nil && err == nil {
				err = werr
			}
		}
		if p := wiretelnet.Classify(text); asksLogin(p) || p == wiretelnet.PromptShell && err == nil && n < len(buf) && idleAfter(conn, deadline, idle) {
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
	switch p := wiretelnet.Classify(text); {
	case asksLogin(p):
		rec.LoginPrompt = lastLine(rec.Banner)
	case p == wiretelnet.PromptShell:
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

// asksLogin reports whether the server's output ends in a login or password prompt.
func asksLogin(p wiretelnet.Prompt) bool {
	return p == wiretelnet.PromptLogin || p == wiretelnet.PromptPassword || p == wiretelnet.PromptFailure
}
