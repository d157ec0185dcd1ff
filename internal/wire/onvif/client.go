package onvif

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
)

// DeviceURL returns the first XAddr that is an http URL on addr itself (an
// IP literal; a host name is never resolved), so that nothing but the named
// target is ever contacted.
func DeviceURL(xaddrs []string, addr netip.Addr) (string, error) {
	for _, x := range xaddrs {
		u, err := url.Parse(x)
		if err != nil || u.Scheme != "http" || u.User != nil {
			continue
		}
		a, err := netip.ParseAddr(u.Hostname())
		if err != nil || a.Unmap() != addr.Unmap() {
			continue
		}
		return u.String(), nil
	}
	return "", fmt.Errorf("no XAddr on %s among %q", addr, xaddrs)
}

// NewHTTPClient returns the client device-service calls use: no proxy, no
// connection reuse, and never a redirect followed (a device could point
// elsewhere).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Exchange is one device-service call's outcome.
type Exchange struct {
	// Status is the HTTP status; Server and Authenticate the reply's
	// headers (WWW-Authenticate values as sent).
	Status       int
	Server       string
	Authenticate []string
	// Message is the parsed SOAP reply (nil when the body was not one).
	Message *Message
	// Body is the reply body, cut to MaxMessage.
	Body []byte
}

// Call posts op (with tok in a WS-Security header when not nil) to the
// device service at u as SOAP 1.2 and parses the answer. A non-SOAP answer
// is not an error here: Exchange.Message is nil and the status says why.
func Call(ctx context.Context, hc *http.Client, u string, op Operation, tok *UsernameToken) (*Exchange, error) {
	return Post(ctx, hc, u, op, tok, "")
}

// Post is Call with an HTTP Authorization header value (HTTP Digest, which
// ONVIF devices also accept and some demand) when authorization is not "".
func Post(ctx context.Context, hc *http.Client, u string, op Operation, tok *UsernameToken, authorization string) (*Exchange, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(Request(op, tok)))
	if err != nil {
		return nil, fmt.Errorf("onvif %s: %w", op, err)
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+op.Action()+`"`)
	req.Header.Set("User-Agent", "iotwatch")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("onvif %s: %w", op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMessage))
	if err != nil {
		return nil, fmt.Errorf("onvif %s: %w", op, err)
	}
	x := &Exchange{Status: resp.StatusCode, Server: resp.Header.Get("Server"),
		Authenticate: resp.Header.Values("WWW-Authenticate"), Body: body}
	if m, err := Parse(body); err == nil {
		x.Message = m
	}
	return x, nil
}
