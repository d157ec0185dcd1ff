package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"iotwatch/internal/store"
)

// expiryLayout stores expiries at a fixed width, so that they compare as
// strings in SQL.
const expiryLayout = "2006-01-02T15:04:05Z"

func expiry(t time.Time) string { return t.UTC().Format(expiryLayout) }

// Login checks name's password and opens a session: it returns the session
// secret for the cookie and the principal (with the session's CSRF token).
func (s *Service) Login(ctx context.Context, name, password, remote string) (string, Principal, error) {
	u, err := s.CheckPassword(ctx, name, password, remote)
	if err != nil {
		return "", Principal{}, err
	}
	return s.openSession(ctx, u, remote, "")
}

// openSession opens a session for u after a successful log-in (how says by
// what, for the audit log: "" for a password).
func (s *Service) openSession(ctx context.Context, u User, remote, how string) (string, Principal, error) {
	name := u.Name
	secret, csrf := randomSecret(32), randomSecret(32)
	now := s.now()
	db := s.st.DB()
	// Sessions that ended are of no use to anyone: forget them here.
	if _, err := db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at <= ?`), expiry(now)); err != nil {
		return "", Principal{}, fmt.Errorf("expire sessions: %w", err)
	}
	if _, err := db.ExecContext(ctx, s.q(`INSERT INTO sessions (hash, user_id, csrf, remote, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
		hashSecret(secret), u.ID, csrf, remote, store.Time(now), expiry(now.Add(s.SessionTTL))); err != nil {
		return "", Principal{}, fmt.Errorf("open session of %s: %w", name, err)
	}
	if err := s.Record(ctx, Entry{Actor: name, Remote: remote, Action: "login", Target: name, Outcome: "ok", Detail: how}); err != nil {
		return "", Principal{}, err
	}
	return secret, Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Via: "session", CSRF: csrf, Session: hashSecret(secret)}, nil
}

// Session returns the principal of a session secret: ErrUnauthenticated if
// it is unknown or expired, or its user disabled.
func (s *Service) Session(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	h := hashSecret(secret)
	var (
		p                         Principal
		role, expires, disabledAt string
	)
	err := s.st.DB().QueryRowContext(ctx, s.q(`SELECT u.id, u.name, u.role, u.disabled_at, s.csrf, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`), h).Scan(&p.UserID, &p.Name, &role, &disabledAt, &p.CSRF, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up session: %w", err)
	}
	if disabledAt != "" || expires <= expiry(s.now()) {
		return Principal{}, ErrUnauthenticated
	}
	if p.Role, err = ParseRole(role); err != nil {
		return Principal{}, fmt.Errorf("session of %s: stored %w", p.Name, err)
	}
	p.Via, p.Session = "session", h
	return p, nil
}

// Logout ends the session p belongs to.
func (s *Service) Logout(ctx context.Context, p Principal, remote string) error {
	if p.Session == "" {
		return nil
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`DELETE FROM sessions WHERE hash = ?`), p.Session); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return s.Record(ctx, Entry{Actor: p.Name, Remote: remote, Action: "logout", Target: p.Name, Outcome: "ok"})
}

// LinkSubject links user name to a single sign-on subject (the OpenID
// Connect "sub" claim of the configured issuer); "" unlinks.
func (s *Service) LinkSubject(ctx context.Context, name, subject string, by Actor) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE users SET oidc_subject = ? WHERE id = ?`), subject, u.ID); err != nil {
		return fmt.Errorf("link %s to %q: %w", name, subject, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "user.link", Target: name, Outcome: "ok", Detail: "oidc subject " + subject})
}

// LoginSubject opens a session for the user linked to a single sign-on
// subject the issuer vouched for: ErrBadCredentials when none is linked.
func (s *Service) LoginSubject(ctx context.Context, subject, remote string) (string, Principal, error) {
	var name string
	err := s.st.DB().QueryRowContext(ctx, s.q(`SELECT name FROM users WHERE oidc_subject = ? AND oidc_subject <> ''`), subject).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) || subject == "" {
		if rerr := s.Record(ctx, Entry{Actor: "oidc:" + subject, Remote: remote, Action: "login", Outcome: "failed", Detail: "no user linked to this subject"}); rerr != nil {
			return "", Principal{}, rerr
		}
		return "", Principal{}, ErrBadCredentials
	}
	if err != nil {
		return "", Principal{}, fmt.Errorf("look up subject: %w", err)
	}
	u, err := s.User(ctx, name)
	if err != nil {
		return "", Principal{}, err
	}
	if u.Disabled || u.Locked {
		if rerr := s.Record(ctx, Entry{Actor: name, Remote: remote, Action: "login", Target: name, Outcome: "failed", Detail: "oidc; disabled or locked"}); rerr != nil {
			return "", Principal{}, rerr
		}
		if u.Disabled {
			return "", Principal{}, ErrDisabled
		}
		return "", Principal{}, ErrLocked
	}
	return s.openSession(ctx, u, remote, "oidc")
}
