// Package tlsinfo describes what a TLS server shows every client: the
// negotiated version and cipher suite, the certificate chain (subject,
// issuer, validity, serial, names, key and signature algorithms, SHA-256
// fingerprints of each certificate and of its SubjectPublicKeyInfo), and the
// server's JA4S fingerprint read from its ServerHello (wire/tlshello). The
// HTTPS and MQTTS probers run their handshakes through Handshake; the
// public-key fingerprints let the report count devices sharing one key and
// match them to keys extracted from firmware.
package tlsinfo

import (
	"bytes"
	"context"
	"crypto/dsa" //nolint:staticcheck // to name the key type of old devices' certificates
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"iotwatch/internal/wire/tlshello"
)

// Info is one TLS session as the client saw it. The first fields describe
// the leaf certificate, as the HTTPS record always has.
type Info struct {
	Version    string    `json:"version"`
	Cipher     string    `json:"cipher"`
	Subject    string    `json:"subject,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	NotBefore  time.Time `json:"not_before,omitzero"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	SelfSigned bool      `json:"self_signed"`
	DNSNames   []string  `json:"dns_names,omitempty"`
	// JA4S is the server's JA4S fingerprint, JA4SRaw its unhashed form.
	JA4S    string `json:"ja4s,omitempty"`
	JA4SRaw string `json:"ja4s_raw,omitempty"`
	// ServerHello is the parsed ServerHello (nil when it could not be read).
	ServerHello *tlshello.ServerHello `json:"server_hello,omitempty"`
	// Chain is the certificates the server sent, leaf first.
	Chain []Cert `json:"chain,omitempty"`
}

// Cert is one certificate of the chain.
type Cert struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"` // hex
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DNSNames           []string  `json:"dns_names,omitempty"`
	IPAddresses        []string  `json:"ip_addresses,omitempty"`
	SelfSigned         bool      `json:"self_signed"`
	IsCA               bool      `json:"is_ca,omitempty"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	KeyType            string    `json:"key_type"` // rsa, ecdsa, ed25519, dsa, or x509's name
	KeyBits            int       `json:"key_bits,omitempty"`
	// SHA256 is the SHA-256 of the certificate's DER; SPKISHA256 of its
	// SubjectPublicKeyInfo, the same fingerprint firmware/secrets gives a
	// private key found in an image.
	SHA256     string `json:"sha256"`
	SPKISHA256 string `json:"spki_sha256"`
}

// Leaf returns the server's own certificate, if it sent one.
func (i *Info) Leaf() (Cert, bool) {
	if i == nil || len(i.Chain) == 0 {
		return Cert{}, false
	}
	return i.Chain[0], true
}

// cipherIDs are every suite crypto/tls implements, insecure ones included:
// old devices often speak nothing better, and what they negotiate is what
// we want to know.
var cipherIDs = sync.OnceValue(func() []uint16 {
	var ids []uint16
	for _, cs := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		ids = append(ids, cs.ID)
	}
	return ids
})

// Config returns the client configuration the probes use: no verification
// (we inspect, we do not trust), TLS 1.0 and up, every cipher suite.
func Config(serverName string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, ServerName: serverName, //nolint:gosec // inspection only
		CipherSuites: cipherIDs()}
}

// Handshake runs a client handshake over conn with cfg (Config when nil)
// and returns the TLS connection and what the server showed. The bytes the
// server sends before the handshake ends are recorded to read its
// ServerHello.
func Handshake(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, *Info, error) {
	if cfg == nil {
		cfg = Config("")
	}
	rec := &recorder{Conn: conn}
	tc := tls.Client(rec, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	rec.stop()
	info := FromState(tc.ConnectionState())
	if sh, err := tlshello.Parse(rec.bytes()); err == nil {
		info.ServerHello = &sh
		info.JA4S, info.JA4SRaw = sh.JA4S(), sh.JA4SRaw()
	}
	return tc, info, nil
}

// FromState describes a finished handshake (without the ServerHello,
// which the state does not keep).
func FromState(cs tls.ConnectionState) *Info {
	info := &Info{Version: tls.VersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite)}
	for _, c := range cs.PeerCertificates {
		info.Chain = append(info.Chain, Describe(c))
	}
	if leaf, ok := info.Leaf(); ok {
		info.Subject, info.Issuer = leaf.Subject, leaf.Issuer
		info.NotBefore, info.NotAfter = leaf.NotBefore, leaf.NotAfter
		info.SelfSigned, info.DNSNames = leaf.SelfSigned, leaf.DNSNames
	}
	return info
}

// Describe returns what the chain records of one certificate.
func Describe(c *x509.Certificate) Cert {
	out := Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		DNSNames: c.DNSNames, IsCA: c.IsCA, SignatureAlgorithm: c.SignatureAlgorithm.String(),
		SHA256: sum(c.Raw), SPKISHA256: sum(c.RawSubjectPublicKeyInfo)}
	if c.SerialNumber != nil {
		out.Serial = hex.EncodeToString(c.SerialNumber.Bytes())
	}
	for _, ip := range c.IPAddresses {
		out.IPAddresses = append(out.IPAddresses, ip.String())
	}
	out.SelfSigned = SelfSigned(c)
	out.KeyType, out.KeyBits = KeyOf(c)
	return out
}

// SelfSigned reports whether c names itself as issuer and its own key
// signed it. Device certificates rarely mark themselves a CA, so the
// signature is checked directly rather than through CheckSignatureFrom; a
// signature algorithm too weak for x509 to check (MD5) counts by name.
func SelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

// KeyOf names a certificate's public key algorithm and size.
func KeyOf(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "rsa", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ecdsa", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "ed25519", 256
	case *dsa.PublicKey:
		return "dsa", k.P.BitLen()
	}
	return strings.ToLower(c.PublicKeyAlgorithm.String()), 0
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// recorder is a net.Conn that keeps the first bytes read until stopped.
type recorder struct {
	net.Conn
	mu   sync.Mutex // guards buf and done
	buf  []byte
	done bool
}

// recordMax bounds what is kept: the ServerHello comes first.
const recordMax = 20 << 10

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	if !r.done && len(r.buf) < recordMax {
		r.buf = append(r.buf, p[:min(n, recordMax-len(r.buf))]...)
	}
	r.mu.Unlock()
	return n, err
}

func (r *recorder) stop() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf
}
