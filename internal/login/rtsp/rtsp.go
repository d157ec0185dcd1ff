// Package rtsp audits RTSP (camera stream) logins: DESCRIBE, the 401
// challenge (Basic or Digest, parsed as in HTTP), and 200 as the verdict.
package rtsp

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/httpauth"
	wirertsp "iotwatch/internal/wire/rtsp"
)

// Module is the RTSP login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoRTSP} }

type session struct {
	t    login.Target
	url  string
	chal httpauth.Challenge
	nc   int
	cseq int
}

// Open implements login.Module: an unauthenticated DESCRIBE learns the
// challenge; a 200 means the stream is open to anyone (login.ErrNoAuth).
func (Module) Open(ctx context.Context, t login.Target) (login.Session, error) {
	path := t.Path
	if path == "" {
		path = "/"
	}
	s := &session{t: t, url: "rtsp://" + t.Addr.String() + path}
	resp, err := s.describe(ctx, "")
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case 200:
		return nil, fmt.Errorf("rtsp %s: %w", s.url, login.ErrNoAuth)
	case 401:
		cs := httpauth.ParseChallenges(resp.Header.Values("Www-Authenticate"))
		if c, ok := httpauth.Find(cs, "digest"); ok {
			s.chal = c
		} else if c, ok := httpauth.Find(cs, "basic"); ok {
			s.chal = c
		} else {
			return nil, fmt.Errorf("rtsp %s: %w: %q", s.url, login.ErrUnsupported, resp.Header.Values("Www-Authenticate"))
		}
		return s, nil
	default:
		return nil, fmt.Errorf("rtsp %s: %w: status %d", s.url, login.ErrUnsupported, resp.Code)
	}
}

func (s *session) Close() error { return nil }

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	for round := 0; round < 2; round++ {
		var authz string
		if s.chal.Scheme == "digest" {
			s.nc++
			var err error
			authz, err = httpauth.DigestAuthorization(s.chal, c.Username, c.Password, "DESCRIBE", s.url, s.nc)
			if err != nil {
				return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("rtsp %s: %w", s.url, err)}
			}
		} else {
			authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))
		}
		resp, err := s.describe(ctx, authz)
		if err != nil {
			return login.Fail(err)
		}
		switch {
		case resp.Code == 200:
			return login.Accepted("RTSP/1.0 200 to DESCRIBE after 401")
		case resp.Code == 401:
			cs := httpauth.ParseChallenges(resp.Header.Values("Www-Authenticate"))
			if ch, ok := httpauth.Find(cs, s.chal.Scheme); ok {
				stale := strings.EqualFold(ch.Params["stale"], "true")
				s.chal, s.nc = ch, 0
				if stale {
					continue
				}
			}
			return login.Denied("RTSP 401")
		case resp.Code == 403:
			return login.Denied("RTSP 403")
		case resp.Code == 453 || resp.Code == 503:
			return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: "RTSP " + strconv.Itoa(resp.Code)}
		default:
			return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("rtsp %s: %w: status %d", s.url, login.ErrProtocol, resp.Code)}
		}
	}
	return login.Denied("digest nonce stale twice")
}

func (s *session) describe(ctx context.Context, authz string) (*wirertsp.Response, error) {
	_, conn, err := s.t.Attempt(ctx, "tcp", 0) // the reply is cut at 64 KiB below
	if err != nil {
		return nil, fmt.Errorf("rtsp dial %s: %w", s.t.Addr, err)
	}
	defer conn.Close()
	s.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "DESCRIBE %s RTSP/1.0\r\nCSeq: %d\r\nAccept: application/sdp\r\nUser-Agent: iotwatch-audit\r\n", s.url, s.cseq)
	if authz != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", authz)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, fmt.Errorf("rtsp write %s: %w", s.t.Addr, err)
	}
	return wirertsp.ReadResponse(bufio.NewReader(io.LimitReader(conn, 64<<10)), 0)
}
