// Package onviftest serves one scripted ONVIF device on loopback for the
// prober's and the login module's tests: a WS-Discovery responder on UDP and
// the device service over HTTP, both through the codec in wire/onvif. The
// simulator's camera profiles are the realistic peer; this one can be told
// to misbehave (answer without a credential, accept any, lock out, skew its
// clock, point its XAddr elsewhere).
package onviftest

import (
	"crypto/md5"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"iotwatch/internal/wire/httpauth"
	"iotwatch/internal/wire/onvif"
)

// Device is the scripted device's behaviour.
type Device struct {
	Info     onvif.DeviceInformation
	Scopes   []string
	Username string
	Password string
	// Anonymous answers GetDeviceInformation without a credential;
	// AcceptAny accepts every token.
	Anonymous, AcceptAny bool
	// Skew is the device clock's distance from ours; tokens whose Created is
	// more than Window (default 5 s) away from the device clock are refused,
	// as replay protection on real devices does.
	Skew   time.Duration
	Window time.Duration
	// LockAfter, when positive, locks the account after that many refused
	// tokens: every later call gets HTTP 503 with a "locked" fault reason.
	LockAfter int
	// XAddr, when set, replaces the device-service URL in ProbeMatches.
	XAddr string
	// HTTPDigest makes the device demand HTTP Digest (qop auth, MD5) and
	// refuse WS-Security tokens with a 401 challenge.
	HTTPDigest bool

	mu       sync.Mutex
	failures int
	calls    map[string]int
}

// Server is a running device.
type Server struct {
	// UDP is the WS-Discovery address; URL the device service.
	UDP *net.UDPAddr
	URL string
	d   *Device
}

// Calls returns how many times op was called.
func (s *Server) Calls(op string) int {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.calls[op]
}

// Serve starts d on 127.0.0.1 until the test ends.
func Serve(t testing.TB, d *Device) *Server {
	t.Helper()
	d.calls = map[string]int{}
	hs := httptest.NewServer(http.HandlerFunc(d.serveHTTP))
	t.Cleanup(hs.Close)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &Server{UDP: pc.LocalAddr().(*net.UDPAddr), URL: hs.URL + onvif.DevicePath, d: d}
	xaddr := s.URL
	if d.XAddr != "" {
		xaddr = d.XAddr
	}
	go func() {
		buf := make([]byte, onvif.MaxMessage)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := onvif.Parse(buf[:n])
			if err != nil || m.Action != onvif.ActionProbe {
				continue
			}
			d.count("Probe")
			_, _ = pc.WriteTo(onvif.ProbeMatchesReply("uuid:2f1e9a44-0000-4000-8000-000000000001", m.MessageID, onvif.ProbeMatch{
				Address: "urn:uuid:2f1e9a44-0000-4000-8000-00000000cafe", Types: []string{"dn:NetworkVideoTransmitter", "tds:Device"},
				Scopes: d.Scopes, XAddrs: []string{xaddr}, MetadataVersion: "1"}), from)
		}
	}()
	return s
}

func (d *Device) count(op string) {
	d.mu.Lock()
	d.calls[op]++
	d.mu.Unlock()
}

func (d *Device) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != onvif.DevicePath || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	m, err := onvif.Read(http.MaxBytesReader(w, r.Body, onvif.MaxMessage))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	d.count(m.Operation)
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.Header().Set("Server", "onviftest")
	now := time.Now().Add(d.Skew)
	switch m.Operation {
	case string(onvif.GetSystemDateAndTime):
		_, _ = w.Write(onvif.SystemDateAndTimeReply(onvif.SystemDateAndTime{DateTimeType: "Manual", TZ: "CST-8", UTC: now}))
	case string(onvif.GetDeviceInformation):
		if d.HTTPDigest {
			if !d.digestOK(r) {
				w.Header().Set("WWW-Authenticate", `Digest realm="`+realm+`", qop="auth", nonce="`+nonce+`"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write(onvif.DeviceInformationReply(d.Info))
			return
		}
		if code, reason := d.authorize(m.Token, now); code != 0 {
			w.WriteHeader(code)
			b := onvif.NotAuthorizedReply()
			if reason != "" {
				b = []byte(strings.Replace(string(b), "Sender not Authorized", reason, 1))
			}
			_, _ = w.Write(b)
			return
		}
		_, _ = w.Write(onvif.DeviceInformationReply(d.Info))
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// authorize returns 0 when tok may call GetDeviceInformation, else the HTTP
// status and a fault reason to refuse it with.
func (d *Device) authorize(tok *onvif.UsernameToken, now time.Time) (int, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.LockAfter > 0 && d.failures >= d.LockAfter {
		return http.StatusServiceUnavailable, "User is locked"
	}
	if d.Anonymous || tok != nil && d.AcceptAny {
		return 0, ""
	}
	window := d.Window
	if window == 0 {
		window = 5 * time.Second
	}
	if tok != nil && tok.Username == d.Username && tok.Verify(d.Password) {
		if c, err := tok.CreatedTime(); err == nil && c.Sub(now).Abs() <= window {
			return 0, ""
		}
	}
	if tok != nil {
		d.failures++
	}
	return http.StatusBadRequest, ""
}

const (
	realm = "onviftest"
	nonce = "6d6f636b2d6e6f6e6365"
)

// digestOK checks an HTTP Digest Authorization (RFC 7616, MD5, qop auth).
func (d *Device) digestOK(r *http.Request) bool {
	c, ok := httpauth.ParseCredentials(r.Header.Get("Authorization"), "digest")
	p := c.Params
	if !ok || p["username"] != d.Username || p["realm"] != realm || p["nonce"] != nonce || p["qop"] != "auth" {
		return false
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h(d.Username + ":" + realm + ":" + d.Password)
	ha2 := h(r.Method + ":" + p["uri"])
	return p["uri"] == r.URL.RequestURI() && p["response"] == h(ha1+":"+nonce+":"+p["nc"]+":"+p["cnonce"]+":auth:"+ha2)
}
