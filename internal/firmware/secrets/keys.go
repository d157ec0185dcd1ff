package secrets

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Key is a private key found in the firmware.
type Key struct {
	Path      string `json:"path"`
	Type      string `json:"type"` // rsa, ecdsa, ed25519, dsa, dropbear-…, unknown
	Bits      int    `json:"bits,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Fingerprint is the SHA-256 of the public key (or of the key block when
	// the key cannot be parsed), to recognise the same key across images.
	Fingerprint string `json:"fingerprint"`
	HostKey     bool   `json:"host_key,omitempty"` // an SSH server host key
}

// Cert is an X.509 certificate found in the firmware.
type Cert struct {
	Path        string    `json:"path"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	SelfSigned  bool      `json:"self_signed"`
	IsCA        bool      `json:"is_ca"`
	KeyType     string    `json:"key_type"`
	Bits        int       `json:"bits,omitempty"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
	Bundle      bool      `json:"bundle,omitempty"` // part of a CA bundle (many certificates in one file)
}

func fingerprint(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func isHostKeyPath(p string) bool {
	b := path.Base(p)
	return strings.Contains(b, "host_key") || strings.HasPrefix(b, "ssh_host_") || strings.Contains(p, "/dropbear/")
}

// pemObjects parses every PEM block of data.
func pemObjects(p string, data []byte) ([]Key, []Cert) {
	var keys []Key
	var certs []Cert
	rest := data
	for n := 0; n < 5000; n++ {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			break
		}
		blk, r := pem.Decode(rest[i:])
		if blk == nil {
			rest = rest[i+11:]
			continue
		}
		rest = r
		switch {
		case strings.HasSuffix(blk.Type, "PRIVATE KEY"):
			keys = append(keys, parseKey(p, blk))
		case blk.Type == "CERTIFICATE":
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				certs = append(certs, certInfo(p, c))
			}
		}
	}
	if len(certs) > 3 {
		for i := range certs {
			certs[i].Bundle = true
		}
	}
	return keys, certs
}

func parseKey(p string, blk *pem.Block) Key {
	k := Key{Path: p, Type: "unknown", HostKey: isHostKeyPath(p)}
	if blk.Headers["Proc-Type"] == "4,ENCRYPTED" || blk.Type == "ENCRYPTED PRIVATE KEY" {
		k.Encrypted = true
		k.Fingerprint = fingerprint(blk.Bytes)
		return k
	}
	raw, err := ssh.ParseRawPrivateKey(pem.EncodeToMemory(blk))
	var pm *ssh.PassphraseMissingError
	if err != nil {
		if errors.As(err, &pm) {
			k.Encrypted = true
		}
		k.Fingerprint = fingerprint(blk.Bytes)
		if strings.HasPrefix(blk.Type, "DSA") {
			k.Type = "dsa"
		}
		return k
	}
	switch key := raw.(type) {
	case *rsa.PrivateKey:
		k.Type, k.Bits = "rsa", key.N.BitLen()
		k.Fingerprint = pubFingerprint(&key.PublicKey)
	case *ecdsa.PrivateKey:
		k.Type, k.Bits = "ecdsa", key.Curve.Params().BitSize
		k.Fingerprint = pubFingerprint(&key.PublicKey)
	case *ed25519.PrivateKey:
		k.Type, k.Bits = "ed25519", 256
		k.Fingerprint = pubFingerprint(key.Public())
	case ed25519.PrivateKey:
		k.Type, k.Bits = "ed25519", 256
		k.Fingerprint = pubFingerprint(key.Public())
	default:
		k.Fingerprint = fingerprint(blk.Bytes)
	}
	return k
}

func pubFingerprint(pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return fingerprint(der)
}

func certInfo(p string, c *x509.Certificate) Cert {
	ci := Cert{Path: p, Subject: c.Subject.String(), Issuer: c.Issuer.String(), IsCA: c.IsCA,
		NotAfter: c.NotAfter, Fingerprint: fingerprint(c.Raw)}
	ci.SelfSigned = bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	switch pk := c.PublicKey.(type) {
	case *rsa.PublicKey:
		ci.KeyType, ci.Bits = "rsa", pk.N.BitLen()
	case *ecdsa.PublicKey:
		ci.KeyType, ci.Bits = "ecdsa", pk.Curve.Params().BitSize
	case ed25519.PublicKey:
		ci.KeyType, ci.Bits = "ed25519", 256
	default:
		ci.KeyType = c.PublicKeyAlgorithm.String()
	}
	return ci
}

// dropbearKey recognises Dropbear's own binary host-key format.
func dropbearKey(p string, data []byte) (Key, bool) {
	if !strings.Contains(path.Base(p), "dropbear_") || len(data) < 16 || len(data) > 1<<16 {
		return Key{}, false
	}
	for _, t := range []string{"ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"} {
		if bytes.HasPrefix(data[4:], []byte(t)) {
			return Key{Path: p, Type: "dropbear-" + t, Fingerprint: fingerprint(data), HostKey: true}, true
		}
	}
	return Key{}, false
}
