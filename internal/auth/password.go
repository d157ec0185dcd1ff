package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams are RFC 9106's second recommended option (64 MiB, 3
// passes, 4 lanes) lowered to one lane per CPU we can expect on a small
// server; OWASP's minimum is 19 MiB and 2 passes.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords as PHC strings:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64).
type Hasher struct{ Params Params }

// Hash returns the PHC string of password with a fresh random salt.
func (h Hasher) Hash(password string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails
	p := h.Params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// errBadHash is a stored hash that is not an argon2id PHC string.
var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

// Verify reports whether password matches the PHC string phc, with the
// parameters phc records (so raising DefaultParams keeps old hashes valid).
func Verify(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("%w: version %q", errBadHash, parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
	}
	if p.Memory == 0 || p.Memory > 4<<20 || p.Time == 0 || p.Time > 100 || p.Threads == 0 {
		return false, fmt.Errorf("%w: parameters %q out of range", errBadHash, parts[3])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("%w: salt: %w", errBadHash, err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, fmt.Errorf("%w: hash", errBadHash)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
