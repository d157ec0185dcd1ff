// Package http audits HTTP logins of device web UIs: Basic and Digest
// authentication (judged by a 2xx after a 401 challenge) and HTML form logins
// from templates kept as data (forms.yaml).
package http

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/httpauth"
)

// Module is the HTTP login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoHTTP, model.ProtoHTTPS} }

// maxBody caps what is read of any response.
const maxBody = 256 << 10

type session struct {
	t      login.Target
	client *nethttp.Client
	base   *url.URL
	path   string
	scheme string             // "basic", "digest" or "form"
	chal   httpauth.Challenge // the latest digest challenge
	nc     int
	form   *formPlan
}

// Open implements login.Module: it fetches the path once without
// credentials to learn how the surface authenticates.
func (Module) Open(ctx context.Context, t login.Target) (login.Session, error) {
	s := newSession(t)
	resp, body, err := s.get(ctx, s.path, "")
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == nethttp.StatusUnauthorized:
		cs := httpauth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
		if c, ok := httpauth.Find(cs, "digest"); ok {
			s.scheme, s.chal = "digest", c
			return s, nil
		}
		if _, ok := httpauth.Find(cs, "basic"); ok {
			s.scheme = "basic"
			return s, nil
		}
		return nil, fmt.Errorf("http %s: %w: %q", t.Addr, login.ErrUnsupported, resp.Header.Values("WWW-Authenticate"))
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if plan := planForm(resp, body); plan != nil {
			s.scheme, s.form = "form", plan
			return s, nil
		}
		return nil, fmt.Errorf("http %s%s: %w", t.Addr, s.path, login.ErrNoAuth)
	case resp.StatusCode == nethttp.StatusTooManyRequests:
		return nil, fmt.Errorf("http %s: rate limited before any attempt (429)", t.Addr)
	default:
		return nil, fmt.Errorf("http %s%s: %w: status %d", t.Addr, s.path, login.ErrUnsupported, resp.StatusCode)
	}
}

func newSession(t login.Target) *session {
	scheme := "http"
	if t.TLS || t.Protocol == model.ProtoHTTPS {
		scheme = "https"
	}
	path := t.Path
	if path == "" {
		path = "/"
	}
	tr := &nethttp.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return t.DialContext(ctx, network)
		},
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // devices use self-signed certificates; we audit, not trust
		MaxIdleConnsPerHost:   2,
		ResponseHeaderTimeout: t.AttemptTimeout(),
		DisableCompression:    true,
	}
	jar, _ := cookiejar.New(nil)
	return &session{
		t:    t,
		base: &url.URL{Scheme: scheme, Host: t.Addr.String()},
		path: path,
		client: &nethttp.Client{
			Transport: tr,
			Timeout:   t.AttemptTimeout(),
			Jar:       jar,
			CheckRedirect: func(req *nethttp.Request, via []*nethttp.Request) error {
				if len(via) >= 5 || req.URL.Host != t.Addr.String() {
					return nethttp.ErrUseLastResponse // never follow a device off-target
				}
				return nil
			},
		},
	}
}

func (s *session) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *session) url(path string) string {
	u, err := s.base.Parse(path)
	if err != nil {
		return s.base.String() + "/"
	}
	return u.String()
}

func (s *session) get(ctx context.Context, path, authz string) (*nethttp.Response, []byte, error) {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, s.url(path), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("http request %s: %w", s.t.Addr, err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return s.do(req)
}

func (s *session) do(req *nethttp.Request) (*nethttp.Response, []byte, error) {
	req.Header.Set("User-Agent", "iotwatch-audit")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("http %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("http read %s: %w", req.URL.Redacted(), err)
	}
	return resp, body, nil
}

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	ctx, cancel := context.WithTimeout(ctx, s.t.AttemptTimeout())
	defer cancel()
	switch s.scheme {
	case "form":
		return s.tryForm(ctx, c)
	case "digest":
		return s.tryDigest(ctx, c)
	default:
		cred := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
		resp, _, err := s.get(ctx, s.path, "Basic "+cred)
		if err != nil {
			return fail(err)
		}
		return judge(resp)
	}
}

func (s *session) tryDigest(ctx context.Context, c login.Credential) login.Result {
	for round := 0; round < 2; round++ {
		s.nc++
		authz, err := httpauth.DigestAuthorization(s.chal, c.Username, c.Password, nethttp.MethodGet, s.path, s.nc)
		if err != nil {
			return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("http %s: %w", s.t.Addr, err)}
		}
		resp, _, err := s.get(ctx, s.path, authz)
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode == nethttp.StatusUnauthorized {
			cs := httpauth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
			if ch, ok := httpauth.Find(cs, "digest"); ok {
				stale := strings.EqualFold(ch.Params["stale"], "true")
				s.chal, s.nc = ch, 0
				if stale {
					continue // same credential, fresh nonce
				}
			}
		}
		return judge(resp)
	}
	return login.Denied("digest nonce stale twice")
}

// judge classifies the reply to a request that carried credentials.
func judge(resp *nethttp.Response) login.Result {
	status := resp.Status
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return login.Accepted("HTTP " + status + " after 401 challenge")
	case resp.StatusCode == nethttp.StatusForbidden:
		// Authenticated but refused the path — or refused outright: only a
		// wrong password answered with 401 tells (the audit's control).
		r := login.Accepted("HTTP " + status + " after 401 challenge")
		r.Provisional = true
		return r
	case resp.StatusCode == nethttp.StatusUnauthorized:
		return login.Denied("HTTP " + status)
	case resp.StatusCode == nethttp.StatusTooManyRequests, resp.StatusCode == nethttp.StatusServiceUnavailable:
		return login.Result{Status: model.StatusAuthFailed, Throttled: true, Evidence: "HTTP " + status}
	default:
		return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("%w: unexpected HTTP %s", login.ErrProtocol, status)}
	}
}

func fail(err error) login.Result {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return login.Result{Status: model.StatusTimeout, Err: err}
	}
	return login.Fail(err)
}
