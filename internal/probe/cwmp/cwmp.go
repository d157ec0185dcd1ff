// Package cwmp probes TR-069/CWMP connection-request servers: the HTTP
// server a CPE (home router, ONT, VoIP gateway) runs on port 7547 so that its
// provider's ACS can wake it. The probe is the HTTP probe's GET / (the
// connection-request URL is usually "/" or a fixed path; it answers 401 with
// the CPE stack's Server header and Digest realm); the record adds what
// identifies the CPE: its server software, realm and authentication scheme.
// Misfortune Cookie (RomPager 4.07) and the 2016 Deutsche Telekom outage
// (TR-064 on 7547) both went through this port.
package cwmp

import (
	"context"
	"net"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/probe/http"
)

// Record is the CWMP handshake data: the HTTP record of GET / and the
// connection-request details read from it.
type Record struct {
	HTTP *http.Record `json:"http"`
	// Server is the CPE's HTTP server software (RomPager/4.07 UPnP/1.0, …).
	Server string `json:"server,omitempty"`
	// AuthScheme and Realm are the connection request's challenge (TR-069
	// requires Digest; Basic is a finding of its own).
	AuthScheme string `json:"auth_scheme,omitempty"`
	Realm      string `json:"realm,omitempty"`
}

// Fields implements probe.Record: the HTTP fields, so that the HTTP server
// rules apply, and cwmp.server, cwmp.realm, cwmp.auth_scheme.
func (r *Record) Fields() map[string]string {
	f := map[string]string{}
	if r.HTTP != nil {
		f = r.HTTP.Fields()
	}
	f["cwmp.server"], f["cwmp.realm"], f["cwmp.auth_scheme"] = r.Server, r.Realm, r.AuthScheme
	return f
}

// Prober is the CWMP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoCWMP }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	res := http.Prober{}.Probe(ctx, conn, env)
	res.Protocol = model.ProtoCWMP
	if res.Status != model.StatusSuccess {
		return res
	}
	hr, _ := res.Data.(*http.Record)
	if hr == nil {
		return res
	}
	rec := &Record{HTTP: hr, Server: hr.Server, AuthScheme: hr.AuthScheme, Realm: hr.Realm}
	res.Data = rec
	if rec.Server != "" {
		res.Banner = hr.StatusLine + " " + rec.Server
	}
	return res
}
