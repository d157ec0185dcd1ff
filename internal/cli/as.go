package cli

import (
	"context"
	"strings"

	"iotwatch/internal/auth"
	"iotwatch/internal/store"
)

// actAs is the `--as USER` of job submissions: it checks that user may take
// action on targets (operator role, targets inside the user's scopes; a
// refusal is audit-logged by auth) and returns a function recording what
// the approved action did. Without --as it does nothing: the command line's
// own user is trusted, as before.
func actAs(ctx context.Context, st *store.Store, user, action string, targets []string) (func(detail string) error, error) {
	if user == "" {
		return func(string) error { return nil }, nil
	}
	a := auth.New(st)
	p, err := a.AsUser(ctx, user)
	if err != nil {
		return nil, err
	}
	remote := cliActor().Name
	if err := a.AuthorizeTargets(ctx, p, action, targets, remote); err != nil {
		return nil, err
	}
	return func(detail string) error {
		return a.Record(ctx, auth.Entry{Actor: p.Name, Remote: remote, Action: action, Target: strings.Join(targets, " "), Outcome: "ok", Detail: detail})
	}, nil
}
