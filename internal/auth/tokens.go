package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"iotwatch/internal/store"
)

// TokenPrefix starts every API token, so that a leaked one is recognisable
// (secret scanners match on it).
const TokenPrefix = "iwt_"

// Token is an API token's record; the secret itself is never stored.
type Token struct {
	ID         int64     `json:"id"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	Hint       string    `json:"hint"` // the secret's first characters
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Active reports whether the token still works at now.
func (t Token) Active(now time.Time) bool { return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) }

// CreateToken makes an API token for user, valid for ttl; the secret is
// returned once and only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, user, name string, ttl time.Duration, by Actor) (string, Token, error) {
	if ttl <= 0 {
		return "", Token{}, fmt.Errorf("token for %s: expiry must be in the future", user)
	}
	u, err := s.User(ctx, user)
	if err != nil {
		return "", Token{}, err
	}
	if u.Disabled {
		return "", Token{}, fmt.Errorf("token for %s: %w", user, ErrDisabled)
	}
	secret := TokenPrefix + randomSecret(32)
	now := s.now()
	t := Token{User: user, Name: name, Hint: secret[:len(TokenPrefix)+6], CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	err = s.st.DB().QueryRowContext(ctx, s.q(`INSERT INTO api_tokens (user_id, name, hash, hint, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		u.ID, name, hashSecret(secret), t.Hint, store.Time(now), expiry(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return "", Token{}, fmt.Errorf("token for %s: %w", user, err)
	}
	if err := s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "token.create", Target: user, Outcome: "ok",
		Detail: fmt.Sprintf("token %d %q expires %s", t.ID, name, expiry(t.ExpiresAt))}); err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Tokens lists the tokens of user ("" for everyone's), newest first.
func (s *Service) Tokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT t.id, u.name, t.name, t.hint, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if user != "" {
		q += ` WHERE u.name = ?`
		args = append(args, user)
	}
	rows, err := s.st.DB().QueryContext(ctx, s.q(q+` ORDER BY t.id DESC`), args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		var (
			t                               Token
			created, expires, revoked, used string
		)
		if err := rows.Scan(&t.ID, &t.User, &t.Name, &t.Hint, &created, &expires, &revoked, &used); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.LastUsedAt = store.ParseTime(created), store.ParseTime(revoked), store.ParseTime(used)
		t.ExpiresAt, _ = time.Parse(expiryLayout, expires)
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// RevokeToken revokes token id; revoking twice is not an error.
func (s *Service) RevokeToken(ctx context.Context, id int64, by Actor) error {
	res, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = ''`), store.Time(s.now()), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		if err := s.st.DB().QueryRowContext(ctx, s.q(`SELECT 1 FROM api_tokens WHERE id = ?`), id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %d: %w", id, store.ErrNotFound)
		}
		return nil
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "token.revoke", Target: "token " + strconv.FormatInt(id, 10), Outcome: "ok"})
}

// TokenPrincipal returns the principal of an API token secret:
// ErrUnauthenticated if it is unknown, revoked or expired, or its user
// disabled.
func (s *Service) TokenPrincipal(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	var (
		p                                      Principal
		id                                     int64
		role, disabled, expires, revoked, used string
	)
	err := s.st.DB().QueryRowContext(ctx, s.q(`SELECT t.id, u.id, u.name, u.role, u.disabled_at, t.expires_at, t.revoked_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`), hashSecret(secret)).
		Scan(&id, &p.UserID, &p.Name, &role, &disabled, &expires, &revoked, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	now := s.now()
	if disabled != "" || revoked != "" || expires <= expiry(now) {
		return Principal{}, ErrUnauthenticated
	}
	if p.Role, err = ParseRole(role); err != nil {
		return Principal{}, fmt.Errorf("token of %s: stored %w", p.Name, err)
	}
	// Last use to the minute: not a write per API request.
	if now.Sub(store.ParseTime(used)) >= time.Minute {
		if _, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`), store.Time(now), id); err != nil {
			return Principal{}, fmt.Errorf("token %d: %w", id, err)
		}
	}
	p.Via = "token"
	return p, nil
}
