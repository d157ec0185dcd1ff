// Package cwmp audits the TR-069 connection-request URL of a CPE: TR-069
// requires HTTP Digest there (Basic is allowed by older CPEs), so the login is
// the HTTP module's, judged the same way (a 2xx after a 401 challenge). A
// connection request that succeeds only makes the CPE call its ACS; it
// changes nothing on the device.
package cwmp

import (
	"context"

	"iotwatch/internal/login"
	loginhttp "iotwatch/internal/login/http"
	"iotwatch/internal/model"
)

// Module is the CWMP connection-request login module.
type Module struct{}

var _ login.Module = Module{}

// Protocols implements login.Module.
func (Module) Protocols() []string { return []string{model.ProtoCWMP} }

// Open implements login.Module.
func (Module) Open(ctx context.Context, t login.Target) (login.Session, error) {
	return loginhttp.Module{}.Open(ctx, t)
}
