package scan

import (
	"context"
	"fmt"
	"testing"

	"iotwatch/internal/model"
)

// BenchmarkDiscovery measures TCP connect discovery of closed loopback ports
// (1,024 addresses × 3 ports per op).
func BenchmarkDiscovery(b *testing.B) {
	for _, conc := range []int{64, 1000} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			b.ReportAllocs()
			items := 0
			for b.Loop() {
				st, err := Run(context.Background(), Config{Targets: []string{"127.1.0.0/22"}, TCPPorts: []uint16{1, 2, 3},
					DiscoveryOnly: true, Concurrency: conc, Seed: 5}, func(model.Service) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				items += int(st.Items)
			}
			b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "probes/s")
		})
	}
}
