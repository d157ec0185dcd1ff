package flow

import (
	"math"
	"math/rand/v2"
)

// Sampler emulates packet-sampled flow export (NetFlow/IPFIX/sFlow at 1 in
// N, as ISPs run it: 1:100 to 1:10,000) on unsampled records, for measuring
// the detectors on sampled telemetry: each packet of a record is kept with
// probability 1/N; a record none of whose packets is kept disappears, the
// others carry their kept packets (and a proportional share of bytes) scaled
// by N, with SamplingRate N, as a sampling exporter reports them.
type Sampler struct {
	Sink
	rate uint32
	rng  *rand.Rand
	// Kept and Dropped count records.
	Kept, Dropped int64
}

// NewSampler samples into sink at 1 in rate packets; seed makes it repeatable.
func NewSampler(sink Sink, rate uint32, seed uint64) *Sampler {
	return &Sampler{Sink: sink, rate: max(rate, 1), rng: rand.New(rand.NewPCG(seed, uint64(rate)))}
}

// Flow implements Sink.
func (s *Sampler) Flow(r Record) {
	if s.rate <= 1 {
		s.Kept++
		s.Sink.Flow(r)
		return
	}
	p := 1 / float64(s.rate)
	k, rk := s.binomial(r.Packets, p), s.binomial(r.RevPackets, p)
	if k == 0 && rk == 0 {
		s.Dropped++
		return
	}
	n := uint64(s.rate)
	scale := func(bytes, pkts, kept uint64) uint64 {
		if pkts == 0 {
			return 0
		}
		return uint64(float64(bytes) * float64(kept) / float64(pkts) * float64(n))
	}
	r.Bytes, r.RevBytes = scale(r.Bytes, r.Packets, k), scale(r.RevBytes, r.RevPackets, rk)
	r.Packets, r.RevPackets = k*n, rk*n
	if k == 0 { // only the answer was sampled: the record is the reverse direction's
		r.Src, r.Dst, r.SrcPort, r.DstPort = r.Dst, r.Src, r.DstPort, r.SrcPort
		r.Packets, r.Bytes, r.RevPackets, r.RevBytes = r.RevPackets, r.RevBytes, 0, 0
	}
	r.Attempts = 0     // not known from sampled packets
	r.MiraiSeq = false // flow exports carry no sequence numbers
	r.App = ""         // nor payloads (SSH banners, DHT messages)
	r.SamplingRate = s.rate
	s.Kept++
	s.Sink.Flow(r)
}

// binomial draws from Binomial(n, p).
func (s *Sampler) binomial(n uint64, p float64) uint64 {
	if n == 0 {
		return 0
	}
	if n <= 64 {
		var k uint64
		for range n {
			if s.rng.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	if mean < 30 { // Poisson approximation by inversion
		l, k, q := math.Exp(-mean), uint64(0), s.rng.Float64()
		for acc := l; q > acc && k < n; {
			k++
			l *= mean / float64(k)
			acc += l
		}
		return k
	}
	x := math.Round(mean + s.rng.NormFloat64()*math.Sqrt(mean*(1-p)))
	return uint64(min(float64(n), max(0, x)))
}
