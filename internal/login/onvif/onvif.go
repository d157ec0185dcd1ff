// Package onvif audits ONVIF device-service logins: GetDeviceInformation (a
// read-only call) with a WS-Security UsernameToken whose PasswordDigest is
// Base64(SHA-1(nonce + created + password)), Created stamped with the
// device's own clock (GetSystemDateAndTime, answered without a credential,
// gives its offset from ours; devices refuse tokens far from their clock).
// The device service is found as the prober found it: a unicast
// WS-Discovery Probe to the target's 3702/udp, and only an XAddr on the
// target's own address is called. The empty credential is sent without any
// security header: a device answering it needs no login (the audit's
// anonymous check). A GetDeviceInformationResponse is acceptance; a
// ter:NotAuthorized or other WS-Security fault, or HTTP 401, is refusal; a
// device that answers a token with HTTP 401 and a Digest challenge (set to
// HTTP Digest only) gets the same credential as HTTP Digest instead;
// HTTP 429/503 or a fault naming a lock is refusal under throttling.
package onvif

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	probeonvif "iotwatch/internal/probe/onvif"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
	"iotwatch/internal/wire/httpauth"
	"iotwatch/internal/wire/onvif"
)

// Module is the ONVIF login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoONVIF} }

// Open implements login.Module: it finds the device service and the
// device's clock offset.
func (Module) Open(ctx context.Context, t login.Target) (login.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, t.AttemptTimeout())
	defer cancel()
	u, err := locate(ctx, t)
	if err != nil {
		return nil, err
	}
	s := &session{t: t, url: u, hc: onvif.NewHTTPClient()}
	before := time.Now()
	if x, err := onvif.Call(ctx, s.hc, u, onvif.GetSystemDateAndTime, nil); err == nil && x.Message != nil &&
		x.Message.Reply(onvif.GetSystemDateAndTime) == nil && !x.Message.SystemDateAndTime.UTC.IsZero() {
		s.offset = x.Message.SystemDateAndTime.UTC.Sub(before.Add(time.Since(before) / 2))
	}
	return s, nil
}

// locate returns the device-service URL: t.Path when it is an http URL on
// the target's address, else the XAddr a WS-Discovery Probe to t.Addr names.
func locate(ctx context.Context, t login.Target) (string, error) {
	if strings.HasPrefix(t.Path, "http://") {
		return onvif.DeviceURL([]string{t.Path}, t.Addr.Addr())
	}
	_, conn, err := t.Attempt(ctx, "udp", 0)
	if err != nil {
		return "", fmt.Errorf("onvif dial %s: %w", t.Addr, err)
	}
	defer conn.Close()
	m, err := probeonvif.Discover(conn)
	if err != nil {
		return "", fmt.Errorf("onvif %s: %w", t.Addr, err)
	}
	var xaddrs []string
	for _, pm := range m.ProbeMatches {
		xaddrs = append(xaddrs, pm.XAddrs...)
	}
	u, err := onvif.DeviceURL(xaddrs, t.Addr.Addr())
	if err != nil {
		return "", fmt.Errorf("onvif %s: %w", t.Addr, err)
	}
	return u, nil
}

type session struct {
	t      login.Target
	url    string
	hc     *http.Client
	offset time.Duration // device clock minus ours
}

func (s *session) Close() error { return nil }

// Try implements login.Session.
func (s *session) Try(ctx context.Context, c login.Credential) login.Result {
	ctx, cancel := context.WithTimeout(ctx, s.t.AttemptTimeout())
	defer cancel()
	var tok *onvif.UsernameToken
	what := "GetDeviceInformation without credential"
	if c.Username != "" || c.Password != "" {
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		t := onvif.NewToken(c.Username, c.Password, nonce, time.Now().Add(s.offset))
		tok, what = &t, "GetDeviceInformation with a UsernameToken digest"
	}
	x, err := onvif.Call(ctx, s.hc, s.url, onvif.GetDeviceInformation, tok)
	if err != nil {
		return login.Fail(fmt.Errorf("onvif %s: %w", s.t.Addr, err))
	}
	if x.Status == http.StatusUnauthorized && tok != nil {
		// The device demands HTTP Digest (ONVIF allows either; some
		// devices are set to digest only): answer its challenge instead.
		if ch, ok := httpauth.Find(httpauth.ParseChallenges(x.Authenticate), "digest"); ok {
			auth, err := httpauth.DigestAuthorization(ch, c.Username, c.Password, http.MethodPost, requestURI(s.url), 1)
			if err != nil {
				return login.Result{Status: model.StatusProtocolError, Err: fmt.Errorf("onvif %s: %w: %w", s.t.Addr, err, login.ErrUnsupported)}
			}
			if x, err = onvif.Post(ctx, s.hc, s.url, onvif.GetDeviceInformation, nil, auth); err != nil {
				return login.Fail(fmt.Errorf("onvif %s: %w", s.t.Addr, err))
			}
			what = "GetDeviceInformation with HTTP Digest"
		}
	}
	return judge(x, what)
}

// requestURI is the path (and query) of the device-service URL, as HTTP
// Digest's uri parameter names it.
func requestURI(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.RequestURI()
	}
	return "/"
}

// judge classifies a GetDeviceInformation exchange.
func judge(x *onvif.Exchange, what string) login.Result {
	evidence := fmt.Sprintf("%s: HTTP %d", what, x.Status)
	throttled := x.Status == http.StatusTooManyRequests || x.Status == http.StatusServiceUnavailable
	if x.Message == nil {
		if x.Status == http.StatusUnauthorized {
			return login.Denied(evidence + " " + login.Truncate(strings.Join(x.Authenticate, ", "), 80))
		}
		if throttled {
			r := login.Denied(evidence)
			r.Throttled = true
			return r
		}
		return login.Result{Status: model.StatusProtocolError, Evidence: evidence,
			Err: fmt.Errorf("onvif: HTTP %d without a SOAP reply: %w", x.Status, login.ErrProtocol)}
	}
	err := x.Message.Reply(onvif.GetDeviceInformation)
	var f *onvif.Fault
	switch {
	case err == nil && x.Status/100 == 2:
		d := x.Message.DeviceInformation
		return login.Accepted(evidence + login.Truncate(fmt.Sprintf("; Manufacturer=%s Model=%s FirmwareVersion=%s SerialNumber=%s",
			d.Manufacturer, d.Model, d.FirmwareVersion, d.SerialNumber), 300))
	case errors.As(err, &f) && (f.NotAuthorized() || locked(f.Reason)) || x.Status == http.StatusUnauthorized:
		r := login.Denied(evidence + " " + login.Truncate(err.Error(), 160))
		r.Throttled = throttled || f != nil && locked(f.Reason)
		return r
	case throttled:
		r := login.Denied(evidence + " " + login.Truncate(err.Error(), 160))
		r.Throttled = true
		return r
	}
	return login.Result{Status: model.StatusProtocolError, Evidence: evidence,
		Err: fmt.Errorf("onvif: %w: %w", err, login.ErrProtocol)}
}

// locked reports whether a fault reason says the account or client is
// locked out or rate limited.
func locked(reason string) bool {
	r := strings.ToLower(reason)
	return strings.Contains(r, "lock") || strings.Contains(r, "too many") || strings.Contains(r, "try again later")
}
