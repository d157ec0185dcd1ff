package secrets

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
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
	// SSHFingerprint is the public key's SSH SHA-256 fingerprint ("SHA256:…",
	// as ssh-keygen -l and a scan of the SSH service print it), so that a
	// device serving this key can be recognised.
	SSHFingerprint string `json:"ssh_fingerprint,omitempty"`
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
	if s, ok := raw.(crypto.Signer); ok {
		if pub, err := ssh.NewPublicKey(s.Public()); err == nil {
			k.SSHFingerprint = ssh.FingerprintSHA256(pub)
		}
	} else if s, ok := raw.(*ed25519.PrivateKey); ok {
		if pub, err := ssh.NewPublicKey(s.Public()); err == nil {
			k.SSHFingerprint = ssh.FingerprintSHA256(pub)
		}
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
			k := Key{Path: p, Type: "dropbear-" + t, Fingerprint: fingerprint(data), HostKey: true}
			if pub, err := dropbearPublic(data); err == nil {
				k.SSHFingerprint = ssh.FingerprintSHA256(pub)
			}
			return k, true
		}
	}
	return Key{}, false
}

// dropbearPublic reads the public half of a Dropbear host key: SSH wire
// strings and mpints, the public fields first (RSA: e, n; DSS: p, q, g, y;
// ECDSA: curve, Q; Ed25519: a 64-byte string whose second half is the
// public key), which are the public key's own wire encoding.
func dropbearPublic(data []byte) (ssh.PublicKey, error) {
	rest := data
	next := func() ([]byte, error) {
		if len(rest) < 4 {
			return nil, errors.New("dropbear key: truncated")
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return nil, errors.New("dropbear key: field longer than the file")
		}
		f := rest[4 : 4+n]
		rest = rest[4+n:]
		return f, nil
	}
	typ, err := next()
	if err != nil {
		return nil, err
	}
	fields := map[string]int{"ssh-rsa": 2, "ssh-dss": 4, "ecdsa-sha2-nistp256": 2, "ecdsa-sha2-nistp384": 2, "ecdsa-sha2-nistp521": 2}
	if string(typ) == ssh.KeyAlgoED25519 {
		both, err := next()
		if err != nil {
			return nil, err
		}
		if len(both) != 2*ed25519.PublicKeySize {
			return nil, fmt.Errorf("dropbear key: ed25519 key of %d bytes", len(both))
		}
		return ssh.NewPublicKey(ed25519.PublicKey(both[ed25519.PublicKeySize:]))
	}
	n, ok := fields[string(typ)]
	if !ok {
		return nil, fmt.Errorf("dropbear key: type %q", typ)
	}
	for range n {
		if _, err := next(); err != nil {
			return nil, err
		}
	}
	return ssh.ParsePublicKey(data[:len(data)-len(rest)])
}
