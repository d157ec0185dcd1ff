// Package auth is who may do what in the observatory console: users with one
// role each, passwords hashed with argon2id, API tokens and log-in sessions
// (random secrets the client holds, stored only as SHA-256 hashes, with an
// expiry), lock-out after repeated failed log-ins, the CIDR target scopes an
// admin grants, and the append-only audit log of who did what, when and from
// where. Its tables live in the evidence store (migration 00025).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"iotwatch/internal/store"
)

// Role is what a user may do; each role may do everything the roles below it
// may.
type Role int

// The roles, lowest first.
const (
	// Nobody is the role of an unauthenticated request.
	Nobody Role = iota
	// Viewer reads reports and aggregates.
	Viewer
	// Analyst also reads device evidence, with secrets redacted.
	Analyst
	// Operator also submits, schedules and cancels jobs within their scopes.
	Operator
	// Admin also manages users, scopes and tokens, reads the audit log and
	// may reveal secrets.
	Admin
)

var roleNames = [...]string{"nobody", "viewer", "analyst", "operator", "admin"}

// String returns the role's name.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// Roles lists the roles a user can have, lowest first.
func Roles() []Role { return []Role{Viewer, Analyst, Operator, Admin} }

// ParseRole parses a role name (viewer, analyst, operator, admin).
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return Nobody, fmt.Errorf("role %q: want viewer, analyst, operator or admin", s)
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// Sentinel errors.
var (
	// ErrBadCredentials is a log-in with an unknown user or a wrong password;
	// which of the two is not said.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrLocked is a log-in to a user locked after repeated failures.
	ErrLocked = errors.New("account locked after repeated failed log-ins: ask an admin to run `iotwatch users unlock`")
	// ErrDisabled is a log-in or token of a disabled user.
	ErrDisabled = errors.New("account disabled")
	// ErrUnauthenticated is a request without a valid session or token
	// (absent, unknown, expired or revoked).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrExists is a user added twice.
	ErrExists = errors.New("already exists")
)

// Principal is who a request acts for.
type Principal struct {
	UserID int64  `json:"user_id,omitempty"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	// Via is how the principal was established: "session", "token",
	// "local" (no users exist and the server is on loopback) or "cli".
	Via string `json:"via"`
	// CSRF is the session's anti-forgery token (sessions only).
	CSRF string `json:"-"`
	// Session is the hash of the session's secret (sessions only).
	Session string `json:"-"`
}

// Can reports whether p has at least role r.
func (p Principal) Can(r Role) bool { return p.Role >= r }

// Service is the access store over one evidence database.
type Service struct {
	st *store.Store
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Hasher hashes passwords (DefaultParams by default).
	Hasher Hasher
	// MaxFailures is how many failed log-ins in a row lock a user (5).
	MaxFailures int
	// SessionTTL is how long a log-in session lasts (12 h).
	SessionTTL time.Duration

	dummyOnce sync.Once
	dummy     string // see dummyHash
}

// New returns the access service over st.
func New(st *store.Store) *Service {
	return &Service{st: st, Now: time.Now, Hasher: Hasher{Params: DefaultParams}, MaxFailures: 5, SessionTTL: 12 * time.Hour}
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) q(query string) string { return s.st.Rebind(query) }

// randomSecret returns n random bytes as unpadded base64url.
func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is how tokens and session secrets are stored: hex SHA-256. They
// are 256-bit random values, so a fast hash is enough (no dictionary to try).
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// contextKey keys the principal in a request context.
type contextKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// From returns the principal ctx carries (Nobody if none).
func From(ctx context.Context) Principal {
	p, _ := ctx.Value(contextKey{}).(Principal)
	return p
}
