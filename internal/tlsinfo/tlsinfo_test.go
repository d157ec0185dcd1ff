package tlsinfo

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// selfSigned makes a certificate for key valid from nb to na.
func selfSigned(t *testing.T, key crypto.Signer, cn string, nb, na time.Time) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x1234abcd), Subject: pkix.Name{CommonName: cn, Organization: []string{"Test Maker"}},
		NotBefore: nb, NotAfter: na, DNSNames: []string{cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve runs one TLS server handshake per accepted connection.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.Handshake()
				_, _ = tc.Read(make([]byte, 1))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestHandshake(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ecCert := selfSigned(t, ec, "cam.local", now.Add(-time.Hour), now.Add(time.Hour))
	oldCert := selfSigned(t, rsa1024, "router.local", time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		name      string
		srv       *tls.Config
		version   string
		cipher    string
		ja4s      string // prefix
		keyType   string
		keyBits   int
		weakCodes []string
	}{
		{"tls13 ecdsa", &tls.Config{Certificates: []tls.Certificate{ecCert}}, "TLS 1.3", "TLS_AES_128_GCM_SHA256", "t1302",
			"ecdsa", 256, []string{"self-signed"}},
		{"tls12 alpn", &tls.Config{Certificates: []tls.Certificate{ecCert}, MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "t12",
			"ecdsa", 256, []string{"self-signed"}},
		{"tls10 rsa1024 expired", &tls.Config{Certificates: []tls.Certificate{oldCert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}}, "TLS 1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "t10",
			"rsa", 1024, []string{"legacy-version", "weak-cipher", "weak-key", "expired", "self-signed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, tt.srv)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := Config("")
			if tt.srv.NextProtos != nil {
				cfg.NextProtos = []string{"h2", "http/1.1"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, info, err := Handshake(ctx, c, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if info.Version != tt.version || info.Cipher != tt.cipher {
				t.Errorf("version %s cipher %s, want %s %s", info.Version, info.Cipher, tt.version, tt.cipher)
			}
			if info.ServerHello == nil || !strings.HasPrefix(info.JA4S, tt.ja4s) {
				t.Fatalf("JA4S %q (server hello %+v), want prefix %s", info.JA4S, info.ServerHello, tt.ja4s)
			}
			if got := hex.EncodeToString([]byte{byte(info.ServerHello.CipherSuite >> 8), byte(info.ServerHello.CipherSuite)}); !strings.Contains(info.JA4S, "_"+got+"_") {
				t.Errorf("JA4S %s does not carry the negotiated suite %s", info.JA4S, got)
			}
			if tt.srv.NextProtos != nil && (info.ServerHello.ALPN != "h2" || info.JA4S[5:7] != "h2") {
				t.Errorf("alpn %q in %s, want h2", info.ServerHello.ALPN, info.JA4S)
			}
			leaf, ok := info.Leaf()
			if !ok {
				t.Fatal("no chain")
			}
			want := tt.srv.Certificates[0]
			parsed, _ := x509.ParseCertificate(want.Certificate[0])
			spki, _ := x509.MarshalPKIXPublicKey(parsed.PublicKey)
			certSum, spkiSum := sha256.Sum256(want.Certificate[0]), sha256.Sum256(spki)
			if leaf.SHA256 != hex.EncodeToString(certSum[:]) || leaf.SPKISHA256 != hex.EncodeToString(spkiSum[:]) {
				t.Errorf("fingerprints %s %s, want %x %x", leaf.SHA256, leaf.SPKISHA256, certSum, spkiSum)
			}
			if leaf.KeyType != tt.keyType || leaf.KeyBits != tt.keyBits || !leaf.SelfSigned || leaf.Serial != "1234abcd" ||
				!slices.Equal(leaf.IPAddresses, []string{"127.0.0.1"}) || info.Subject != parsed.Subject.String() {
				t.Errorf("leaf %+v", leaf)
			}
			var codes []string
			for _, w := range info.Weaknesses(now) {
				codes = append(codes, w.Code)
			}
			if !slices.Equal(codes, tt.weakCodes) {
				t.Errorf("weaknesses %v, want %v", codes, tt.weakCodes)
			}
		})
	}
}

func TestWeakKey(t *testing.T) {
	for _, tt := range []struct {
		typ  string
		bits int
		weak bool
	}{{"rsa", 1024, true}, {"rsa", 2048, false}, {"ecdsa", 192, true}, {"ecdsa", 256, false}, {"dsa", 1024, true}, {"ed25519", 256, false}} {
		if got := WeakKey(tt.typ, tt.bits); got != tt.weak {
			t.Errorf("WeakKey(%s, %d) = %v", tt.typ, tt.bits, got)
		}
	}
}
