package detect

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Scored beaconing, in the manner of RITA (Active Countermeasures): a
// device→peer service is judged on four sub-scores in [0,1], combined into
// one score compared with beacon.threshold.
//
//   - interval: regularity of the intervals between connections — Bowley
//     (quartile) skewness, 1-|skew|, and the median absolute deviation
//     against the period, 1-MAD/(period·beacon.mad_scale); the mean of the
//     two. Intervals that are a whole multiple (2 or 3) of the period within
//     ±10% are divided by it first: missed beats do not count as irregular.
//   - size: regularity of the bytes per connection, 1/(1+CV) (coefficient
//     of variation from the running mean and variance). Unknown (no bytes)
//     leaves it out of the mean.
//   - count: connections seen over those the period predicts across the
//     series' span, min(1, n/(span/period+1)): a beacon that misses one
//     beat in ten scores 0.9, random arrivals (median interval below the mean)
//     about 0.7.
//   - histogram: connection times binned in windows of 5 periods (at least
//     3 whole bins; empty bins, an on/off schedule's pauses, left out); a
//     schedule, even jittered ±50% or sending in bursts, fills them evenly: 1-CV(bin counts)/0.6. Poisson arrivals give a CV near
//     1/√5 ≈ 0.45.
//
// Score = 0.4·interval + 0.25·histogram + 0.15·count + 0.2·size (weights
// of the known sub-scores renormalised); interval = 0.25·skew + 0.75·MAD
// score. Connections closer than 100 ms are one beat. The threshold and the
// rates it gives on generated series are documented in rules.yaml.

// beaconScores are one series' sub-scores.
type beaconScores struct {
	Interval, Size, Count, Histogram, Score float64
	HasSize                                 bool
	// Spread is the intervals' median absolute deviation over the period
	// (missed beats folded): 0 for a timer that never drifts.
	Spread        float64
	Period        time.Duration
	Beats, Folded int
}

func (b beaconScores) m() map[string]float64 {
	m := map[string]float64{"interval": r3(b.Interval), "count": r3(b.Count), "histogram": r3(b.Histogram), "score": r3(b.Score)}
	if b.HasSize {
		m["size"] = r3(b.Size)
	}
	return m
}

func r3(x float64) float64 { return math.Round(x*1000) / 1000 }

// sizeStats are a series' running byte statistics.
type sizeStats struct {
	n          int
	sum, sumSq float64
}

// scoreBeacon scores sorted-or-not connection times (Unix ns, sorted in
// place in sc) under the rules; ok is false when the series cannot be judged
// (too few beats, period outside the range).
func (e *Engine) scoreBeacon(times []int64, sz sizeStats, sc *periodicScratch) (beaconScores, bool) {
	rl := e.rules.Beacon
	var b beaconScores
	if sc == nil {
		sc = &periodicScratch{}
	}
	ts := append(sc.ts[:0], times...)
	slices.Sort(ts)
	sc.ts = ts
	// Beats: connections closer than 100 ms to the previous are one beat.
	beats := append(sc.beats[:0], ts[0])
	for _, t := range ts[1:] {
		if t-beats[len(beats)-1] > int64(time.Second/10) {
			beats = append(beats, t)
		}
	}
	sc.beats = beats
	if len(beats) < rl.MinConnections {
		return b, false
	}
	iv := sc.iv[:0]
	for i := 1; i < len(beats); i++ {
		iv = append(iv, beats[i]-beats[i-1])
	}
	sc.iv = iv
	sorted := append(sc.sorted[:0], iv...)
	slices.Sort(sorted)
	med0 := float64(sorted[len(sorted)/2])
	// Fold missed beats.
	f := sc.f[:0]
	for _, d := range iv {
		x := float64(d)
		if k := math.Round(x / med0); k >= 2 && k <= 3 && math.Abs(x/k-med0) <= 0.1*med0 {
			x /= k
			b.Folded++
		}
		f = append(f, x)
	}
	sc.f = f
	slices.Sort(f)
	q := func(p float64) float64 { return f[min(len(f)-1, int(p*float64(len(f))))] }
	q1, q2, q3 := q(0.25), q(0.5), q(0.75)
	period := q2
	if period < float64(rl.MinPeriod) || period > float64(rl.MaxPeriod) || period <= 0 {
		return b, false
	}
	skew := 0.0
	if q3 > q1 {
		skew = (q1 + q3 - 2*q2) / (q3 - q1)
	}
	dev := sc.dev[:0]
	for _, x := range f {
		dev = append(dev, math.Abs(x-period))
	}
	sc.dev = dev
	slices.Sort(dev)
	mad := dev[len(dev)/2]
	b.Interval = 0.25*clamp01(1-math.Abs(skew)) + 0.75*clamp01(1-mad/(period*rl.MADScale))
	b.Spread = mad / period

	span := float64(beats[len(beats)-1] - beats[0])
	b.Count = clamp01(float64(len(beats)) / (span/period + 1))

	width := 5 * period
	nb := int(span / width) // whole bins only: the tail is left out
	if nb < 3 {
		nb, width = 3, span/3
	}
	counts := sc.bins[:0]
	for range nb {
		counts = append(counts, 0)
	}
	for _, t := range beats {
		if i := int(float64(t-beats[0]) / width); i < nb {
			counts[i]++
		}
	}
	sc.bins = counts
	// Empty bins are pauses of an on/off (bursty) schedule, not irregularity
	// of its beats: the spread is measured over the bins that hold beats.
	// (Random arrivals at five per bin leave under 1% of bins empty.)
	full := counts[:0:0]
	for _, c := range counts {
		if c > 0 {
			full = append(full, c)
		}
	}
	b.Histogram = clamp01(1 - cv(full)/0.6)

	wsum, score := 0.8, 0.4*b.Interval+0.25*b.Histogram+0.15*b.Count
	if sz.n > 0 && sz.sum > 0 {
		mean := sz.sum / float64(sz.n)
		sd := math.Sqrt(max(0, sz.sumSq/float64(sz.n)-mean*mean))
		b.Size, b.HasSize = 1/(1+sd/mean), true
		score += 0.2 * b.Size
		wsum += 0.2
	}
	b.Score = score / wsum
	b.Period = time.Duration(period)
	b.Beats = len(beats)
	return b, true
}

func cv(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s, ss float64
	for _, x := range xs {
		s += x
		ss += x * x
	}
	n := float64(len(xs))
	mean := s / n
	if mean == 0 {
		return 0
	}
	return math.Sqrt(max(0, ss/n-mean*mean)) / mean
}

func clamp01(x float64) float64 { return min(1, max(0, x)) }

// reason describes a judged series for the alert.
func (b beaconScores) reason(threshold float64) string {
	size := "size n/a"
	if b.HasSize {
		size = fmt.Sprintf("size %.2f", b.Size)
	}
	return fmt.Sprintf("%d beats every %s (%d missed beats folded): score %.2f (threshold %.2f; interval %.2f, histogram %.2f, count %.2f, %s)",
		b.Beats, b.Period.Round(time.Second/10), b.Folded, b.Score, threshold, b.Interval, b.Histogram, b.Count, size)
}

// timerHeartbeat returns why a beacon is a device firmware's heartbeat
// under beacon.heartbeat, or "": a timer that does not drift (interval
// spread at most max_spread of the period), a long period (at least
// min_period), and the same small exchange every time (sizes known, their
// coefficient of variation at most max_size_cv, on average at most
// max_avg_bytes). Vendor clouds are polled like that (a Philips Hue bridge
// checks in with its two AWS hosts on the hour, ±0.2 s, 1,847 bytes each
// time); C2 is not: operators want answers within minutes, C2 frameworks
// jitter their sleep on purpose so as not to be seen as regular, and a
// channel that delivers commands or payloads varies in size. A C2 that
// keeps none of these (an hourly, undrifting, fixed-size poll that never
// receives a command) is suppressed too, and logged with this reason.
func (e *Engine) timerHeartbeat(b beaconScores, avg float64) string {
	h := e.rules.Beacon.Heartbeat
	if h.MinPeriod <= 0 || !b.HasSize || b.Period < time.Duration(h.MinPeriod) || b.Spread > h.MaxSpread {
		return ""
	}
	sizeCV := 1/b.Size - 1
	if sizeCV > h.MaxSizeCV || avg > float64(h.MaxAvgBytes) {
		return ""
	}
	return fmt.Sprintf("beacon.heartbeat: a device timer's heartbeat (every %s with interval spread %.2f%% ≤ %.0f%%, period ≥ %s; same exchange each time: %.0f bytes on average, size CV %.2f ≤ %.2f)",
		b.Period.Round(time.Second), 100*b.Spread, 100*h.MaxSpread, h.MinPeriod, avg, sizeCV, h.MaxSizeCV)
}
