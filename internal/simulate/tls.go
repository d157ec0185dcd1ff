package simulate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Validity of simulated certificates: devices make theirs at first boot
// and keep them; the hard-coded one of a profile was made once at the
// factory and expired on the maker's shelf, as shipped certificates do.
var (
	deviceCertFrom    = time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC)
	deviceCertUntil   = time.Date(2042, 3, 1, 0, 0, 0, 0, time.UTC)
	hardCodedCertFrom = time.Date(2015, 6, 1, 0, 0, 0, 0, time.UTC)
	hardCodedCertTill = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

// tlsKeyPrivate derives an ECDSA P-256 key from the fleet's seed and its
// owner (a device address, or a profile whose units share one).
func tlsKeyPrivate(seed int64, owner string) (*ecdsa.PrivateKey, error) {
	h := sha256.Sum256(fmt.Appendf(nil, "iotwatch simulated tls key\x00%d\x00%s", seed, owner))
	for i := 0; ; i++ { // a scalar of 0 or ≥ n is rejected: hash again (never in practice)
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h[:])
		if err == nil || i > 8 {
			if err != nil {
				return nil, fmt.Errorf("tls key: %w", err)
			}
			return k, nil
		}
		h = sha256.Sum256(h[:])
	}
}

// tlsCertificate makes the self-signed certificate a TLS service presents:
// the device's own (named after its address and serial), or the profile's
// hard-coded one (named after the product).
func tlsCertificate(seed int64, d *device, hardCoded bool) (tls.Certificate, error) {
	owner, cn := d.addr.String(), d.addr.String()
	from, until := deviceCertFrom, deviceCertUntil
	var ips []net.IP
	if hardCoded {
		owner, cn = "profile "+d.prof.ID, d.prof.Model
		from, until = hardCodedCertFrom, hardCodedCertTill
	} else {
		ips = []net.IP{d.addr.AsSlice()}
	}
	key, err := tlsKeyPrivate(seed, owner)
	if err != nil {
		return tls.Certificate{}, err
	}
	h := sha256.Sum256(fmt.Appendf(nil, "serial\x00%d\x00%s", seed, owner))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetUint64(binary.BigEndian.Uint64(h[:8]) >> 1),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{d.prof.Vendor}},
		NotBefore:    from, NotAfter: until, IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	// ECDSA signatures with a nil random source are deterministic (RFC
	// 6979), so a seed gives the same certificate every run.
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls certificate for %s: %w", owner, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls certificate for %s: %w", owner, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// certFingerprints returns the SHA-256 of a certificate and of its
// SubjectPublicKeyInfo, as the scan records them.
func certFingerprints(c *tls.Certificate) (cert, spki string) {
	if c == nil || c.Leaf == nil {
		return "", ""
	}
	a, b := sha256.Sum256(c.Leaf.Raw), sha256.Sum256(c.Leaf.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(a[:]), hex.EncodeToString(b[:])
}

// certPEM returns the certificate and its private key in PEM, as a
// firmware image ships them.
func certPEM(c *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tls key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// serverTLS is the server configuration of one TLS service: TLS 1.2 and
// 1.3, as current embedded web servers offer.
func serverTLS(c *tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{*c}, MinVersion: tls.VersionTLS12}
}
