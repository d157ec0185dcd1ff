// Package rtsp probes RTSP servers (IP cameras, NVRs): OPTIONS for the
// server name and public methods, then DESCRIBE for the authentication scheme
// and realm, or the SDP session description when no authentication is asked.
package rtsp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/httpauth"
	wirertsp "iotwatch/internal/wire/rtsp"
)

// Record is the RTSP handshake data.
type Record struct {
	Server        string   `json:"server,omitempty"`
	Public        []string `json:"public,omitempty"`
	OptionsStatus int      `json:"options_status"`
	DescribeCode  int      `json:"describe_status,omitempty"`
	AuthScheme    string   `json:"auth_scheme,omitempty"`
	Realm         string   `json:"realm,omitempty"`
	SDPSession    string   `json:"sdp_session,omitempty"` // s= line of the SDP when DESCRIBE needs no auth
	NoAuth        bool     `json:"no_auth"`               // DESCRIBE succeeded without credentials
}

// Fields implements probe.Record.
func (r *Record) Fields() map[string]string {
	return map[string]string{"rtsp.server": r.Server, "rtsp.realm": r.Realm, "rtsp.sdp_session": r.SDPSession}
}

// Prober is the RTSP prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoRTSP }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	br := bufio.NewReader(&probe.LimitConn{Conn: conn, N: env.Limit()})
	url := "rtsp://" + conn.RemoteAddr().String() + "/"
	if _, err := fmt.Fprintf(conn, "OPTIONS %s RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: iotwatch\r\n\r\n", url); err != nil {
		return probe.Fail(model.ProtoRTSP, fmt.Errorf("rtsp options: %w", err))
	}
	resp, err := wirertsp.ReadResponse(br, env.Limit())
	if err != nil {
		return probe.Fail(model.ProtoRTSP, fmt.Errorf("rtsp options: %w", err))
	}
	rec := &Record{OptionsStatus: resp.Code, Server: probe.Printable([]byte(resp.Header.Get("Server")), 256)}
	for _, m := range strings.Split(resp.Header.Get("Public"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			rec.Public = append(rec.Public, m)
		}
	}
	result := probe.Result{Protocol: model.ProtoRTSP, Status: model.StatusSuccess, Banner: fmt.Sprintf("RTSP/1.0 %d %s", resp.Code, rec.Server), Data: rec}
	if _, err := fmt.Fprintf(conn, "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\nUser-Agent: iotwatch\r\n\r\n", url); err != nil {
		return result
	}
	d, err := wirertsp.ReadResponse(br, env.Limit())
	if err != nil {
		return result
	}
	rec.DescribeCode = d.Code
	if rec.Server == "" {
		rec.Server = probe.Printable([]byte(d.Header.Get("Server")), 256)
	}
	if wa := d.Header.Get("Www-Authenticate"); wa != "" {
		scheme, realm := httpauth.SchemeRealm(wa)
		rec.AuthScheme, rec.Realm = probe.Printable([]byte(scheme), 64), probe.Printable([]byte(realm), 256)
	}
	if d.Code == 200 {
		rec.NoAuth = true
		for _, l := range strings.Split(string(d.Body), "\n") {
			if strings.HasPrefix(l, "s=") {
				rec.SDPSession = probe.Printable([]byte(strings.TrimSpace(l[2:])), 256)
				break
			}
		}
	}
	return result
}
