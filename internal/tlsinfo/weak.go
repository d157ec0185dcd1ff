package tlsinfo

import (
	"fmt"
	"strings"
	"time"
)

// Weakness is one cryptographic shortcoming of a TLS service.
type Weakness struct {
	// Code is expired, not-yet-valid, self-signed, weak-key,
	// weak-signature, legacy-version or weak-cipher.
	Code string `json:"code"`
	// Broken reports whether it defeats the protection (a weak key or
	// cipher, a legacy protocol version) rather than only its
	// verifiability (expired or self-signed).
	Broken bool   `json:"broken"`
	Text   string `json:"text"`
}

// MinRSABits and MinECBits are the smallest key sizes taken as sound
// (NIST SP 800-57 part 1, 112-bit security).
const (
	MinRSABits = 2048
	MinECBits  = 224
)

// WeakKey reports whether a key of this type and size is below current
// practice.
func WeakKey(keyType string, bits int) bool {
	switch keyType {
	case "rsa":
		return bits < MinRSABits
	case "ecdsa":
		return bits < MinECBits
	case "dsa":
		return true
	}
	return false
}

// Weaknesses lists what is wrong with the session and its leaf certificate
// at time now.
func (i *Info) Weaknesses(now time.Time) []Weakness {
	if i == nil {
		return nil
	}
	var out []Weakness
	add := func(code string, broken bool, format string, a ...any) {
		out = append(out, Weakness{Code: code, Broken: broken, Text: fmt.Sprintf(format, a...)})
	}
	switch i.Version {
	case "SSLv3", "TLS 1.0", "TLS 1.1":
		add("legacy-version", true, "negotiates %s", i.Version)
	}
	if c := strings.ToUpper(i.Cipher); strings.Contains(c, "RC4") || strings.Contains(c, "3DES") || strings.Contains(c, "_DES_") ||
		strings.Contains(c, "NULL") || strings.Contains(c, "EXPORT") || strings.Contains(c, "ANON") {
		add("weak-cipher", true, "negotiates %s", i.Cipher)
	}
	leaf, ok := i.Leaf()
	if !ok {
		return out
	}
	if WeakKey(leaf.KeyType, leaf.KeyBits) {
		add("weak-key", true, "%s-%d certificate key", leaf.KeyType, leaf.KeyBits)
	}
	if s := strings.ToUpper(leaf.SignatureAlgorithm); !leaf.SelfSigned && (strings.HasPrefix(s, "MD5") || strings.HasPrefix(s, "MD2") || strings.HasPrefix(s, "SHA1") || strings.HasPrefix(s, "DSA-SHA1") || strings.HasPrefix(s, "ECDSA-SHA1")) {
		add("weak-signature", true, "certificate signed with %s", leaf.SignatureAlgorithm)
	}
	if !leaf.NotAfter.IsZero() && now.After(leaf.NotAfter) {
		add("expired", false, "certificate expired %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		add("not-yet-valid", false, "certificate valid only from %s", leaf.NotBefore.UTC().Format(time.DateOnly))
	}
	if leaf.SelfSigned {
		add("self-signed", false, "self-signed certificate")
	}
	return out
}
