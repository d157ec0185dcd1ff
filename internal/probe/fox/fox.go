// Package fox probes Niagara Fox stations (TCP 1911) with the Fox hello,
// whose answer names the station, its host, the Niagara version, the Java VM
// and OS, and the brand, as nmap's fox-info reads it. The codec is
// internal/wire/fox.
package fox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
	"iotwatch/internal/wire/fox"
)

// Record is the station's hello.
type Record struct {
	Hello map[string]string `json:"hello"`
}

// Fields implements probe.Record: "fox.<name>" for every hello field.
func (r *Record) Fields() map[string]string {
	out := make(map[string]string, len(r.Hello))
	for k, v := range r.Hello {
		out["fox."+k] = v
	}
	return out
}

// Prober is the Fox prober.
type Prober struct{}

var _ probe.Prober = Prober{}

// Name implements probe.Prober.
func (Prober) Name() string { return model.ProtoFox }

// Probe implements probe.Prober.
func (Prober) Probe(ctx context.Context, conn net.Conn, env *probe.Env) probe.Result {
	probe.Deadline(ctx, conn, env)
	if _, err := conn.Write(fox.Hello()); err != nil {
		return probe.Fail(model.ProtoFox, fmt.Errorf("fox send: %w", err))
	}
	f, err := fox.ReadHello(bufio.NewReader(&probe.LimitConn{Conn: conn, N: env.Limit()}))
	if err != nil {
		return probe.Fail(model.ProtoFox, fmt.Errorf("fox read: %w", err))
	}
	for k, v := range f {
		f[k] = probe.Printable([]byte(v), 256)
	}
	banner := strings.TrimSpace(f["app.name"] + " " + f["app.version"] + " " + f["station.name"])
	return probe.Result{Protocol: model.ProtoFox, Status: model.StatusSuccess, Banner: banner, Data: &Record{Hello: f}}
}
