// Package secret encrypts the secrets iotwatch finds (accepted passwords, SNMP
// communities, keys and tokens from firmware) before they reach the evidence
// store, so that a copy of the database alone reveals none of them.
//
// Each value is sealed on its own with NaCl secretbox (XSalsa20-Poly1305,
// golang.org/x/crypto/nacl/secretbox) under a 32-byte key kept in a key file
// beside the database (see Resolve). secretbox rather than age: the values are
// short strings sealed one by one (a password in a row), where secretbox adds
// 40 bytes and a microsecond, while an age file per value adds a ~200-byte
// header and an X25519 operation; and the credentials table needs a
// deterministic mode (the password is part of its primary key, so a re-run
// must produce the same stored value), which needs a symmetric key anyway,
// so age's public-key writers would not hold. Rotation is provided by key
// identifiers: every sealed value names the key that sealed it, and a key
// file may hold older keys after the current one.
//
// A sealed value is text, "iwsec1:" followed by unpadded base64url of
// key id (4 bytes) || nonce (24) || box, so it fits any TEXT column and JSON
// string. Without the key a sealed value opens to a placeholder ("[sealed:…]",
// stable per ciphertext) so that everything still works, redacted.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/nacl/secretbox"
)

// Prefix starts every sealed value.
const Prefix = "iwsec1:"

const (
	keySize   = 32
	idSize    = 4
	nonceSize = 24
)

// ErrNoKey is returned when a raw value is asked for and no key that opens it
// is loaded.
var ErrNoKey = errors.New("secret key not available")

// Key is one 32-byte secretbox key.
type Key [keySize]byte

// ID returns the key's identifier: the first 4 bytes of SHA-256 of the key.
func (k *Key) ID() [idSize]byte {
	h := sha256.Sum256(k[:])
	var id [idSize]byte
	copy(id[:], h[:idSize])
	return id
}

// NewKey returns a random key.
func NewKey() (*Key, error) {
	k := new(Key)
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("new secret key: %w", err)
	}
	return k, nil
}

// Box seals and opens values with a key ring: the first key seals, every key
// opens what it sealed. The zero Box (and a nil *Box) has no key: it seals
// nothing (Seal fails with ErrNoKey) and opens every value to a placeholder.
type Box struct {
	keys []*Key
}

// NewBox returns a Box whose first key seals.
func NewBox(keys ...*Key) *Box { return &Box{keys: keys} }

// HasKey reports whether the box can seal values.
func (b *Box) HasKey() bool { return b != nil && len(b.keys) > 0 }

// KeyID returns the hex identifier of the sealing key, "" without one.
func (b *Box) KeyID() string {
	if !b.HasKey() {
		return ""
	}
	id := b.keys[0].ID()
	return hex.EncodeToString(id[:])
}

// Seal encrypts plain with a random nonce. The empty string stays empty
// (an empty password is a finding, not a secret), and a value already sealed
// is returned unchanged.
func (b *Box) Seal(plain string) (string, error) {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return b.seal(plain, &nonce)
}

// SealDeterministic encrypts plain so that the same plain text under the same
// key and context always gives the same sealed value (a synthetic nonce,
// HMAC-SHA256 of context and plain text under a key derived from the box
// key): for columns that identify rows. It reveals which rows hold equal
// values, nothing more.
func (b *Box) SealDeterministic(context, plain string) (string, error) {
	if !b.HasKey() {
		return "", ErrNoKey
	}
	sub := sha256.Sum256(append([]byte("iotwatch secret nonce\x00"), b.keys[0][:]...))
	m := hmac.New(sha256.New, sub[:])
	m.Write([]byte(context))
	m.Write([]byte{0})
	m.Write([]byte(plain))
	var nonce [nonceSize]byte
	copy(nonce[:], m.Sum(nil))
	return b.seal(plain, &nonce)
}

func (b *Box) seal(plain string, nonce *[nonceSize]byte) (string, error) {
	if plain == "" || IsSealed(plain) {
		return plain, nil
	}
	if !b.HasKey() {
		return "", ErrNoKey
	}
	k := b.keys[0]
	id := k.ID()
	out := make([]byte, 0, idSize+nonceSize+len(plain)+secretbox.Overhead)
	out = append(out, id[:]...)
	out = append(out, nonce[:]...)
	out = secretbox.Seal(out, []byte(plain), nonce, (*[keySize]byte)(k))
	return Prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// IsSealed reports whether s looks like a sealed value.
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// Open decrypts a sealed value. A value that is not sealed is returned as it
// is (plain text written before encryption, or a redacted value). A sealed
// value no loaded key opens gives ErrNoKey; a damaged one an error.
func (b *Box) Open(s string) (string, error) {
	if !IsSealed(s) {
		return s, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(Prefix):])
	if err != nil || len(raw) < idSize+nonceSize+secretbox.Overhead {
		return "", fmt.Errorf("open sealed value: malformed")
	}
	if b != nil {
		for _, k := range b.keys {
			id := k.ID()
			if !hmac.Equal(id[:], raw[:idSize]) {
				continue
			}
			nonce := (*[nonceSize]byte)(raw[idSize : idSize+nonceSize])
			plain, ok := secretbox.Open(nil, raw[idSize+nonceSize:], nonce, (*[keySize]byte)(k))
			if !ok {
				return "", fmt.Errorf("open sealed value: authentication failed")
			}
			return string(plain), nil
		}
	}
	return "", fmt.Errorf("open sealed value of key %x: %w", raw[:idSize], ErrNoKey)
}

// Keys returns how many keys the box holds (the first seals).
func (b *Box) Keys() int {
	if b == nil {
		return 0
	}
	return len(b.keys)
}

// Current reports whether s is sealed under the box's sealing key.
func (b *Box) Current(s string) bool {
	if !IsSealed(s) || !b.HasKey() {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(Prefix):])
	id := b.keys[0].ID()
	return err == nil && len(raw) >= idSize && hmac.Equal(raw[:idSize], id[:])
}

// ResealIn re-seals, under the sealing key, every sealed value inside text
// that an older key of the box sealed; values no key opens stay as they are.
func (b *Box) ResealIn(text string) (string, error) {
	if !strings.Contains(text, Prefix) {
		return text, nil
	}
	var err error
	out := tokenRe.ReplaceAllStringFunc(text, func(tok string) string {
		if err != nil || b.Current(tok) {
			return tok
		}
		plain, oerr := b.Open(tok)
		if oerr != nil {
			return tok
		}
		var s string
		if s, err = b.Seal(plain); err != nil {
			return tok
		}
		return s
	})
	return out, err
}

// OpenOrPlaceholder opens s, or returns Placeholder(s) when it cannot be
// opened: the form every reader without the key sees.
func (b *Box) OpenOrPlaceholder(s string) string {
	p, err := b.Open(s)
	if err != nil {
		return Placeholder(s)
	}
	return p
}

// Placeholder returns the redacted stand-in of a sealed value: "[sealed:"
// and 8 hex digits of SHA-256 of the sealed text, so equal sealed values
// (deterministic ones) keep equal placeholders and distinct ones stay distinct.
func Placeholder(sealed string) string {
	h := sha256.Sum256([]byte(sealed))
	return "[sealed:" + hex.EncodeToString(h[:4]) + "]"
}

// IsPlaceholder reports whether s is a Placeholder.
func IsPlaceholder(s string) bool { return placeholderRe.MatchString(s) }

var placeholderRe = regexp.MustCompile(`^\[sealed:[0-9a-f]{8}\]$`)

// tokenRe finds sealed values inside longer text.
var tokenRe = regexp.MustCompile(regexp.QuoteMeta(Prefix) + `[A-Za-z0-9_-]+`)

// SealIn replaces every occurrence of each secret in text by its sealed
// value (also the Go-quoted spelling, as in a detail written with %q).
func (b *Box) SealIn(text string, secrets []string) (string, error) {
	for _, s := range secrets {
		if s == "" || IsSealed(s) || !strings.Contains(text, quoteInner(s)) && !strings.Contains(text, s) {
			continue
		}
		sealed, err := b.Seal(s)
		if err != nil {
			return "", err
		}
		text = strings.ReplaceAll(text, s, sealed)
		if q := quoteInner(s); q != s {
			text = strings.ReplaceAll(text, q, sealed)
		}
	}
	return text, nil
}

// OpenIn replaces every sealed value inside text by its plain text, or by its
// placeholder when no key opens it.
func (b *Box) OpenIn(text string) string {
	if !strings.Contains(text, Prefix) {
		return text
	}
	return tokenRe.ReplaceAllStringFunc(text, b.OpenOrPlaceholder)
}

// quoteInner is s as it appears inside a Go-quoted string.
func quoteInner(s string) string {
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
