package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"iotwatch/internal/scope"
)

// ErrForbidden is an action the principal may not take: its role is too low
// or its targets lie outside the principal's scopes.
var ErrForbidden = errors.New("forbidden")

// noNames refuses host names in scoped submissions: a name checked now
// could resolve elsewhere when a worker runs the job.
type noNames struct{}

func (noNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, fmt.Errorf("host name %q: a scoped job takes addresses, CIDRs and ranges only (a name could resolve elsewhere when the job runs)", host)
}

// AuthorizeTargets decides whether p may take action (job.submit,
// schedule.add, job.cancel) on targets: it needs the operator role, and every
// target inside the scopes an admin granted p (scope.Check; addresses, CIDRs
// and ranges only). A refusal is recorded in the audit log with its reason
// and returned wrapping ErrForbidden; the caller records what an approval
// led to.
func (s *Service) AuthorizeTargets(ctx context.Context, p Principal, action string, targets []string, remote string) error {
	refuse := func(reason error) error {
		if err := s.Record(ctx, Entry{Actor: p.Name, Remote: remote, Action: action, Target: strings.Join(targets, " "),
			Outcome: "refused", Detail: reason.Error()}); err != nil {
			return err
		}
		return fmt.Errorf("%s: %w: %w", action, ErrForbidden, reason)
	}
	if p.Role < Operator {
		return refuse(fmt.Errorf("needs the operator role, %s has %s", p.Name, p.Role))
	}
	scopes, err := s.Scopes(ctx, p.UserID)
	if err != nil {
		return err
	}
	if _, err := scope.Check(ctx, scopes, targets, noNames{}); err != nil {
		return refuse(err)
	}
	return nil
}

// AsUser returns the principal of user name for the command line (`jobs
// submit --as NAME`): the user must exist and be enabled.
func (s *Service) AsUser(ctx context.Context, name string) (Principal, error) {
	u, err := s.User(ctx, name)
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, fmt.Errorf("user %s: %w", name, ErrDisabled)
	}
	return Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Via: "cli"}, nil
}
