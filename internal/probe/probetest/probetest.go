// Package probetest holds the test helpers the probe/<proto> packages share:
// one probe of a loopback peer, and the record of a successful result.
package probetest

import (
	"context"
	"net"
	"reflect"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/probe"
)

// Probe dials addr on network ("tcp", "udp"), runs p on the connection with
// env and closes the connection. A failed dial fails the test.
func Probe(t testing.TB, p probe.Prober, network, addr string, env *probe.Env) probe.Result {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return p.Probe(context.Background(), conn, env)
}

// Record returns the record of res, failing the test unless res is a
// success that carries a non-nil record of type R.
func Record[R probe.Record](t testing.TB, res probe.Result) R {
	t.Helper()
	rec, ok := res.Data.(R)
	if v := reflect.ValueOf(res.Data); res.Status != model.StatusSuccess || !ok || v.Kind() == reflect.Pointer && v.IsNil() {
		t.Fatalf("status %v err %v record %T, want success with a %T", res.Status, res.Err, res.Data, rec)
	}
	return rec
}
