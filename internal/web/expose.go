package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"iotwatch/internal/fsutil"
)

// IsLoopbackHost reports whether a listen host only reaches this machine: a
// loopback address or "localhost". The empty host (every interface) and
// other names do not.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ErrExposedWithoutAdmin refuses to serve beyond loopback without access
// control.
var ErrExposedWithoutAdmin = errors.New("refusing to serve beyond this machine without access control: no admin user exists")

// CheckExposure decides whether the console may listen on host: on loopback
// always (without users it is the local single-user dashboard); anywhere
// else only once an enabled admin exists, so that log-in is required and
// someone can manage it.
func CheckExposure(host string, adminExists bool) error {
	if IsLoopbackHost(host) || adminExists {
		return nil
	}
	return fmt.Errorf("--listen %s: %w; create one first (iotwatch users add NAME --role admin), or listen on 127.0.0.1", host, ErrExposedWithoutAdmin)
}

// Self-signed certificate files, kept in one directory (beside the database).
const (
	SelfSignedCertFile = "serve-cert.pem"
	SelfSignedKeyFile  = "serve-key.pem"
)

// SelfSignedCert returns the self-signed certificate for loopback use kept
// in dir, creating it (ECDSA P-256, for localhost, 127.0.0.1 and ::1, one
// year, files 0600) when it is missing or expires within a week.
func SelfSignedCert(dir string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, SelfSignedCertFile), filepath.Join(dir, SelfSignedKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && c.Leaf != nil && now.Add(7*24*time.Hour).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "iotwatch serve (loopback)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	if err := fsutil.WriteFileAtomicBytes(keyPath, 0o600, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := fsutil.WriteFileAtomicBytes(certPath, 0o600, certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
