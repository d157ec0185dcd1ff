// Package stats is the one definition of iotwatch's population statistics:
// the Wilson score interval, the subnet and device keys that group
// addresses, the pre-login identity of a device (vendor, product, type) and
// the weak-credential share with its breakdowns. `audit --summary`, the
// report and the dashboard API all call Summarize, so they print the same
// numbers for the same evidence.
package stats

import "math"

// Z95 is the standard normal quantile for a two-sided 95% interval.
const Z95 = 1.959963984540054

// Interval is a confidence interval for a proportion.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Wilson returns the 95% Wilson score interval for k successes in n trials.
// n == 0 gives [0, 1]: nothing is known. k is clamped to [0, n].
func Wilson(k, n int) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	k = max(0, min(k, n))
	nf := float64(n)
	p := float64(k) / nf
	z := float64(Z95) // float64 arithmetic, as every other implementation computes it
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	iv := Interval{math.Max(0, center-half), math.Min(1, center+half)}
	// The bounds are exact at the ends (rounding gives 5.6e-17 for k = 0).
	if k == 0 {
		iv.Low = 0
	}
	if k == n {
		iv.High = 1
	}
	return iv
}

// Ratio returns k/n, or 0 when n is 0.
func Ratio(k, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(k) / float64(n)
}
