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

// UDPServer answers each datagram sent to a UDP listener on 127.0.0.1 with
// the datagrams reply returns (none: silence), until the test ends, and
// returns the listener's address.
func UDPServer(t testing.TB, reply func(q []byte) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, b := range reply(append([]byte(nil), buf[:n]...)) {
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}
