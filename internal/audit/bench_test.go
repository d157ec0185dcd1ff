package audit

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"iotwatch/internal/login"
	"iotwatch/internal/model"
)

// BenchmarkRunEngine measures the engine's own overhead per attempt (fake
// module that answers at once): scheduling, pacing, bookkeeping.
func BenchmarkRunEngine(b *testing.B) {
	for _, hosts := range []int{1, 100} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			m := newFake(model.ProtoTelnet)
			var svcs []model.Service
			for i := range hosts {
				svcs = append(svcs, m.add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 23).String(), &fakeDevice{}))
			}
			b.ReportAllocs()
			var attempts int64
			for b.Loop() {
				st, err := Run(context.Background(), Config{Modules: []login.Module{m}}, svcs, func(model.CredentialResult) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				attempts += st.Attempts
			}
			b.ReportMetric(float64(attempts)/b.Elapsed().Seconds(), "attempts/s")
		})
	}
}

// BenchmarkDictionaryFor measures building a service's candidate list.
func BenchmarkDictionaryFor(b *testing.B) {
	d := Builtin()
	fp := &model.Fingerprint{Vendor: "Hikvision", Product: "DS-2CD2046G2"}
	b.ReportAllocs()
	for b.Loop() {
		_ = d.For(model.ProtoHTTP, fp)
	}
}
