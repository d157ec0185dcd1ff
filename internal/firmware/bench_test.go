package firmware

import (
	"context"
	"testing"

	"iotwatch/internal/firmware/fwtest"
)

// BenchmarkAnalyze measures the whole analysis (unpack, components,
// credentials with a 1 s crack budget, rules, SBOM) of the test router image.
func BenchmarkAnalyze(b *testing.B) {
	for _, comp := range []string{"gzip", "xz"} {
		b.Run("squashfs="+comp, func(b *testing.B) {
			img := fwtest.Image(b, true, comp)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Analyze(context.Background(), img, Options{CrackBudget: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
