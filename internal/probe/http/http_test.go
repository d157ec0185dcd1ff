package http

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/probetest"
	"iotwatch/internal/testpeer"
)

func dialer(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func run(t *testing.T, p Prober, addr string) (probe.Result, *Record) {
	t.Helper()
	res := probetest.Probe(t, p, "tcp", addr, &probe.Env{Timeout: 3 * time.Second, Dial: dialer(addr)})
	rec, _ := res.Data.(*Record)
	return res, rec
}

func TestProbeFakeDevice(t *testing.T) {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Server", "GoAhead-Webs")
		w.Header().Set("WWW-Authenticate", `Basic realm="GoAhead"`)
		w.WriteHeader(401)
		w.Write([]byte("<html><head><title> Camera &amp; Login </title></head></html>"))
	})
	mux.HandleFunc("/favicon.ico", func(w nethttp.ResponseWriter, r *nethttp.Request) { w.Write([]byte("ICON")) })
	for _, tlsOn := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(mux)
		if tlsOn {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		res, rec := run(t, Prober{TLS: tlsOn}, srv.Listener.Addr().String())
		srv.Close()
		if res.Status != model.StatusSuccess || rec == nil {
			t.Fatalf("tls=%v: status %v err %v", tlsOn, res.Status, res.Err)
		}
		if rec.StatusCode != 401 || rec.Server != "GoAhead-Webs" || rec.Title != "Camera & Login" ||
			rec.AuthScheme != "Basic" || rec.Realm != "GoAhead" {
			t.Errorf("tls=%v: got %+v", tlsOn, rec)
		}
		if rec.FaviconMD5 != "6a6e4d6ba1e6ab3a4e0a1c1cd9c2e9e1" && rec.FaviconMD5 == "" {
			t.Errorf("favicon md5 empty")
		}
		if tlsOn && (rec.TLS == nil || rec.TLS.Version == "" || rec.TLS.Subject == "") {
			t.Errorf("tls info = %+v", rec.TLS)
		}
	}
}

func TestProbeBadReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		trick bool
		want  model.Status
	}{
		{"garbage", "\x00\x01\x02garbage\r\n", false, model.StatusProtocolError},
		{"truncated", "HTTP/1.1 200 OK\r\nServer: x", false, model.StatusProtocolError},
		{"empty", "", false, model.StatusIOError},
		{"trickle", "HTTP/1.1 200 OK\r\n", true, model.StatusTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			go func() {
				bufio.NewReader(s).ReadString('\n')
				if tt.trick {
					for _, b := range []byte(tt.reply) {
						if _, err := s.Write([]byte{b}); err != nil {
							return
						}
						time.Sleep(200 * time.Millisecond)
					}
				} else {
					s.Write([]byte(tt.reply))
				}
				s.Close()
			}()
			start := time.Now()
			res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 500 * time.Millisecond})
			if time.Since(start) > 3*time.Second {
				t.Errorf("probe took %v", time.Since(start))
			}
			if res.Status != tt.want {
				t.Errorf("status = %v (%v), want %v", res.Status, res.Err, tt.want)
			}
		})
	}
}

func TestProbeHugeBody(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		bufio.NewReader(s).ReadString('\n')
		s.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"))
		chunk := []byte(strings.Repeat("A", 64*1024))
		for i := 0; i < 1600; i++ {
			if _, err := s.Write(chunk); err != nil {
				return
			}
		}
	}()
	res := Prober{}.Probe(context.Background(), c, &probe.Env{Timeout: 2 * time.Second, MaxRead: 32 * 1024})
	rec, _ := res.Data.(*Record)
	if rec == nil || len(rec.BodySnippet) > snippetLen {
		t.Fatalf("res = %+v", res)
	}
}

func TestProbeLighttpd(t *testing.T) {
	p := testpeer.Lighttpd(t, testpeer.LighttpdOptions{BasicAuth: map[string]string{"admin": "admin"}})
	res, rec := run(t, Prober{}, p.Addr)
	if res.Status != model.StatusSuccess || rec == nil {
		t.Fatalf("status %v err %v", res.Status, res.Err)
	}
	if !strings.HasPrefix(rec.Server, "lighttpd/") {
		t.Errorf("server = %q, want lighttpd/…", rec.Server)
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nServer: Boa/0.94.13\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n<title>a</title>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, resp, err := ReadResponse(bufio.NewReader(strings.NewReader(string(b))), 4096)
		if err == nil {
			var rec Record
			fill(&rec, resp, body)
			_ = rec.Fields()
		}
	})
}

// TestProbeLighttpdTLS reads the chain, session and JA4S of a real
// lighttpd (OpenSSL) serving a leaf certificate signed by a test CA.
func TestProbeLighttpdTLS(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iotwatch test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(0x0badcafe), Subject: pkix.Name{CommonName: "camera.test", Organization: []string{"Test Maker"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"camera.test"}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	p := testpeer.Lighttpd(t, testpeer.LighttpdOptions{CertPEM: certPEM, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})})

	res, rec := run(t, Prober{TLS: true}, p.Addr)
	if res.Status != model.StatusSuccess || rec == nil || rec.TLS == nil {
		t.Fatalf("status %v err %v rec %+v", res.Status, res.Err, rec)
	}
	if rec.Title != "iotwatch test device" || !strings.HasPrefix(rec.Server, "lighttpd/") {
		t.Errorf("page through TLS: title %q server %q", rec.Title, rec.Server)
	}
	ti := rec.TLS
	if len(ti.Chain) != 2 {
		t.Fatalf("chain of %d, want leaf and CA: %+v", len(ti.Chain), ti.Chain)
	}
	leaf, caGot := ti.Chain[0], ti.Chain[1]
	spki, _ := x509.MarshalPKIXPublicKey(leafKey.Public())
	if leaf.SHA256 != hexSum(leafDER) || leaf.SPKISHA256 != hexSum(spki) || caGot.SHA256 != hexSum(caDER) {
		t.Errorf("fingerprints: leaf %s spki %s ca %s", leaf.SHA256, leaf.SPKISHA256, caGot.SHA256)
	}
	if leaf.KeyType != "rsa" || leaf.KeyBits != 2048 || leaf.SelfSigned || leaf.Serial != "0badcafe" || leaf.SignatureAlgorithm != "ECDSA-SHA384" ||
		leaf.Issuer != "CN=iotwatch test CA" || !leaf.NotAfter.Equal(now.Add(24*time.Hour)) {
		t.Errorf("leaf %+v", leaf)
	}
	if caGot.KeyType != "ecdsa" || caGot.KeyBits != 384 || !caGot.SelfSigned || !caGot.IsCA {
		t.Errorf("ca %+v", caGot)
	}
	sh := ti.ServerHello
	if sh == nil || ti.Version != "TLS 1.3" || tls.CipherSuiteName(sh.CipherSuite) != ti.Cipher || !strings.HasPrefix(ti.JA4S, "t13") {
		t.Errorf("session %s %s, JA4S %s, server hello %+v", ti.Version, ti.Cipher, ti.JA4S, sh)
	}
	t.Logf("lighttpd: %s %s JA4S %s (%s)", ti.Version, ti.Cipher, ti.JA4S, ti.JA4SRaw)
	if w := ti.Weaknesses(now); len(w) != 0 {
		t.Errorf("weaknesses of a sound chain: %+v", w)
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
