package stats

import (
	"math"
	"testing"
)

func TestWilson(t *testing.T) {
	// Reference values: Wilson score interval, z = 1.959964 (R
	// binom::binom.wilson, statsmodels proportion_confint(method="wilson")).
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.27753},
		{10, 10, 0.72247, 1},
		{5, 10, 0.23659, 0.76341},
		{1, 10, 0.01788, 0.40415},
		{40, 100, 0.30944, 0.49804},
		{5, 11, 0.21271, 0.71991},
		{3, 4, 0.30064, 0.95441},
		// Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3.
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{0, 0, 0, 1},
		{7, 3, 0.43849, 1}, // k > n is clamped to n
	}
	for _, tt := range tests {
		got := Wilson(tt.k, tt.n)
		if math.Abs(got.Low-tt.lo) > 5.1e-5 || math.Abs(got.High-tt.hi) > 5.1e-5 {
			t.Errorf("Wilson(%d, %d) = [%.5f, %.5f], want [%.5f, %.5f]", tt.k, tt.n, got.Low, got.High, tt.lo, tt.hi)
		}
	}
}
