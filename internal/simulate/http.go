package simulate

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/wire/httpauth"
	"iotwatch/internal/wire/onvif"
)

type svcKey struct{}

// startHTTP starts the one http.Server that serves every device's web UI;
// handlers find their device from the connection.
func (f *Fleet) startHTTP() {
	f.httpLn = newConnListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	f.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       connIdle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if dc, ok := c.(*deviceConn); ok {
				return context.WithValue(ctx, svcKey{}, dc.svc)
			}
			return ctx
		},
	}
	f.httpSrv.SetKeepAlivesEnabled(true)
	go f.httpSrv.Serve(f.httpLn)
}

func serveHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := r.Context().Value(svcKey{}).(*deviceService)
	if !ok {
		http.Error(w, "no device", http.StatusInternalServerError)
		return
	}
	// The device's deadline was set at accept; extend it per request.
	if b := s.banner(); b != "" {
		w.Header().Set("Server", b)
	}
	d := s.dev
	if s.sp.Protocol == "cwmp" {
		serveConnectionRequest(w, r, s)
		return
	}
	switch r.URL.Path {
	case "/rootDesc.xml":
		if d.prof.service("ssdp") == nil {
			notFound(w)
			return
		}
		w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
		io.WriteString(w, upnpDescription(s, r.Host))
		return
	case "/favicon.ico":
		notFound(w)
		return
	case onvif.DevicePath:
		if o := d.serviceOf(model.ProtoONVIF); o != nil {
			serveONVIF(w, r, o)
			return
		}
		notFound(w)
		return
	}
	switch s.sp.Auth {
	case "basic":
		u, p, ok := r.BasicAuth()
		if !ok || !s.accepts(u, p) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s"`, s.realm))
			unauthorized(w)
			return
		}
		devicePage(w, s)
	case "digest":
		if !digestOK(r.Header.Get("Authorization"), r.Method, s) {
			w.Header().Set("WWW-Authenticate", digestChallenge(s))
			unauthorized(w)
			return
		}
		devicePage(w, s)
	case "form":
		serveForm(w, r, s)
	}
}

// serveConnectionRequest answers a TR-069 connection request as CPEs do:
// 401 with the service's challenge until the credential is right, then 200
// with an empty body (the CPE would now open a session to its ACS).
func serveConnectionRequest(w http.ResponseWriter, r *http.Request, s *deviceService) {
	ok := false
	switch s.sp.Auth {
	case "basic":
		u, p, has := r.BasicAuth()
		ok = has && s.accepts(u, p)
		if !ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s"`, s.realm))
		}
	default:
		ok = digestOK(r.Header.Get("Authorization"), r.Method, s)
		if !ok {
			w.Header().Set("WWW-Authenticate", digestChallenge(s))
		}
	}
	if !ok {
		unauthorized(w)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// notFound is a plain device-style 404 (no Go-specific headers).
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n")
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, "<html><head><title>401 Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>\n")
}

// Form login: GET / shows the login page, POST /login with username and
// password answers 302 to /index.html with a session cookie on success and
// 200 with the login page and "Invalid username or password" on failure.
func serveForm(w http.ResponseWriter, r *http.Request, s *deviceService) {
	sid := "sid" + s.dev.serial
	switch {
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if s.accepts(r.PostForm.Get("username"), r.PostForm.Get("password")) {
			http.SetCookie(w, &http.Cookie{Name: "SESSIONID", Value: sid, Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/index.html", http.StatusFound)
			return
		}
		loginPage(w, s, "Invalid username or password")
	case r.URL.Path == "/index.html" || r.URL.Path == "/status.html":
		if c, err := r.Cookie("SESSIONID"); err == nil && c.Value == sid {
			devicePage(w, s)
			return
		}
		http.Redirect(w, r, "/", http.StatusFound)
	case r.URL.Path == "/" || r.URL.Path == "/login.html" || r.URL.Path == "/login":
		loginPage(w, s, "")
	default:
		notFound(w)
	}
}

func loginPage(w http.ResponseWriter, s *deviceService, msg string) {
	p := s.dev.prof
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	e := html.EscapeString
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s %s - Login</title></head>
<body><div class="login"><h2>%s %s</h2>
<form method="post" action="/login">
<label>Username</label><input type="text" name="username">
<label>Password</label><input type="password" name="password">
<input type="submit" value="Login"></form>
<p class="error">%s</p>
<div class="footer">Firmware Version: %s</div></div></body></html>
`, e(p.Vendor), e(p.Model), e(p.Vendor), e(p.Model), e(msg), e(p.Firmware))
}

func devicePage(w http.ResponseWriter, s *deviceService) {
	d := s.dev
	p := d.prof
	e := html.EscapeString
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s</title></head>
<body><h1>%s %s</h1>
<table class="status">
<tr><td>Device Name</td><td>%s</td></tr>
<tr><td>Model</td><td>%s</td></tr>
<tr><td>Firmware Version</td><td>%s</td></tr>
<tr><td>Serial Number</td><td>%s</td></tr>
<tr><td>MAC Address</td><td>%s</td></tr>
</table></body></html>
`, e(p.Model), e(p.Vendor), e(p.Model), e(d.hostname), e(p.Model), e(p.Firmware), e(d.serial), e(d.mac))
}

// digestChallenge is an RFC 7616 MD5 challenge with qop=auth.
func digestChallenge(s *deviceService) string {
	nonce := md5hex(fmt.Sprintf("%s:%d", s.dev.serial, time.Now().Unix()/60))
	return fmt.Sprintf(`Digest realm="%s", qop="auth", nonce="%s", opaque="%s", algorithm=MD5, stale=FALSE`,
		s.realm, nonce, md5hex(s.dev.uuid))
}

// digestOK checks an Authorization: Digest header (MD5, qop auth or none)
// against the service's credential. Any nonce is accepted.
func digestOK(header, method string, s *deviceService) bool {
	p, ok := parseDigest(header)
	if !ok {
		return false
	}
	if p["response"] == "" || p["realm"] != s.realm || !s.accepts(p["username"], s.cred.Password) {
		return false
	}
	if a := p["algorithm"]; a != "" && !strings.EqualFold(a, "MD5") {
		return false
	}
	ha1 := md5hex(p["username"] + ":" + s.realm + ":" + s.cred.Password)
	ha2 := md5hex(method + ":" + p["uri"])
	var want string
	switch p["qop"] {
	case "auth":
		want = md5hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	case "":
		want = md5hex(ha1 + ":" + p["nonce"] + ":" + ha2)
	default:
		return false
	}
	return p["response"] == want
}

// parseDigest returns the auth-params of an "Authorization: Digest ..." value
// (wire/httpauth's parser); ok is false for another scheme or no params.
func parseDigest(h string) (map[string]string, bool) {
	c, ok := httpauth.ParseCredentials(h, "digest")
	return c.Params, ok && len(c.Params) > 0
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// upnpDescription is the UPnP device description served at /rootDesc.xml.
func upnpDescription(s *deviceService, host string) string {
	d := s.dev
	p := d.prof
	typ := "urn:schemas-upnp-org:device:Basic:1"
	switch p.DeviceType {
	case "router", "firewall":
		typ = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	case "ip-camera", "dvr":
		typ = "urn:schemas-upnp-org:device:Basic:1"
	}
	e := html.EscapeString
	return fmt.Sprintf(`<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<URLBase>http://%s/</URLBase>
<device>
<deviceType>%s</deviceType>
<friendlyName>%s</friendlyName>
<manufacturer>%s</manufacturer>
<modelDescription>%s %s</modelDescription>
<modelName>%s</modelName>
<modelNumber>%s</modelNumber>
<serialNumber>%s</serialNumber>
<firmwareVersion>%s</firmwareVersion>
<UDN>uuid:%s</UDN>
<presentationURL>/</presentationURL>
</device>
</root>
`, e(host), typ, e(p.Model+" ("+d.hostname+")"), e(p.Vendor), e(p.Vendor), e(p.Model), e(p.Model), e(p.Model), e(d.serial), e(p.Firmware), d.uuid)
}

// parseBasic decodes an "Authorization: Basic ..." header value.
func parseBasic(h string) (user, pass string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}
