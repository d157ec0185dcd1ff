package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"iotwatch/internal/store"
)

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// Scopes returns the target scopes granted to user id.
func (s *Service) Scopes(ctx context.Context, userID int64) ([]netip.Prefix, error) {
	rows, err := s.st.DB().QueryContext(ctx, s.q(`SELECT prefix FROM user_scopes WHERE user_id = ? ORDER BY prefix`), userID)
	if err != nil {
		return nil, fmt.Errorf("scopes of user %d: %w", userID, err)
	}
	defer rows.Close()
	var ps []netip.Prefix
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("scopes of user %d: %w", userID, err)
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("scopes of user %d: stored prefix %q: %w", userID, v, err)
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// AddScope grants user the target scope p (masked to its network).
func (s *Service) AddScope(ctx context.Context, user string, p netip.Prefix, by Actor) error {
	u, err := s.User(ctx, user)
	if err != nil {
		return err
	}
	p = p.Masked()
	if _, err := s.st.DB().ExecContext(ctx, s.q(`INSERT INTO user_scopes (user_id, prefix, granted_by, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, prefix) DO NOTHING`), u.ID, p.String(), by.Name, store.Time(s.now())); err != nil {
		return fmt.Errorf("grant %s to %s: %w", p, user, err)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "scope.add", Target: user, Outcome: "ok", Detail: p.String()})
}

// RemoveScope withdraws the target scope p from user.
func (s *Service) RemoveScope(ctx context.Context, user string, p netip.Prefix, by Actor) error {
	u, err := s.User(ctx, user)
	if err != nil {
		return err
	}
	p = p.Masked()
	res, err := s.st.DB().ExecContext(ctx, s.q(`DELETE FROM user_scopes WHERE user_id = ? AND prefix = ?`), u.ID, p.String())
	if err != nil {
		return fmt.Errorf("withdraw %s from %s: %w", p, user, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("scope %s of %s: %w", p, user, store.ErrNotFound)
	}
	return s.Record(ctx, Entry{Actor: by.Name, Remote: by.Remote, Action: "scope.remove", Target: user, Outcome: "ok", Detail: p.String()})
}

// ParseScope parses a target scope: a CIDR (10.20.0.0/16) or a single
// address (a /32 or /128).
func ParseScope(v string) (netip.Prefix, error) {
	v = strings.TrimSpace(v)
	p, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(v)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("scope %q: want a CIDR such as 10.0.0.0/8", v)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}
