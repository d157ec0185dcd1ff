// Package http probes HTTP and HTTPS services: status, headers, page title,
// authentication scheme and realm, a body snippet, the favicon's MD5 (the
// hash Recog's favicons.xml keys on), and for HTTPS the TLS session and
// certificate chain (internal/tlsinfo).
package http

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	nethttp "net/http"
	"regexp"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/tlsinfo"
	"iotwatch/internal/wire/httpauth"
)

// TLSInfo describes the TLS session and the server's certificate chain.
type TLSInfo = tlsinfo.Info

// Record is the HTTP handshake data.
type Record struct {
	StatusCode  int               `json:"status_code"`
	StatusLine  string            `json:"status_line"`
	Headers     map[string]string `json:"headers,omitempty"`
	Server      string            `json:"server,omitempty"`
	Title       string            `json:"title,omitempty"`
	AuthScheme  string            `json:"auth_scheme,omitempty"`
	Realm       string            `json:"realm,omitempty"`
	WWWAuth     string            `json:"www_authenticate,omitempty"`
	BodySnippet string            `json:"body_snippet,omitempty"`
	BodyMD5     string            `json:"body_md5,omitempty"`
	FaviconMD5  string            `json:"favicon_md5,omitempty"`
	TLS         *TLSInfo          `json:"tls,omitempty"`
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	f := map[string]string{
		"http.server": r.Server, "http.title": r.Title, "http.realm": r.Realm,
		"http.www_authenticate": r.WWWAuth, "http.body": r.BodySnippet,
		"http.favicon_md5": r.FaviconMD5, "http.x_powered_by": r.Headers["X-Powered-By"],
		"http.cookie": r.Headers["Set-Cookie"],
	}
	if r.TLS != nil {
		f["tls.subject"], f["tls.issuer"], f["tls.ja4s"] = r.TLS.Subject, r.TLS.Issuer, r.TLS.JA4S
	}
	return f
}

// Prober probes HTTP, or HTTPS when TLS is set.
type Prober struct{ TLS bool }

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (p Prober) Name() string {
	if p.TLS {
		return model.ProtoHTTPS
	}
	return model.ProtoHTTP
}

const snippetLen = 512

// Probe implements probe.Prober: GET / on conn, then GET /favicon.ico on a
// second connection when env.Dial allows and the first page succeeded.
func (p Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	rec := &Record{}
	c := net.Conn(&probe.LimitConn{Conn: conn, N: env.Limit()})
	if p.TLS {
		tc, info, err := tlsinfo.Handshake(ctx, c, tlsinfo.Config(env.Host))
		if err != nil {
			return probe.Fail(p.Name(), err)
		}
		rec.TLS = info
		c = tc
	}
	body, resp, err := get(c, hostHeader(conn, env), "/", env.Limit())
	if err != nil {
		return probe.Result{Protocol: p.Name(), Status: probe.Classify(err), Err: err, Data: nilIfEmpty(rec)}
	}
	fill(rec, resp, body)
	if env.Dial != nil && resp.StatusCode < 500 {
		rec.FaviconMD5 = p.favicon(ctx, env)
	}
	return probe.Result{Protocol: p.Name(), Status: model.StatusSuccess, Banner: rec.StatusLine, Data: rec}
}

func nilIfEmpty(r *Record) probe.Record {
	if r.TLS == nil {
		return nil
	}
	return r
}

func hostHeader(conn net.Conn, env *probe.Env) string {
	if env.Host != "" {
		return env.Host
	}
	return conn.RemoteAddr().String()
}

// ErrNotHTTP marks replies that do not parse as HTTP.
var ErrNotHTTP = fmt.Errorf("not an HTTP reply: %w", probe.ErrProtocol)

// get sends one request and reads the response with its body capped at limit.
func get(c net.Conn, host, path string, limit int) ([]byte, *nethttp.Response, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: Mozilla/5.0 (compatible; iotwatch)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, nil, fmt.Errorf("http write: %w", err)
	}
	return ReadResponse(bufio.NewReader(c), limit)
}

// ReadResponse parses an HTTP response and reads up to limit bytes of body.
func ReadResponse(br *bufio.Reader, limit int) ([]byte, *nethttp.Response, error) {
	if b, err := br.Peek(5); err != nil || string(b) != "HTTP/" {
		if err != nil {
			return nil, nil, fmt.Errorf("http read: %w", err)
		}
		return nil, nil, ErrNotHTTP
	}
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("http response: %w: %w", probe.ErrProtocol, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)))
	if err != nil && len(body) == 0 && resp.ContentLength != 0 {
		// Headers are what matters; a failing body is not fatal.
		body = nil
	}
	return body, resp, nil
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

func fill(rec *Record, resp *nethttp.Response, body []byte) {
	rec.StatusCode = resp.StatusCode
	rec.StatusLine = probe.Printable([]byte(resp.Proto+" "+resp.Status), 200)
	rec.Headers = map[string]string{}
	for k, v := range resp.Header {
		rec.Headers[k] = probe.Printable([]byte(strings.Join(v, ", ")), 512)
	}
	rec.Server = rec.Headers["Server"]
	if m := titleRE.FindSubmatch(body); m != nil {
		rec.Title = strings.TrimSpace(html.UnescapeString(probe.Printable(m[1], 256)))
		rec.Title = strings.Join(strings.Fields(rec.Title), " ")
	}
	if wa := resp.Header.Get("Www-Authenticate"); wa != "" {
		rec.WWWAuth = probe.Printable([]byte(wa), 512)
		rec.AuthScheme, rec.Realm = httpauth.SchemeRealm(wa)
	}
	if len(body) > 0 {
		rec.BodySnippet = probe.Printable(body, snippetLen)
		sum := md5.Sum(body)
		rec.BodyMD5 = hex.EncodeToString(sum[:])
	}
}

func (p Prober) favicon(ctx context.Context, env *probe.Env) string {
	c, err := env.Dial(ctx)
	if err != nil {
		return ""
	}
	defer c.Close()
	probe.Deadline(ctx, c, env)
	conn := net.Conn(&probe.LimitConn{Conn: c, N: env.Limit()})
	if p.TLS {
		tc := tls.Client(conn, tlsinfo.Config(env.Host))
		if tc.HandshakeContext(ctx) != nil {
			return ""
		}
		conn = tc
	}
	body, resp, err := get(conn, hostHeader(c, env), "/favicon.ico", env.Limit())
	if err != nil || resp.StatusCode != 200 || len(body) == 0 {
		return ""
	}
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}
