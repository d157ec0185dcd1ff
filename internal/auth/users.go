package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"iotwatch/internal/store"
)

// User is one account.
type User struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
	Disabled     bool      `json:"disabled"`
	Locked       bool      `json:"locked"`
	FailedLogins int       `json:"failed_logins"`
	LastLoginAt  time.Time `json:"last_login_at,omitzero"`
	Scopes       []string  `json:"scopes"`
	passwordHash string
}

// Actor is who performs an administrative change, for the audit log.
type Actor struct {
	Name   string
	Remote string
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// validName reports whether a user name is acceptable: 1-64 letters, digits
// and . _ - @.
func validName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("user name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@", r) {
			return fmt.Errorf("user name %q: only letters, digits and . _ - @", name)
		}
	}
	return nil
}

// AddUser creates a user with a role and a password.
func (s *Service) AddUser(ctx context.Context, name string, role Role, password string, by Actor) (User, error) {
	if err := validName(name); err != nil {
		return User{}, err
	}
	if role < Viewer || role > Admin {
		return User{}, fmt.Errorf("add user %s: no role", name)
	}
	if len(password) < MinPasswordLen {
		return User{}, fmt.Errorf("add user %s: password shorter than %d characters", name, MinPasswordLen)
	}
	if _, err := s.User(ctx, name); err == nil {
		return User{}, fmt.Errorf("add user %s: %w", name, ErrExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return User{}, err
	}
	now := s.now()
	hash := s.Hasher.Hash(password)
	if _, err := s.st.DB().ExecContext(ctx, s.q(`INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)`),
		name, role.String(), hash, store.Time(now)); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "user.add", Target: name, Outcome: "ok", Detail: "role " + role.String()}); err != nil {
		return User{}, err
	}
	return s.User(ctx, name)
}

const userColumns = `id, name, role, password_hash, created_at, disabled_at, failed_logins, locked_at, last_login_at`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var (
		u                                   User
		role, created, disabled, locked, ll string
	)
	if err := sc.Scan(&u.ID, &u.Name, &role, &u.passwordHash, &created, &disabled, &u.FailedLogins, &locked, &ll); err != nil {
		return User{}, err
	}
	r, err := ParseRole(role)
	if err != nil {
		return User{}, fmt.Errorf("user %s: stored %w", u.Name, err)
	}
	u.Role, u.CreatedAt, u.LastLoginAt = r, store.ParseTime(created), store.ParseTime(ll)
	u.Disabled, u.Locked = disabled != "", locked != ""
	return u, nil
}

// User returns the user named name (store.ErrNotFound if none), with scopes.
func (s *Service) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.st.DB().QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	ps, err := s.Scopes(ctx, u.ID)
	if err != nil {
		return User{}, err
	}
	u.Scopes = prefixStrings(ps)
	return u, nil
}

// Users lists every user by name, with scopes.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.st.DB().QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for i := range us {
		ps, err := s.Scopes(ctx, us[i].ID)
		if err != nil {
			return nil, err
		}
		us[i].Scopes = prefixStrings(ps)
	}
	return us, nil
}

// AdminExists reports whether an enabled admin exists: the condition for
// serving beyond loopback.
func (s *Service) AdminExists(ctx context.Context) (bool, error) {
	var n int
	err := s.st.DB().QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE role = ? AND disabled_at = ''`), Admin.String()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n > 0, nil
}

// AnyUser reports whether any user exists (enabled or not): once one does,
// the console asks everyone to log in.
func (s *Service) AnyUser(ctx context.Context) (bool, error) {
	var n int
	if err := s.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

// Disable disables a user: log-in, sessions and tokens stop working.
func (s *Service) Disable(ctx context.Context, name string, by Actor) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	db := s.st.DB()
	if _, err := db.ExecContext(ctx, s.q(`UPDATE users SET disabled_at = ? WHERE id = ?`), store.Time(s.now()), u.ID); err != nil {
		return fmt.Errorf("disable user %s: %w", name, err)
	}
	if _, err := db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_id = ?`), u.ID); err != nil {
		return fmt.Errorf("disable user %s: end sessions: %w", name, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "user.disable", Target: name, Outcome: "ok"})
}

// Unlock lifts a lock-out and clears the failure count.
func (s *Service) Unlock(ctx context.Context, name string, by Actor) error {
	return s.setColumns(ctx, name, "user.unlock", `locked_at = '', failed_logins = 0`, by)
}

// setColumns applies set (an UPDATE's SET list, no parameters) to user name
// and records action in the audit log.
func (s *Service) setColumns(ctx context.Context, name, action, set string, by Actor) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE users SET `+set+` WHERE id = ?`), u.ID); err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: action, Target: name, Outcome: "ok"})
}

// SetPassword replaces a user's password.
func (s *Service) SetPassword(ctx context.Context, name, password string, by Actor) error {
	if len(password) < MinPasswordLen {
		return fmt.Errorf("password shorter than %d characters", MinPasswordLen)
	}
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE id = ?`), s.Hasher.Hash(password), u.ID); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "user.password", Target: name, Outcome: "ok"})
}

// dummyHash is verified against when the user does not exist or is
// disabled, so that an unknown name costs as much time as a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = s.Hasher.Hash("no such user, no such password") })
	return s.dummy
}

// CheckPassword checks name's password, counting failures and locking the
// user after MaxFailures in a row. Every attempt is audit-logged.
func (s *Service) CheckPassword(ctx context.Context, name, password, remote string) (User, error) {
	fail := func(u User, err error, detail string) (User, error) {
		if rerr := s.Record(ctx, Entry{Actor: name, Remote: remote, Action: "login", Target: name, Outcome: "failed", Detail: detail}); rerr != nil {
			return User{}, rerr
		}
		return u, err
	}
	u, err := s.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = Verify(s.dummyHash(), password)
		return fail(User{}, ErrBadCredentials, "unknown user")
	}
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		_, _ = Verify(s.dummyHash(), password)
		return fail(User{}, ErrDisabled, "disabled")
	}
	if u.Locked {
		return fail(User{}, ErrLocked, "locked")
	}
	ok, err := Verify(u.passwordHash, password)
	if err != nil && u.passwordHash != "" {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	db := s.st.DB()
	if !ok {
		var n int
		if err := db.QueryRowContext(ctx, s.q(`UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ? RETURNING failed_logins`), u.ID).Scan(&n); err != nil {
			return User{}, fmt.Errorf("count failed log-in of %s: %w", name, err)
		}
		if n >= s.MaxFailures {
			if _, err := db.ExecContext(ctx, s.q(`UPDATE users SET locked_at = ? WHERE id = ?`), store.Time(s.now()), u.ID); err != nil {
				return User{}, fmt.Errorf("lock %s: %w", name, err)
			}
			if err := s.Record(ctx, Entry{Actor: name, Remote: remote, Action: "user.lock", Target: name, Outcome: "ok", Detail: fmt.Sprintf("%d failed log-ins", n)}); err != nil {
				return User{}, err
			}
			return fail(User{}, ErrLocked, "wrong password; locked")
		}
		return fail(User{}, ErrBadCredentials, "wrong password")
	}
	if _, err := db.ExecContext(ctx, s.q(`UPDATE users SET failed_logins = 0, last_login_at = ? WHERE id = ?`), store.Time(s.now()), u.ID); err != nil {
		return User{}, fmt.Errorf("log-in of %s: %w", name, err)
	}
	return u, nil
}

// Enable lets a disabled user log in again (their tokens work again unless
// revoked or expired; sessions ended when the user was disabled).
func (s *Service) Enable(ctx context.Context, name string, by Actor) error {
	return s.setColumns(ctx, name, "user.enable", `disabled_at = ''`, by)
}

// SetRole changes a user's role; it applies to their sessions and tokens
// from the next request.
func (s *Service) SetRole(ctx context.Context, name string, role Role, by Actor) error {
	if role < Viewer || role > Admin {
		return fmt.Errorf("role of %s: no role", name)
	}
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.st.DB().ExecContext(ctx, s.q(`UPDATE users SET role = ? WHERE id = ?`), role.String(), u.ID); err != nil {
		return fmt.Errorf("role of %s: %w", name, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "user.role", Target: name, Outcome: "ok",
		Detail: u.Role.String() + " to " + role.String()})
}

// GeneratePassword returns a random password for an account an admin
// creates or resets without choosing one: 20 base64url characters (120
// bits), shown to the admin once.
func GeneratePassword() string { return randomSecret(15) }
